// cntgraph: a population of runs grouped by a run or epoch property: per group, epoch and layer, the fluctuation over the runs and the pooled strengths and weights.
// Parameters: $runs - run names, a name ending in * standing for every run it begins ('ens-*');
// $by - 'run.<property>' or 'epoch.<property>' (e.g. 'epoch.accuracy', 'run.scale'); $width - bucket
// width (a value v joins group floor(v / width) * width), 0 for the values themselves.
// Per group, epoch and layer: runs, the fluctuation's mean, std (ddof 1; null for one run), min, median, max over them,
// and the strengths (s_*) and weights (w_*) of all their units pooled: count, mean, std (ddof 0),
// from each run's exact LayerState summaries. Runs without the property are left out.
// Example: in Browser: :params {runs: ['ens-*'], by: 'epoch.accuracy', width: 0.1}, or: graph.population(["ens-*"], "epoch.accuracy", 0.1)
MATCH (run:Run)
WHERE any(pattern IN $runs WHERE run.name = pattern OR (pattern ENDS WITH '*' AND run.name STARTS WITH left(pattern, size(pattern) - 1)))
MATCH (run)-[:HAS_EPOCH]->(e:Epoch {complete: true})
WITH run, e, split($by, '.') AS by
WITH run, e, CASE by[0] WHEN 'run' THEN run[by[1]] WHEN 'epoch' THEN e[by[1]] END AS value
WHERE value IS NOT NULL AND value = value  // NaN (a diverged run's loss) is no group
WITH run, e, CASE WHEN $width > 0 THEN round(floor(round(value / $width, 9)) * $width, 9) ELSE value END AS group
MATCH (run)-[:HAS_LAYER]->(layer:Layer)-[:HAS_STATE]->(state:LayerState {epoch: e.epoch})
WITH group, e.epoch AS epoch, layer.index AS layer, count(state) AS runs,
     avg(state.fluctuation) AS fluctuation_mean, stDev(state.fluctuation) AS fluctuation_std,
     min(state.fluctuation) AS fluctuation_min, percentileCont(state.fluctuation, 0.5) AS fluctuation_median,
     max(state.fluctuation) AS fluctuation_max,
     collect([state.s_count, state.s_mean, state.s_std]) AS s, collect([state.w_count, state.w_mean, state.w_std]) AS w
WITH *, reduce(n = 0, x IN s | n + coalesce(x[0], 0)) AS s_count, reduce(n = 0, x IN w | n + coalesce(x[0], 0)) AS w_count
WITH *, CASE WHEN s_count > 0 THEN reduce(total = 0.0, x IN s | total + coalesce(x[0] * x[1], 0.0)) / s_count END AS s_mean,
     CASE WHEN w_count > 0 THEN reduce(total = 0.0, x IN w | total + coalesce(x[0] * x[1], 0.0)) / w_count END AS w_mean
RETURN group, epoch, layer, runs, fluctuation_mean, CASE WHEN runs > 1 THEN fluctuation_std END AS fluctuation_std, fluctuation_min, fluctuation_median, fluctuation_max,
       CASE WHEN s_count > 0 THEN s_count END AS s_count, s_mean,
       CASE WHEN s_count > 0 THEN sqrt(reduce(total = 0.0, x IN s | total + coalesce(x[0] * (x[2] ^ 2 + (x[1] - s_mean) ^ 2), 0.0)) / s_count) END AS s_std,
       CASE WHEN w_count > 0 THEN w_count END AS w_count, w_mean,
       CASE WHEN w_count > 0 THEN sqrt(reduce(total = 0.0, x IN w | total + coalesce(x[0] * (x[2] ^ 2 + (x[1] - w_mean) ^ 2), 0.0)) / w_count) END AS w_std
ORDER BY group, epoch, layer

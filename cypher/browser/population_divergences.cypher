// cntgraph: a population of runs grouped by a run or epoch property: per epoch, layer and pair of groups, the divergence between their pooled strength (s) and weight (w) histograms.
// Parameters: $runs - run names, a name ending in * standing for every run it begins ('ens-*');
// $by - 'run.<property>' or 'epoch.<property>'; $width - bucket width, 0 for the values themselves
// (as browser/population). Each run's stored histogram (LayerState.s_hist on Layer.s_edges; w_hist
// on w_edges) is spread over one grid per layer and quantity, spanning every run's edges with as
// many equal bins as the finest of them has, in proportion to each bin's overlap with the grid's
// bins (uniform within a bin; exact where the runs share their edges). A group's histogram sums its
// runs'. Densities get half a count per bin (Jeffreys' prior), as cntgraph.core.divergence.densities;
// jeffreys = sum (p - q) ln(p / q), jensen_shannon = (KL(p||m) + KL(q||m)) / 2, m = (p + q) / 2.
// Example: in Browser: :params {runs: ['ens-*'], by: 'epoch.accuracy', width: 0.1}, or: graph.population(["ens-*"], "epoch.accuracy", 0.1).divergences
MATCH (run:Run)
WHERE any(pattern IN $runs WHERE run.name = pattern OR (pattern ENDS WITH '*' AND run.name STARTS WITH left(pattern, size(pattern) - 1)))
MATCH (run)-[:HAS_EPOCH]->(e:Epoch {complete: true})
WITH run, e, split($by, '.') AS by
WITH run, e, CASE by[0] WHEN 'run' THEN run[by[1]] WHEN 'epoch' THEN e[by[1]] END AS value
WHERE value IS NOT NULL AND value = value  // NaN (a diverged run's loss) is no group
WITH run, e, CASE WHEN $width > 0 THEN round(floor(round(value / $width, 9)) * $width, 9) ELSE value END AS group
MATCH (run)-[:HAS_LAYER]->(layer:Layer)-[:HAS_STATE]->(state:LayerState {epoch: e.epoch})
UNWIND [['s', layer.s_edges, state.s_hist], ['w', layer.w_edges, state.w_hist]] AS histogram
WITH group, e.epoch AS epoch, layer.index AS layer, histogram[0] AS quantity, histogram[1] AS edges, histogram[2] AS counts
WHERE edges IS NOT NULL AND counts IS NOT NULL
WITH layer, quantity, collect({group: group, epoch: epoch, edges: edges, counts: counts}) AS rows,
     min(edges[0]) AS low, max(edges[-1]) AS high, max(size(edges)) - 1 AS bins
WITH layer, quantity, rows, low, high, bins, [k IN range(0, bins) | CASE WHEN k = bins THEN high ELSE low + k * ((high - low) / bins) END] AS grid
UNWIND rows AS row
WITH layer, quantity, bins, grid, row, row.edges AS edges, row.counts AS counts, size(row.counts) AS own
WITH layer, quantity, bins, grid, row, edges, counts, own, (edges[-1] - edges[0]) / own AS width
// bin j of the run covers edges[j]..edges[j + 1]; grid bin k takes the part of it that overlaps grid[k]..grid[k + 1]
// (only the run's bins near grid bin k can overlap it: its edges are equally spaced, up to rounding)
WITH layer, quantity, bins, row.group AS group, row.epoch AS epoch,
     [k IN range(0, bins - 1) | reduce(total = 0.0, j IN range(
        CASE WHEN toInteger(floor((grid[k] - edges[0]) / width)) > 1 THEN toInteger(floor((grid[k] - edges[0]) / width)) - 1 ELSE 0 END,
        CASE WHEN toInteger(floor((grid[k + 1] - edges[0]) / width)) + 1 < own - 1 THEN toInteger(floor((grid[k + 1] - edges[0]) / width)) + 1 ELSE own - 1 END) |
        CASE WHEN edges[j + 1] <= grid[k] OR edges[j] >= grid[k + 1] THEN total
             ELSE total + counts[j] * ((CASE WHEN edges[j + 1] < grid[k + 1] THEN edges[j + 1] ELSE grid[k + 1] END)
                                           - (CASE WHEN edges[j] > grid[k] THEN edges[j] ELSE grid[k] END)) / (edges[j + 1] - edges[j]) END)] AS spread
WITH layer, quantity, bins, group, epoch, collect(spread) AS spreads, count(*) AS runs
WITH layer, quantity, bins, group, epoch, runs,
     reduce(sum = [k IN range(0, bins - 1) | 0.0], h IN spreads | [k IN range(0, bins - 1) | sum[k] + h[k]]) AS counts
WITH layer, quantity, bins, group, epoch, runs, counts, reduce(n = 0.0, c IN counts | n + c) AS total
WITH layer, quantity, epoch, bins, group, runs, [c IN counts | (c + 0.5) / (total + 0.5 * bins)] AS density
ORDER BY group
WITH layer, quantity, epoch, bins, collect({group: group, runs: runs, density: density}) AS groups
UNWIND range(0, size(groups) - 2) AS a
UNWIND range(a + 1, size(groups) - 1) AS b
WITH layer, quantity, epoch, bins, groups[a] AS first, groups[b] AS second
WITH layer, quantity, epoch, bins, first, second, first.density AS p, second.density AS q
RETURN quantity, epoch, layer, first.group AS group_a, second.group AS group_b, first.runs AS runs_a, second.runs AS runs_b, bins,
       reduce(total = 0.0, k IN range(0, bins - 1) | total + (p[k] - q[k]) * log(p[k] / q[k])) AS jeffreys,
       reduce(total = 0.0, k IN range(0, bins - 1) |
         total + (p[k] * log(2 * p[k] / (p[k] + q[k])) + q[k] * log(2 * q[k] / (p[k] + q[k]))) / 2) AS jensen_shannon
ORDER BY quantity, epoch, layer, group_a, group_b

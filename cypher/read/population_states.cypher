// The layer states of a population of runs, each with the run or epoch property that groups it:
// one row per run, complete epoch and node layer, for the Python side of a population analysis
// (cntgraph.core.groups.population_summary and population_divergences).
// Parameters: $runs - run names, a name ending in * standing for every run it begins
// ('ens-*'); $by - 'run.<property>' or 'epoch.<property>' (a property of the Run or of the Epoch node).
// Example: graph.query("read/population_states", runs=["ens-*"], by="epoch.accuracy")
MATCH (run:Run)
WHERE any(pattern IN $runs WHERE run.name = pattern OR (pattern ENDS WITH '*' AND run.name STARTS WITH left(pattern, size(pattern) - 1)))
MATCH (run)-[:HAS_EPOCH]->(e:Epoch {complete: true})
WITH run, e, split($by, '.') AS by
WITH run, e, CASE by[0] WHEN 'run' THEN run[by[1]] WHEN 'epoch' THEN e[by[1]] END AS value
MATCH (run)-[:HAS_LAYER]->(layer:Layer)-[:HAS_STATE]->(state:LayerState {epoch: e.epoch})
RETURN run.name AS run, e.epoch AS epoch, layer.index AS layer, value, state.fluctuation AS fluctuation,
       state.s_count AS s_count, state.s_mean AS s_mean, state.s_std AS s_std, state.s_hist AS s_hist, layer.s_edges AS s_edges,
       state.w_count AS w_count, state.w_mean AS w_mean, state.w_std AS w_std, state.w_hist AS w_hist, layer.w_edges AS w_edges
ORDER BY run, epoch, layer

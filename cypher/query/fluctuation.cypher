// The exact fluctuation (population std of node strength over all units) of every node layer at
// every complete epoch of a run, beside its null models: the fluctuation the weights' sizes alone
// predict (iid; iid_ratio = fluctuation / iid) and, where the Recorder drew weight-shuffled
// networks (null_draws), their mean and std and the z-score (null in runs recorded without them).
// Parameters: $run - run name.
// Example: graph.fluctuation("mlp-1"), or: cntgraph query query/fluctuation --param run=mlp-1
MATCH (run:Run {name: $run})-[:HAS_LAYER]->(:Layer)-[:HAS_STATE]->(s:LayerState)
MATCH (e:Epoch {rid: run.rid, epoch: s.epoch})
WHERE e.complete
RETURN s.epoch AS epoch, s.layer AS layer, s.fluctuation AS fluctuation,
       s.fluctuation_iid AS iid,
       CASE WHEN s.fluctuation_iid > 0 THEN s.fluctuation / s.fluctuation_iid END AS iid_ratio,
       s.fluctuation_null_mean AS null_mean, s.fluctuation_null_std AS null_std, s.fluctuation_z AS z
ORDER BY epoch, layer

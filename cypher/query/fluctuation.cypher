// The exact fluctuation (population std of node strength over all units) of every node layer at
// every complete epoch of a run.
// Parameters: $run - run name.
// Example: graph.fluctuation("mlp-1"), or: cntgraph query query/fluctuation --param run=mlp-1
MATCH (run:Run {name: $run})-[:HAS_LAYER]->(:Layer)-[:HAS_STATE]->(s:LayerState)
MATCH (e:Epoch {rid: run.rid, epoch: s.epoch})
WHERE e.complete
RETURN s.epoch AS epoch, s.layer AS layer, s.fluctuation AS fluctuation
ORDER BY epoch, layer

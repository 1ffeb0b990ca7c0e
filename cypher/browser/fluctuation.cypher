// cntgraph: the fluctuation (std of node strength) of every node layer over the complete epochs, a row per layer.
// Parameters: $run - run name.
// Example: in Browser: :param run => 'mlp-1', or: cntgraph query browser/fluctuation --param run=mlp-1
MATCH (run:Run {name: $run})-[:HAS_LAYER]->(layer:Layer)-[:HAS_STATE]->(s:LayerState)
MATCH (e:Epoch {rid: run.rid, epoch: s.epoch})
WHERE e.complete
WITH layer, s
ORDER BY s.epoch
RETURN layer.index AS layer, layer.name AS name, collect(s.epoch) AS epochs, collect(s.fluctuation) AS fluctuation
ORDER BY layer

// Every property of every layer state of a run's complete epochs, for `cntgraph export`.
// Parameters: $run - run name.
// Example: graph.query("read/export_layer_states", run="demo-mlp")
MATCH (run:Run {name: $run})-[:HAS_LAYER]->(:Layer)-[:HAS_STATE]->(s:LayerState)
MATCH (e:Epoch {rid: run.rid, epoch: s.epoch})
WHERE e.complete
RETURN s.epoch AS epoch, s.layer AS layer, properties(s) AS props
ORDER BY epoch, layer

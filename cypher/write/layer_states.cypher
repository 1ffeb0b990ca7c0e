// Creates (or, idempotently, overwrites) one epoch's LayerState nodes: fluctuation and summaries of strengths and weights over all units.
// Parameters: $rid, $epoch; $states - list of maps, each with `layer` and the metric properties.
// Example: graph.runner.run("write/layer_states", rid=42, epoch=3, states=[{"layer": 1, "fluctuation": 0.8, ...}])
UNWIND $states AS state
MATCH (l:Layer {rid: $rid, index: state.layer})
MERGE (s:LayerState {rid: $rid, layer: state.layer, epoch: $epoch})
SET s += state
MERGE (l)-[:HAS_STATE]->(s)
RETURN count(s) AS states

// One LayerState per (run, node layer, epoch).
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture.
CREATE CONSTRAINT cntgraph_layer_state_key IF NOT EXISTS FOR (s:LayerState) REQUIRE (s.rid, s.layer, s.epoch) IS UNIQUE

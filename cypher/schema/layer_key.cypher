// One Layer node per (run, node layer index).
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture.
CREATE CONSTRAINT cntgraph_layer_key IF NOT EXISTS FOR (l:Layer) REQUIRE (l.rid, l.index) IS UNIQUE

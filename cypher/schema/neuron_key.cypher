// One Neuron node per (run, node layer, unit); links find their endpoints by this key.
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture.
CREATE CONSTRAINT cntgraph_neuron_key IF NOT EXISTS FOR (n:Neuron) REQUIRE (n.rid, n.layer, n.unit) IS UNIQUE

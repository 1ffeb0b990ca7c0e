// One NeuronState per (run, layer, unit, epoch); also the seek behind a neuron's history.
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture.
CREATE CONSTRAINT cntgraph_neuron_state_key IF NOT EXISTS FOR (s:NeuronState) REQUIRE (s.rid, s.layer, s.unit, s.epoch) IS UNIQUE

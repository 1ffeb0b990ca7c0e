// All neuron states of one epoch of a run (top movers, replacing an epoch).
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture.
CREATE INDEX cntgraph_neuron_state_epoch IF NOT EXISTS FOR (s:NeuronState) ON (s.rid, s.epoch)

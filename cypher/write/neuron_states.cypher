// Creates one epoch's NeuronState nodes of stored units of one node layer: exact strengths, bias
// and `w_in`, the weights of the neuron's stored incoming links (aligned with Neuron.in_layers and in_units).
// Parameters: $rid, $epoch, $layer; $unit, $s_in, $s_out, $s, $bias, $w_in - equal-length lists
// (bias may hold nulls; w_in holds a list of floats per unit, or null in the input layer).
// Example: graph.runner.run("write/neuron_states", rid=42, epoch=3, layer=1, unit=[4], s_in=[0.2], s_out=[1.0], s=[1.2], bias=[0.1], w_in=[[0.05, 0.05]])
UNWIND range(0, size($unit) - 1) AS i
MATCH (n:Neuron {rid: $rid, layer: $layer, unit: $unit[i]})
CREATE (n)-[:HAS_STATE]->(:NeuronState {
  rid: $rid, layer: $layer, unit: $unit[i], epoch: $epoch,
  s_in: $s_in[i], s_out: $s_out[i], s: $s[i], bias: $bias[i], w_in: $w_in[i]
})
RETURN count(*) AS states

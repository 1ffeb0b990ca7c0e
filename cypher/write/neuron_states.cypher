// Creates one epoch's NeuronState nodes (exact strengths and bias) of one node layer's sampled units.
// Parameters: $rid, $epoch, $layer; $unit, $s_in, $s_out, $s, $bias - equal-length lists (bias may hold nulls).
// Example: graph.run("write/neuron_states", rid=42, epoch=3, layer=1, unit=[4], s_in=[0.2], s_out=[1.0], s=[1.2], bias=[0.1])
UNWIND range(0, size($unit) - 1) AS i
MATCH (n:Neuron {rid: $rid, layer: $layer, unit: $unit[i]})
CREATE (n)-[:HAS_STATE]->(:NeuronState {
  rid: $rid, layer: $layer, unit: $unit[i], epoch: $epoch,
  s_in: $s_in[i], s_out: $s_out[i], s: $s[i], bias: $bias[i]
})
RETURN count(*) AS states

// Creates (or, idempotently, overwrites) one epoch's NeuronState nodes of stored units of one node layer: exact strengths, bias,
// `w_in`, the weights of the neuron's stored incoming links (aligned with Neuron.in_layers and in_units),
// and `w_in_sum`, their sum (`cntgraph verify` checks the stored weights against it).
// Parameters: $rid, $epoch, $layer; $unit, $s_in, $s_out, $s, $bias, $w_in, $w_in_sum - equal-length lists
// (bias may hold nulls; w_in holds a list of floats per unit, or null in the input layer, as w_in_sum does).
// Example: graph.runner.run("write/neuron_states", rid=42, epoch=3, layer=1, unit=[4], s_in=[0.2], s_out=[1.0], s=[1.2], bias=[0.1], w_in=[[0.05, 0.05]], w_in_sum=[0.1])
UNWIND range(0, size($unit) - 1) AS i
MATCH (n:Neuron {rid: $rid, layer: $layer, unit: $unit[i]})
MERGE (state:NeuronState {rid: $rid, layer: $layer, unit: $unit[i], epoch: $epoch})
SET state.s_in = $s_in[i], state.s_out = $s_out[i], state.s = $s[i], state.bias = $bias[i], state.w_in = $w_in[i],
    state.w_in_sum = $w_in_sum[i]
MERGE (n)-[:HAS_STATE]->(state)
RETURN count(*) AS states

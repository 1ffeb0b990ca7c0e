// Creates the sampled Neuron nodes of one node layer (idempotent), linked from their Layer, each
// also labelled by its node layer (`L0` for the input, `L1`, ...: Browser colours labels), with
// the sources of their stored links: `in_layers[i]` and `in_units[i]` are the node layer and unit
// of the i-th stored link into each neuron, in the order of NeuronState.w_in (null in the input
// layer; in a chain every in_layers entry is $layer - 1).
// Parameters: $rid - run id; $layer - node layer index; $units - list of flat unit indices;
// $in_layers, $in_units - per unit, the lists of its stored sources' node layers and units (or null).
// Example: graph.runner.run("write/neurons", rid=42, layer=1, units=[0, 5], in_layers=[[0, 0], [0, 0]], in_units=[[0, 1], [0, 1]])
MATCH (l:Layer {rid: $rid, index: $layer})
UNWIND range(0, size($units) - 1) AS i
MERGE (n:Neuron {rid: $rid, layer: $layer, unit: $units[i]})
ON CREATE SET n.run = l.run
SET n:$('L' + toString($layer)), n.in_layers = $in_layers[i], n.in_units = $in_units[i]
MERGE (l)-[:HAS_NEURON]->(n)
RETURN count(n) AS neurons

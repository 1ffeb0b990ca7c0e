// Creates the sampled Neuron nodes of one node layer (idempotent), linked from their Layer, with
// the sources of their stored links: `in_units` lists the stored units of node layer $layer - 1
// that link into each neuron, in the order of NeuronState.w_in (null in the input layer).
// Parameters: $rid - run id; $layer - node layer index; $units - list of flat unit indices;
// $in_units - per unit, the list of its stored source units (or null).
// Example: graph.runner.run("write/neurons", rid=42, layer=1, units=[0, 5], in_units=[[0, 1], [0, 1]])
MATCH (l:Layer {rid: $rid, index: $layer})
UNWIND range(0, size($units) - 1) AS i
MERGE (n:Neuron {rid: $rid, layer: $layer, unit: $units[i]})
ON CREATE SET n.run = l.run
SET n.in_units = $in_units[i]
MERGE (l)-[:HAS_NEURON]->(n)
RETURN count(n) AS neurons

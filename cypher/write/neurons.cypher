// Creates the sampled Neuron nodes of one node layer (idempotent), linked from their Layer.
// Parameters: $rid - run id; $layer - node layer index; $units - list of flat unit indices.
// Example: graph.run("write/neurons", rid=42, layer=1, units=[0, 5, 9])
MATCH (l:Layer {rid: $rid, index: $layer})
UNWIND $units AS unit
MERGE (n:Neuron {rid: $rid, layer: $layer, unit: unit})
ON CREATE SET n.run = l.run
MERGE (l)-[:HAS_NEURON]->(n)
RETURN count(n) AS neurons

// The stored (sampled) units of every node layer of a run, to resume recording with the same sample.
// Parameters: $rid - run id.
// Example: graph.query("read/samples", rid=42)
MATCH (l:Layer {rid: $rid})
OPTIONAL MATCH (l)-[:HAS_NEURON]->(n:Neuron)
WITH l, n ORDER BY n.unit
RETURN l.index AS layer, l.s_edges AS s_edges, l.w_edges AS w_edges, collect(n.unit) AS units
ORDER BY layer

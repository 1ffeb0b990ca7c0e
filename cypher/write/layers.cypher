// Creates (or refreshes) the Layer nodes of a run: one per node layer, 0 being the input.
// Parameters: $rid - run id; $layers - list of {index, name, kind, inputs, shape, size, sampled, w_edges, s_edges,
// and for a new run sample, uniform (the sampler of the layer's units, and whether it draws uniformly)}
// (inputs: the node layers whose links go into this one).
// Example: graph.runner.run("write/layers", rid=42, layers=[{"index": 0, "name": "input", ...}])
MATCH (run:Run {rid: $rid})
UNWIND $layers AS layer
MERGE (l:Layer {rid: $rid, index: layer.index})
SET l += layer, l.run = run.name
MERGE (run)-[:HAS_LAYER]->(l)
RETURN count(l) AS layers

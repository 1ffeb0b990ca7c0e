// The node layers of a run, input (0) first: name, kind, shape, number of units and of stored
// units, and `inputs`: the node layers whose links go into it (empty for the input; in a chain
// [layer - 1], which is what runs stored before Layer.inputs existed read as); `sample`, the
// sampler of its stored units, and `uniform`, whether that draws them uniformly (null in runs
// stored before they existed).
// Parameters: $run - run name.
// Example: graph.layers("mlp-1"), or: cntgraph query query/layers --param run=mlp-1
MATCH (run:Run {name: $run})-[:HAS_LAYER]->(l:Layer)
RETURN l.index AS layer, l.name AS name, l.kind AS kind, l.shape AS shape, l.size AS size, l.sampled AS sampled,
       coalesce(l.inputs, CASE WHEN l.index > 0 THEN [l.index - 1] ELSE [] END) AS inputs, l.sample AS sample, l.uniform AS uniform
ORDER BY layer

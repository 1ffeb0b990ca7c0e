// cntgraph: the $k stored links whose weight changed most between a run's first and last recorded epoch, as a graph.
// Reads the summaries on each LINK (first, last, delta, min, max, first_epoch, last_epoch), which
// a recorder refreshes when it closes; the captions show delta.
// Parameters: $run - run name; $k - how many.
// Example: in Browser: :params {run: 'mlp-1', k: 25}
MATCH (run:Run {name: $run})
MATCH (source:Neuron {rid: run.rid})-[link:LINK]->(target:Neuron)
WHERE link.delta IS NOT NULL
RETURN source, link, target, link.first AS first, link.last AS last, link.delta AS delta
ORDER BY abs(link.delta) DESC, source.layer, source.unit, target.layer, target.unit
LIMIT toInteger($k)

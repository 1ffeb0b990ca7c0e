// The complete epochs of a run, in order, each with all its properties (loss, accuracy, links, ...).
// Parameters: $run - run name.
// Example: graph.epochs("mlp-1"), or: cntgraph query query/epochs --param run=mlp-1
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(e:Epoch)
WHERE e.complete
RETURN e.epoch AS epoch, properties(e) AS props
ORDER BY epoch

// The Run node of one name, if any: its id, when it was created, and its complete epochs.
// Parameters: $name - run name.
// Example: graph.query("read/run", name="mlp-1")
MATCH (run:Run {name: $name})
OPTIONAL MATCH (run)-[:HAS_EPOCH]->(e:Epoch)
WHERE e.complete
RETURN run.rid AS rid, run.created_at AS created_at, max(e.epoch) AS last_epoch, count(e) AS epochs

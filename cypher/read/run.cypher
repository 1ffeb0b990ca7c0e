// The Run node of one name, if any: its id, when it was created, and its complete epochs.
// Also how many epochs are incomplete (left by a writer that stopped half-way) and whether the
// run's layout (layers and sampled neurons) is completely written.
// Parameters: $name - run name.
// Example: graph.query("read/run", name="mlp-1")
MATCH (run:Run {name: $name})
OPTIONAL MATCH (run)-[:HAS_EPOCH]->(e:Epoch)
RETURN run.rid AS rid, run.created_at AS created_at, max(CASE WHEN e.complete THEN e.epoch END) AS last_epoch,
       count(CASE WHEN e.complete THEN 1 END) AS epochs, count(CASE WHEN NOT e.complete THEN 1 END) AS incomplete,
       coalesce(run.layout_written, true) AS layout_written

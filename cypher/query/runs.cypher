// Every recorded run, by name: its id, when it was created, its model and sample, and its complete epochs.
// Parameters: none.
// Example: graph.runs(), or: cntgraph query query/runs
MATCH (run:Run)
OPTIONAL MATCH (run)-[:HAS_EPOCH]->(e:Epoch)
WHERE e.complete
WITH run, count(e) AS epochs, max(e.epoch) AS last_epoch
RETURN run.name AS run, run.rid AS rid, run.created_at AS created_at, run.model AS model,
       run.sample AS sample, epochs, last_epoch
ORDER BY run

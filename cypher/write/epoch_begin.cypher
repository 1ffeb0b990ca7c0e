// Opens an epoch: its Epoch node exists but is not complete, so readers ignore it for now.
// Capturing an epoch again resets its properties; `existed` tells the writer to clear old records.
// Parameters: $rid - run id; $epoch - epoch number; $props - map of epoch properties (loss, accuracy, ...).
// Example: graph.runner.run("write/epoch_begin", rid=42, epoch=3, props={"loss": 0.31})
MATCH (run:Run {rid: $rid})
OPTIONAL MATCH (old:Epoch {rid: $rid, epoch: $epoch})
WITH run, old IS NOT NULL AS existed
MERGE (e:Epoch {rid: $rid, epoch: $epoch})
SET e = {rid: $rid, epoch: $epoch, run: run.name, complete: false, captured_at: datetime()}, e += $props
MERGE (run)-[:HAS_EPOCH]->(e)
RETURN existed

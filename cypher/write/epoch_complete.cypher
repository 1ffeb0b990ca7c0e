// Marks an epoch complete, last of all its writes: from now on readers see it.
// Parameters: $rid, $epoch; $links - number of link weights written for it (the sizes of its w_in arrays).
// Example: graph.runner.run("write/epoch_complete", rid=42, epoch=3, links=65536)
MATCH (e:Epoch {rid: $rid, epoch: $epoch})
SET e.complete = true, e.links = $links, e.completed_at = datetime()
RETURN e.epoch AS epoch

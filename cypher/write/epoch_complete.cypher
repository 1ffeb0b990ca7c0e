// Marks an epoch complete, last of all its writes: from now on readers see it. Only when the
// epoch holds exactly the $neuron_states neuron states written for it: if another writer cleared or
// deleted the epoch meanwhile, no row comes back and the epoch stays incomplete (the writer says so).
// Parameters: $rid, $epoch; $links - number of link weights written for it (the sizes of its w_in
// arrays); $neuron_states - number of neuron states written for it.
// Example: graph.runner.run("write/epoch_complete", rid=42, epoch=3, links=65536, neuron_states=138)
MATCH (e:Epoch {rid: $rid, epoch: $epoch})
CALL (e) {
  MATCH (s:NeuronState {rid: $rid, epoch: $epoch})
  RETURN count(s) AS stored
}
WITH e, stored
WHERE stored = $neuron_states
SET e.complete = true, e.links = $links, e.completed_at = datetime()
RETURN e.epoch AS epoch

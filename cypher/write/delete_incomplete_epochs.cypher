// Deletes the incomplete epochs of one run (left by a writer killed half-way, never readable) with
// their neuron and layer states; returns how many epochs went.
// Parameters: $rid - run id.
// Example: graph.runner.run("write/delete_incomplete_epochs", rid=42)
MATCH (e:Epoch {rid: $rid})
WHERE NOT e.complete
CALL (e) {
  MATCH (s:NeuronState {rid: $rid, epoch: e.epoch})
  DETACH DELETE s
}
CALL (e) {
  MATCH (s:LayerState {rid: $rid, epoch: e.epoch})
  DETACH DELETE s
}
WITH e, e.epoch AS epoch
DETACH DELETE e
RETURN collect(epoch) AS epochs

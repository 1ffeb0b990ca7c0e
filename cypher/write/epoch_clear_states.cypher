// Deletes the NeuronState and LayerState nodes an earlier write of one epoch stored.
// Parameters: $rid - run id; $epoch - epoch number.
// Example: graph.runner.run("write/epoch_clear_states", rid=42, epoch=3)
CALL () {
  MATCH (s:NeuronState {rid: $rid, epoch: $epoch})
  DETACH DELETE s
}
CALL () {
  MATCH (s:LayerState {rid: $rid, epoch: $epoch})
  DETACH DELETE s
}
RETURN $epoch AS epoch

// Deletes the LINK relationships an earlier (complete or partial) write of one epoch stored, in
// batches; an auto-commit transaction, run after write/epoch_begin marked the epoch incomplete.
// Parameters: $rid - run id; $epoch - epoch number.
// Example: graph.run_autocommit("write/epoch_clear_links", rid=42, epoch=3)
MATCH ()-[w:LINK]->()
USING INDEX SEEK w:LINK(rid, epoch, lid)
WHERE w.rid = $rid AND w.epoch = $epoch AND w.lid IS NOT NULL
CALL (w) { DELETE w } IN TRANSACTIONS OF 20000 ROWS

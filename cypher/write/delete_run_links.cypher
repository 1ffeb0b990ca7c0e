// Deletes every LINK relationship of a run, in batches (auto-commit); then write/delete_run_nodes.
// Parameters: $rid - run id.
// Example: graph.run_autocommit("write/delete_run_links", rid=42)
MATCH ()-[w:LINK]->()
USING INDEX SEEK w:LINK(rid, epoch, lid)
WHERE w.rid = $rid AND w.epoch IS NOT NULL AND w.lid IS NOT NULL
CALL (w) { DELETE w } IN TRANSACTIONS OF 20000 ROWS

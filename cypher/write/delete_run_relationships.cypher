// Deletes every relationship that starts at a node of a run, in batches (auto-commit), so that
// write/delete_run_nodes then deletes nodes that have none: a run with many epochs (or with the
// LINK relationships of cntgraph's first layout) never needs one huge transaction.
// Parameters: $rid - run id.
// Example: graph.run_autocommit("write/delete_run_relationships", rid=42)
MATCH (n:Run|Layer|Neuron|Epoch|NeuronState|LayerState)-[r]->()
WHERE n.rid = $rid
CALL (r) { DELETE r } IN TRANSACTIONS OF 20000 ROWS

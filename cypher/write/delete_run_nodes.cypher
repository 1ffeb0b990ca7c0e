// Deletes a run's nodes (Run, Layer, Neuron, Epoch, NeuronState, LayerState), in batches (auto-commit),
// after write/delete_run_relationships (DETACH only catches relationships written in between).
// Parameters: $rid - run id.
// Example: graph.run_autocommit("write/delete_run_nodes", rid=42)
MATCH (n:Run|Layer|Neuron|Epoch|NeuronState|LayerState)
WHERE n.rid = $rid
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS

// Deletes a run's nodes (Run, Layer, Neuron, Epoch, NeuronState, LayerState), in batches (auto-commit).
// Parameters: $rid - run id.
// Example: graph.run_autocommit("write/delete_run_nodes", rid=42)
MATCH (n:Run|Layer|Neuron|Epoch|NeuronState|LayerState)
WHERE n.rid = $rid
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS

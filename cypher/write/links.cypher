// Creates the LINK relationships of a run: (source)-[:LINK {i}]->(neuron) for each stored link,
// `i` being its position in the neuron's in_layers/in_units and in every NeuronState.w_in of it
// (so the weight at an epoch is `state.w_in[link.i]`). Once per neuron (`linked` marks it), so it
// is idempotent and gives LINKs to runs stored before they existed (in_layers missing: a chain,
// the source layer is layer - 1). Auto-commit, a transaction per 100 neurons.
// Parameters: $rid - run id.
// Example: graph.runner.run_autocommit("write/links", rid=42)
MATCH (n:Neuron {rid: $rid})
WHERE n.linked IS NULL AND n.in_units IS NOT NULL
CALL (n) {
  UNWIND range(0, size(n.in_units) - 1) AS i
  MATCH (source:Neuron {rid: $rid, layer: coalesce(n.in_layers[i], n.layer - 1), unit: n.in_units[i]})
  CREATE (source)-[:LINK {i: i}]->(n)
  SET n.linked = true
} IN TRANSACTIONS OF 100 ROWS

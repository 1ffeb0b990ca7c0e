// cntgraph: one complete epoch of a run as a graph: its stored neurons and the LINKs between them, with each link's weight at that epoch.
// The graph view draws the neurons (coloured by node layer: labels L0, L1, ...) and their stored
// LINK relationships; the table view adds `w`, the weight at $epoch, read one hop from the link:
// the NeuronState of its target at that epoch holds it at w_in[link.i].
// Parameters: $run - run name; $epoch - epoch.
// Example: cntgraph browser mlp-1 --epoch 19, or in Browser: :params {run: 'mlp-1', epoch: 19}
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: toInteger($epoch), complete: true})
MATCH (source:Neuron {rid: run.rid})-[link:LINK]->(neuron:Neuron)-[:HAS_STATE]->(state:NeuronState {epoch: toInteger($epoch)})
RETURN source, link, neuron, state.w_in[link.i] AS w

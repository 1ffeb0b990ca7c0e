// cntgraph: one complete epoch of a run as a graph: its stored neurons and their links at that epoch.
// Parameters: $run - run name; $epoch - epoch.
// Example: cntgraph browser mlp-1 --epoch 19, or in Browser: :param run => 'mlp-1', :param epoch => 19
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: $epoch, complete: true})
MATCH (neuron:Neuron {rid: run.rid})
OPTIONAL MATCH (neuron)-[link:LINK {epoch: $epoch}]->(next:Neuron)
RETURN neuron, link, next

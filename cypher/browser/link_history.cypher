// cntgraph: the weight of the links from unit $src of node layer $layer to unit $dst of each node layer it feeds (in a chain, the next one), at every complete epoch.
// A row per destination layer and epoch (a node layer can feed several: residual additions,
// concatenations), read through the LINK: its target's NeuronState at each epoch holds the weight at w_in[link.i].
// Parameters: $run - run name; $layer - node layer of the source; $src - source unit; $dst - target unit.
// Example: in Browser: :params {run: 'mlp-1', layer: 0, src: 3, dst: 5}
MATCH (run:Run {name: $run})
MATCH (:Neuron {rid: run.rid, layer: toInteger($layer), unit: toInteger($src)})-[link:LINK]->(target:Neuron {unit: toInteger($dst)})
MATCH (target)-[:HAS_STATE]->(state:NeuronState)
MATCH (:Epoch {rid: run.rid, epoch: state.epoch, complete: true})
RETURN target.layer AS dst_layer, state.epoch AS epoch, state.w_in[link.i] AS w
ORDER BY dst_layer, epoch

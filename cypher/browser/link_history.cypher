// cntgraph: the weight of one link at every complete epoch: unit $src of node layer $layer to unit $dst of the next layer.
// Parameters: $run - run name; $layer - node layer of the source; $src - source unit; $dst - target unit.
// Example: in Browser: :param run => 'mlp-1', :param layer => 0, :param src => 3, :param dst => 5
MATCH (run:Run {name: $run})
MATCH (a:Neuron {rid: run.rid, layer: $layer, unit: $src})-[w:LINK]->(b:Neuron {unit: $dst})
MATCH (e:Epoch {rid: run.rid, epoch: w.epoch})
WHERE e.complete
RETURN w.epoch AS epoch, w.w AS w
ORDER BY epoch

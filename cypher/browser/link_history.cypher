// cntgraph: the weight of one link at every complete epoch: unit $src of node layer $layer to unit $dst of the next layer.
// Parameters: $run - run name; $layer - node layer of the source; $src - source unit; $dst - target unit.
// Example: in Browser: :param run => 'mlp-1', :param layer => 0, :param src => 3, :param dst => 5
MATCH (run:Run {name: $run})
MATCH (b:Neuron {rid: run.rid, layer: $layer + 1, unit: $dst})-[:HAS_STATE]->(s:NeuronState)
MATCH (e:Epoch {rid: run.rid, epoch: s.epoch})
WHERE e.complete
UNWIND [i IN range(0, coalesce(size(b.in_units), 0) - 1) WHERE b.in_units[i] = $src] AS at
RETURN s.epoch AS epoch, s.w_in[at] AS w
ORDER BY epoch

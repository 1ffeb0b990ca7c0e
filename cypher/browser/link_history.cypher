// cntgraph: the weight of the links from unit $src of node layer $layer to unit $dst of each node layer it feeds (in a chain, the next one), at every complete epoch.
// A row per destination layer and epoch (a node layer can feed several: residual additions, concatenations).
// Parameters: $run - run name; $layer - node layer of the source; $src - source unit; $dst - target unit.
// Example: in Browser: :param run => 'mlp-1', :param layer => 0, :param src => 3, :param dst => 5
MATCH (run:Run {name: $run})-[:HAS_LAYER]->(fed:Layer)
WHERE $layer IN coalesce(fed.inputs, CASE WHEN fed.index > 0 THEN [fed.index - 1] ELSE [] END)
MATCH (b:Neuron {rid: run.rid, layer: fed.index, unit: $dst})-[:HAS_STATE]->(s:NeuronState)
MATCH (e:Epoch {rid: run.rid, epoch: s.epoch})
WHERE e.complete
WITH b, s, [i IN range(0, coalesce(size(b.in_units), 0) - 1)
            WHERE b.in_units[i] = $src AND coalesce(b.in_layers[i], b.layer - 1) = $layer] AS at
WHERE size(at) = 1
RETURN b.layer AS dst_layer, s.epoch AS epoch, s.w_in[at[0]] AS w
ORDER BY dst_layer, epoch

// The weight of one stored link at every complete epoch: the link from unit $src_unit of node layer
// $src_layer into unit $dst_unit of node layer $dst_layer. The destination's Neuron (one unique
// seek) says where the source sits among its stored sources (in_layers[i], in_units[i]; runs
// stored before in_layers existed are chains, their sources in layer - 1); its NeuronStates (one
// seek of the (rid, layer, unit, epoch) index) hold the weight at that position of `w_in`.
// Parameters: $run - run name; $src_layer, $src_unit - the source node layer and flat unit;
// $dst_layer, $dst_unit - the destination node layer and flat unit.
// Example: graph.link_history("mlp-1", src=(0, 3), dst=(1, 5)), or:
//   cntgraph query query/link_history --param run=mlp-1 --param src_layer=0 --param src_unit=3 --param dst_layer=1 --param dst_unit=5
MATCH (run:Run {name: $run})
MATCH (b:Neuron {rid: run.rid, layer: $dst_layer, unit: $dst_unit})
WITH run.rid AS rid, [i IN range(0, coalesce(size(b.in_units), 0) - 1)
                      WHERE b.in_units[i] = $src_unit AND coalesce(b.in_layers[i], b.layer - 1) = $src_layer] AS at
WHERE size(at) = 1
MATCH (s:NeuronState)
USING INDEX SEEK s:NeuronState(rid, layer, unit, epoch)
WHERE s.rid = rid AND s.layer = $dst_layer AND s.unit = $dst_unit AND s.epoch IS NOT NULL
MATCH (e:Epoch {rid: rid, epoch: s.epoch})
WHERE e.complete
RETURN s.epoch AS epoch, s.w_in[at[0]] AS w
ORDER BY epoch

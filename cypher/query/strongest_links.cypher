// The k stored links of largest |w| at one complete epoch of a run (ties by destination layer,
// source layer, source unit, destination unit): the epoch's w_in arrays unrolled, as in
// query/epoch_links (the source of w_in[i] is unit in_units[i] of node layer in_layers[i], or of
// layer - 1 in runs stored before in_layers existed).
// Parameters: $run - run name; $epoch - epoch; $k - how many.
// Example: graph.strongest_links("mlp-1", epoch=19, k=10), or:
//   cntgraph query query/strongest_links --param run=mlp-1 --param epoch=19 --param k=10
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: $epoch, complete: true})
WITH run.rid AS rid
MATCH (b:Neuron)-[:HAS_STATE]->(s:NeuronState)
USING INDEX SEEK s:NeuronState(rid, epoch)
WHERE s.rid = rid AND s.epoch = $epoch AND s.w_in IS NOT NULL
UNWIND range(0, size(s.w_in) - 1) AS i
WITH coalesce(b.in_layers[i], s.layer - 1) AS src_layer, b.in_units[i] AS src_unit, s.layer AS dst_layer,
     s.unit AS dst_unit, s.w_in[i] AS w
ORDER BY abs(w) DESC, dst_layer, src_layer, src_unit, dst_unit
LIMIT $k
RETURN src_layer, src_unit, dst_layer, dst_unit, w

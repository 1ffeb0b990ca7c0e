// Every stored link of one complete epoch of a run, with its weight: the epoch's NeuronStates (a
// seek of the (rid, epoch) index) unrolled, w_in[i] being the link from unit in_units[i] of node
// layer in_layers[i] of their Neuron (runs stored before in_layers existed are chains: layer - 1).
// A node layer may receive links from several node layers (a residual addition, a concatenation).
// Parameters: $run - run name; $epoch - epoch.
// Example: graph.to_networkx("mlp-1", epoch=19), or:
//   cntgraph query query/epoch_links --param run=mlp-1 --param epoch=19 --format csv
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: $epoch, complete: true})
WITH run.rid AS rid
MATCH (b:Neuron)-[:HAS_STATE]->(s:NeuronState)
USING INDEX SEEK s:NeuronState(rid, epoch)
WHERE s.rid = rid AND s.epoch = $epoch AND s.w_in IS NOT NULL
UNWIND range(0, size(s.w_in) - 1) AS i
RETURN coalesce(b.in_layers[i], s.layer - 1) AS src_layer, b.in_units[i] AS src_unit, s.layer AS dst_layer,
       s.unit AS dst_unit, s.w_in[i] AS w
ORDER BY src_layer, src_unit, dst_layer, dst_unit

// Every stored link of one complete epoch of a run, with its weight: each LINK relationship and,
// one hop away, the NeuronState of its target at that epoch, which holds the weight at
// w_in[link.i]. A node layer may receive links from several node layers (a residual addition, a
// concatenation).
// Parameters: $run - run name; $epoch - epoch.
// Example: graph.to_networkx("mlp-1", epoch=19), or:
//   cntgraph query query/epoch_links --param run=mlp-1 --param epoch=19 --format csv
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: $epoch, complete: true})
WITH run.rid AS rid
MATCH (target:Neuron)-[:HAS_STATE]->(state:NeuronState)
USING INDEX SEEK state:NeuronState(rid, epoch)
WHERE state.rid = rid AND state.epoch = $epoch AND state.w_in IS NOT NULL
MATCH (source:Neuron)-[link:LINK]->(target)
RETURN source.layer AS src_layer, source.unit AS src_unit, target.layer AS dst_layer, target.unit AS dst_unit,
       state.w_in[link.i] AS w
ORDER BY src_layer, src_unit, dst_layer, dst_unit

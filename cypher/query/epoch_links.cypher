// Every stored link of one complete epoch of a run, with its weight.
// Parameters: $run - run name; $epoch - epoch.
// Example: graph.to_networkx("mlp-1", epoch=19), or:
//   cntgraph query query/epoch_links --param run=mlp-1 --param epoch=19 --format csv
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: $epoch, complete: true})
WITH run.rid AS rid
MATCH (a:Neuron)-[w:LINK]->(b:Neuron)
USING INDEX SEEK w:LINK(rid, epoch, lid)
WHERE w.rid = rid AND w.epoch = $epoch AND w.lid IS NOT NULL
RETURN a.layer AS src_layer, a.unit AS src_unit, b.layer AS dst_layer, b.unit AS dst_unit, w.w AS w
ORDER BY src_layer, src_unit, dst_unit

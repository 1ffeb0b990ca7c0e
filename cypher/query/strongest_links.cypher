// The k stored links of largest |w| at one complete epoch of a run (ties by link id).
// Parameters: $run - run name; $epoch - epoch; $k - how many.
// Example: graph.strongest_links("mlp-1", epoch=19, k=10), or:
//   cntgraph query query/strongest_links --param run=mlp-1 --param epoch=19 --param k=10
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: $epoch, complete: true})
WITH run.rid AS rid
MATCH (a:Neuron)-[w:LINK]->(b:Neuron)
USING INDEX SEEK w:LINK(rid, epoch, lid)
WHERE w.rid = rid AND w.epoch = $epoch AND w.lid IS NOT NULL
WITH a, b, w
ORDER BY abs(w.w) DESC, w.lid
LIMIT $k
RETURN a.layer AS src_layer, a.unit AS src_unit, b.layer AS dst_layer, b.unit AS dst_unit, w.w AS w

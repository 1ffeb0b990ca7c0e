// The weight of one stored link at every complete epoch: one seek of the (rid, epoch, lid) index per epoch.
// Parameters: $run - run name; $lid - link id, records.link_id(dst_layer, src_unit, dst_unit).
// Example: graph.link_history("mlp-1", src=(0, 3), dst=(1, 5)), or:
//   cntgraph query query/link_history --param run=mlp-1 --param lid=281475027042309
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(e:Epoch {complete: true})
WITH run.rid AS rid, e.epoch AS epoch
MATCH ()-[w:LINK]->()
USING INDEX SEEK w:LINK(rid, epoch, lid)
WHERE w.rid = rid AND w.epoch = epoch AND w.lid = $lid
RETURN w.epoch AS epoch, w.w AS w
ORDER BY epoch

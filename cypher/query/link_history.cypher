// The weight of one stored link at every complete epoch: a seek on the (rid, lid, epoch) index.
// Parameters: $run - run name; $lid - link id, records.link_id(dst_layer, src_unit, dst_unit).
// Example: graph.link_history("mlp-1", src=(0, 3), dst=(1, 5)), or:
//   cntgraph query query/link_history --param run=mlp-1 --param lid=281475027042309
MATCH (run:Run {name: $run})
WITH run.rid AS rid
MATCH ()-[w:LINK]->()
USING INDEX SEEK w:LINK(rid, lid, epoch)
WHERE w.rid = rid AND w.lid = $lid AND w.epoch IS NOT NULL
MATCH (e:Epoch {rid: rid, epoch: w.epoch})
WHERE e.complete
RETURN w.epoch AS epoch, w.w AS w
ORDER BY epoch

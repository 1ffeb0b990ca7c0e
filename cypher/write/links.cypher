// Creates one epoch's LINK relationships between sampled neurons of two consecutive node layers.
// Columnar: the endpoints are looked up once per batch by their indexed key, then each link
// refers to them by position.
// Parameters: $rid, $epoch; $src_layer, $dst_layer - node layer indices; $src_units, $dst_units -
// the distinct sorted units the batch touches; $src_at, $dst_at, $lid, $w - per link: positions in
// those lists, link id and weight.
// Example: graph.run("write/links", rid=42, epoch=3, src_layer=0, dst_layer=1, src_units=[0, 1], dst_units=[4], src_at=[0, 1], dst_at=[0, 0], lid=[...], w=[0.1, -0.2])
CALL () {
  UNWIND range(0, size($src_units) - 1) AS j
  MATCH (a:Neuron {rid: $rid, layer: $src_layer, unit: $src_units[j]})
  WITH a ORDER BY j
  RETURN collect(a) AS sources
}
CALL () {
  UNWIND range(0, size($dst_units) - 1) AS j
  MATCH (b:Neuron {rid: $rid, layer: $dst_layer, unit: $dst_units[j]})
  WITH b ORDER BY j
  RETURN collect(b) AS targets
}
WITH sources, targets
WHERE size(sources) = size($src_units) AND size(targets) = size($dst_units)
UNWIND range(0, size($lid) - 1) AS i
WITH sources[$src_at[i]] AS a, targets[$dst_at[i]] AS b, i
CREATE (a)-[:LINK {rid: $rid, epoch: $epoch, lid: $lid[i], w: $w[i]}]->(b)
RETURN count(*) AS links

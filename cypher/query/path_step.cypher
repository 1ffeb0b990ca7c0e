// One step of the strongest-path dynamic programme, over the node layers in index order (every
// link comes from a node layer of smaller index): for every stored neuron of node layer $dst_layer
// reached by a stored link from a scored neuron, the best product of |w| of a path to it, the
// neuron it came from (`via_layer`, `via_unit`; lowest layer, then unit, on ties) and the weight of
// that last link. The source of w_in[i] is unit in_units[i] of node layer in_layers[i] (layer - 1
// in runs stored before in_layers existed).
// Parameters: $run - run name; $epoch - epoch; $dst_layer - the node layer scored in this step;
// $scores - one entry per node layer before $dst_layer: null, or a list with one entry per unit
// of that layer: the best product of |w| of a path to that unit, or null where no path reaches it.
// Example: graph.query("query/path_step", run="mlp-1", epoch=19, dst_layer=1, scores=[[None, None, None, 1.0]])
MATCH (run:Run {name: $run})
WITH run.rid AS rid
MATCH (b:Neuron)-[:HAS_STATE]->(s:NeuronState)
USING INDEX SEEK s:NeuronState(rid, epoch)
WHERE s.rid = rid AND s.epoch = $epoch AND s.layer = $dst_layer AND s.w_in IS NOT NULL
UNWIND range(0, size(s.w_in) - 1) AS i
WITH b, coalesce(b.in_layers[i], b.layer - 1) AS via_layer, b.in_units[i] AS via_unit, s.w_in[i] AS w
WITH b, via_layer, via_unit, w, $scores[via_layer][via_unit] AS reached
WHERE reached IS NOT NULL
WITH b, reached * abs(w) AS score, via_layer, via_unit, w
ORDER BY score DESC, via_layer, via_unit
WITH b, head(collect({score: score, via_layer: via_layer, via_unit: via_unit, w: w})) AS best
RETURN b.unit AS unit, best.score AS score, best.via_layer AS via_layer, best.via_unit AS via_unit, best.w AS w
ORDER BY unit

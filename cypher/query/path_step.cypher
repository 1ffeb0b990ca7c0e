// One step of the strongest-path dynamic programme, over the node layers in index order (every
// link comes from a node layer of smaller index): for every stored neuron of node layer $dst_layer
// reached by a LINK from a scored neuron, the best product of |w| of a path to it, the neuron it
// came from (`via_layer`, `via_unit`; lowest layer, then unit, on ties) and the weight of that
// last link, read one hop from the link in its target's NeuronState at $epoch (w_in[link.i]).
// Parameters: $run - run name; $epoch - epoch; $dst_layer - the node layer scored in this step;
// $scores - one entry per node layer before $dst_layer: null, or a list with one entry per unit
// of that layer: the best product of |w| of a path to that unit, or null where no path reaches it.
// Example: graph.query("query/path_step", run="mlp-1", epoch=19, dst_layer=1, scores=[[None, None, None, 1.0]])
MATCH (run:Run {name: $run})
WITH run.rid AS rid
MATCH (target:Neuron)-[:HAS_STATE]->(state:NeuronState)
USING INDEX SEEK state:NeuronState(rid, epoch)
WHERE state.rid = rid AND state.epoch = $epoch AND state.layer = $dst_layer AND state.w_in IS NOT NULL
MATCH (source:Neuron)-[link:LINK]->(target)
WITH target, source.layer AS via_layer, source.unit AS via_unit, state.w_in[link.i] AS w
WITH target, via_layer, via_unit, w, $scores[via_layer][via_unit] AS reached
WHERE reached IS NOT NULL
WITH target, reached * abs(w) AS score, via_layer, via_unit, w
ORDER BY score DESC, via_layer, via_unit
WITH target, head(collect({score: score, via_layer: via_layer, via_unit: via_unit, w: w})) AS best
RETURN target.unit AS unit, best.score AS score, best.via_layer AS via_layer, best.via_unit AS via_unit, best.w AS w
ORDER BY unit

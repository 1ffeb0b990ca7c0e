// One step of the strongest-path dynamic programme: for every stored neuron of node layer $layer + 1
// reached from the frontier, the best product of |w| of a path to it and the frontier unit it came
// from (`via`, lowest unit on ties) with the weight of that last link.
// Parameters: $run - run name; $epoch - epoch; $layer - node layer of the frontier;
// $scores - one entry per unit of node layer $layer: the best product of |w| of a path to that
// unit, or null where no path reaches it.
// Example: graph.query("query/path_step", run="mlp-1", epoch=19, layer=0, scores=[None, None, None, 1.0])
MATCH (run:Run {name: $run})
WITH run.rid AS rid
MATCH (b:Neuron)-[:HAS_STATE]->(s:NeuronState)
USING INDEX SEEK s:NeuronState(rid, epoch)
WHERE s.rid = rid AND s.epoch = $epoch AND s.layer = $layer + 1 AND s.w_in IS NOT NULL
UNWIND range(0, size(s.w_in) - 1) AS i
WITH b, b.in_units[i] AS via, s.w_in[i] AS w
WHERE $scores[via] IS NOT NULL
WITH b, $scores[via] * abs(w) AS score, via, w
ORDER BY score DESC, via
WITH b, head(collect({score: score, via: via, w: w})) AS best
RETURN b.unit AS unit, best.score AS score, best.via AS via, best.w AS w
ORDER BY unit

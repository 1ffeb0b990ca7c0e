// One step of the strongest-path dynamic programme: for every stored neuron of node layer $layer + 1
// reached from the frontier, the best product of |w| of a path to it and the frontier unit it came
// from (`via`, lowest unit on ties) with the weight of that last link.
// Parameters: $run - run name; $epoch - epoch; $layer - node layer of the frontier;
// $frontier - list of {unit, score}: the best product of |w| of a path to each unit of $layer.
// Example: graph.query("query/path_step", run="mlp-1", epoch=19, layer=0, frontier=[{"unit": 3, "score": 1.0}])
MATCH (run:Run {name: $run})
UNWIND $frontier AS known
MATCH (a:Neuron {rid: run.rid, layer: $layer, unit: known.unit})-[w:LINK {epoch: $epoch}]->(b:Neuron)
WITH b, known.score * abs(w.w) AS score, known.unit AS via, w.w AS w
ORDER BY score DESC, via
WITH b, head(collect({score: score, via: via, w: w})) AS best
RETURN b.unit AS unit, best.score AS score, best.via AS via, best.w AS w
ORDER BY unit

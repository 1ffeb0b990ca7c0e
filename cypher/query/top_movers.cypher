// The k stored neurons of one node layer whose node strength s changed most between two complete
// epochs, by |s_end - s_start| (ties by unit).
// Parameters: $run - run name; $layer - node layer; $k - how many; $start, $end - epochs.
// Example: graph.top_movers("mlp-1", layer=1, k=10, start=0, end=19), or:
//   cntgraph query query/top_movers --param run=mlp-1 --param layer=1 --param k=10 --param start=0 --param end=19
MATCH (run:Run {name: $run})
MATCH (first:Epoch {rid: run.rid, epoch: $start}), (last:Epoch {rid: run.rid, epoch: $end})
WHERE first.complete AND last.complete
WITH run.rid AS rid
MATCH (a:NeuronState)
USING INDEX SEEK a:NeuronState(rid, epoch)
WHERE a.rid = rid AND a.epoch = $start AND a.layer = $layer
MATCH (b:NeuronState {rid: rid, layer: $layer, unit: a.unit, epoch: $end})
RETURN a.unit AS unit, a.s AS s_start, b.s AS s_end, b.s - a.s AS delta
ORDER BY abs(delta) DESC, unit
LIMIT $k

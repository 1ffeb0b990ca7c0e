// cntgraph: the $k stored neurons whose node strength s changed most between two complete epochs, over all layers.
// Parameters: $run - run name; $start, $end - epochs; $k - how many.
// Example: in Browser: :params {run: 'mlp-1', start: 0, end: 19, k: 10}
MATCH (run:Run {name: $run})
MATCH (first:Epoch {rid: run.rid, epoch: toInteger($start)}), (last:Epoch {rid: run.rid, epoch: toInteger($end)})
WHERE first.complete AND last.complete
MATCH (a:NeuronState {rid: run.rid, epoch: toInteger($start)})
MATCH (b:NeuronState {rid: run.rid, layer: a.layer, unit: a.unit, epoch: toInteger($end)})
RETURN a.layer AS layer, a.unit AS unit, a.s AS s_start, b.s AS s_end, b.s - a.s AS delta
ORDER BY abs(delta) DESC, layer, unit
LIMIT toInteger($k)

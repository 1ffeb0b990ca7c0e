// Exact node strengths of a run's stored neurons at some epochs (complete epochs only).
// Parameters: $run - run name; $epochs - list of epoch numbers.
// Example: graph.query("read/strengths", run="demo-mlp", epochs=[0, 19])
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(e:Epoch)
WHERE e.complete AND e.epoch IN $epochs
MATCH (s:NeuronState {rid: run.rid, epoch: e.epoch})
WHERE s.layer IS NOT NULL AND s.unit IS NOT NULL
RETURN s.epoch AS epoch, s.layer AS layer, s.unit AS unit, s.s_in AS s_in, s.s_out AS s_out, s.s AS s
ORDER BY epoch, layer, unit

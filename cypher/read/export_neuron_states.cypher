// Every stored neuron of one complete epoch of a run: its exact strengths and bias, the sources of
// its stored incoming links (Neuron.in_layers, in_units) and their weights then (NeuronState.w_in),
// for `cntgraph export`. Runs stored before in_layers existed are chains: sources in layer - 1.
// Parameters: $run - run name; $epoch - epoch.
// Example: graph.query("read/export_neuron_states", run="demo-mlp", epoch=19)
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: $epoch, complete: true})
WITH run.rid AS rid
MATCH (b:Neuron)-[:HAS_STATE]->(s:NeuronState)
USING INDEX SEEK s:NeuronState(rid, epoch)
WHERE s.rid = rid AND s.epoch = $epoch
RETURN s.layer AS layer, s.unit AS unit, s.s_in AS s_in, s.s_out AS s_out, s.s AS s, s.bias AS bias,
       CASE WHEN b.in_units IS NULL THEN null ELSE coalesce(b.in_layers, [u IN b.in_units | s.layer - 1]) END AS in_layers,
       b.in_units AS in_units, s.w_in AS w_in
ORDER BY layer, unit

// The stored links of one complete epoch of a run as arrays: a row per stored neuron with incoming
// links, the node layers and units of their sources (Neuron.in_layers, Neuron.in_units) and their
// weights at that epoch (NeuronState.w_in), the three aligned. Runs stored before in_layers existed
// are chains: their in_layers are read as layer - 1 for every source.
// The same links as query/epoch_links, without unrolling them into a row each (much less to send).
// Parameters: $run - run name; $epoch - epoch.
// Example: graph.query("read/epoch_weights", run="demo-mlp", epoch=19)
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: $epoch, complete: true})
WITH run.rid AS rid
MATCH (b:Neuron)-[:HAS_STATE]->(s:NeuronState)
USING INDEX SEEK s:NeuronState(rid, epoch)
WHERE s.rid = rid AND s.epoch = $epoch AND s.w_in IS NOT NULL
RETURN s.layer AS layer, s.unit AS unit, coalesce(b.in_layers, [u IN b.in_units | s.layer - 1]) AS in_layers,
       b.in_units AS in_units, s.w_in AS w_in
ORDER BY layer, unit

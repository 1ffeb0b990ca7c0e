// The exact strengths and bias of one stored neuron at every complete epoch: a seek on the
// (rid, layer, unit, epoch) index.
// Parameters: $run - run name; $layer - node layer; $unit - flat unit index in that layer.
// Example: graph.neuron_history("mlp-1", layer=1, unit=5), or:
//   cntgraph query query/neuron_history --param run=mlp-1 --param layer=1 --param unit=5
MATCH (run:Run {name: $run})
WITH run.rid AS rid
MATCH (s:NeuronState)
USING INDEX SEEK s:NeuronState(rid, layer, unit, epoch)
WHERE s.rid = rid AND s.layer = $layer AND s.unit = $unit AND s.epoch IS NOT NULL
MATCH (e:Epoch {rid: rid, epoch: s.epoch})
WHERE e.complete
RETURN s.epoch AS epoch, s.s_in AS s_in, s.s_out AS s_out, s.s AS s, s.bias AS bias
ORDER BY epoch

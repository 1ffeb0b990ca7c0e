// The distributions of the neurons' activations and input-weighted strengths on the Recorder's
// `data` batch, per node layer and complete epoch of a run (summaries over every sample and unit;
// docs/METRICS.md). Null where a run was recorded without `data`.
// Parameters: $run - run name.
// Example: graph.activations("mlp-1"), or: cntgraph query query/activations --param run=mlp-1
MATCH (run:Run {name: $run})-[:HAS_LAYER]->(:Layer)-[:HAS_STATE]->(s:LayerState)
MATCH (e:Epoch {rid: run.rid, epoch: s.epoch})
WHERE e.complete
RETURN s.epoch AS epoch, s.layer AS layer,
       s.activation_count AS activation_count, s.activation_mean AS activation_mean, s.activation_std AS activation_std,
       s.activation_min AS activation_min, s.activation_q05 AS activation_q05, s.activation_q50 AS activation_q50,
       s.activation_q95 AS activation_q95, s.activation_max AS activation_max,
       s.input_strength_mean AS input_strength_mean, s.input_strength_std AS input_strength_std,
       s.input_strength_min AS input_strength_min, s.input_strength_q05 AS input_strength_q05,
       s.input_strength_q50 AS input_strength_q50, s.input_strength_q95 AS input_strength_q95,
       s.input_strength_max AS input_strength_max
ORDER BY epoch, layer

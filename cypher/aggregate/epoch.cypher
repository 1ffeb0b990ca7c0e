// In-database aggregation of one complete epoch of a run, from its stored link weights (the
// NeuronState.w_in arrays) and biases:
// node strength of every stored neuron, written as NeuronState.db_s_in, db_s_out and db_s, and
// the fluctuation of every node layer (population std of db_s over its stored neurons), written
// as LayerState.db_fluctuation. A sum over the stored units of a neighbouring layer is scaled by
// that layer's size / sampled (exact for Full runs; unbiased for Uniform samples, not for
// TopStrength); input units get s_in = 1, last-layer units s_out = 1. Returns, per layer, the
// estimate beside the exact fluctuation and the relative errors: fluctuation_error (signed) and
// s_error = max |db_s - s| / max |s| over the layer's stored neurons.
// Parameters: $run - run name; $epoch - a complete epoch.
// Example: graph.aggregate("mlp-1", epochs=[3]), or: graph.runner.run("aggregate/epoch", run="mlp-1", epoch=3)
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: $epoch, complete: true})
MATCH (run)-[:HAS_LAYER]->(each:Layer)
WITH run.rid AS rid, each
ORDER BY each.index
WITH rid, collect(toFloat(each.size) / each.sampled) AS scale, collect(each) AS layers
CALL (rid) {
  CALL (rid) {
    MATCH (s:NeuronState)
    USING INDEX SEEK s:NeuronState(rid, epoch)
    WHERE s.rid = rid AND s.epoch = $epoch AND s.w_in IS NOT NULL
    RETURN s.layer AS layer, s.unit AS unit, reduce(total = 0.0, w IN s.w_in | total + w) AS into, 0.0 AS out_of
    UNION ALL
    MATCH (b:Neuron)-[:HAS_STATE]->(s:NeuronState)
    USING INDEX SEEK s:NeuronState(rid, epoch)
    WHERE s.rid = rid AND s.epoch = $epoch AND s.w_in IS NOT NULL
    UNWIND range(0, size(s.w_in) - 1) AS i
    WITH s.layer - 1 AS layer, b.in_units[i] AS unit, sum(s.w_in[i]) AS total
    RETURN layer, unit, 0.0 AS into, total AS out_of
    UNION ALL
    MATCH (s:NeuronState)
    USING INDEX SEEK s:NeuronState(rid, epoch)
    WHERE s.rid = rid AND s.epoch = $epoch
    RETURN s.layer AS layer, s.unit AS unit, 0.0 AS into, 0.0 AS out_of
  }
  RETURN layer, unit, sum(into) AS into, sum(out_of) AS out_of
}
MATCH (s:NeuronState)
USING INDEX SEEK s:NeuronState(rid, layer, unit, epoch)
WHERE s.rid = rid AND s.layer = layer AND s.unit = unit AND s.epoch = $epoch
SET s.db_s_in = CASE WHEN layer = 0 THEN 1.0 ELSE scale[layer - 1] * into + coalesce(s.bias, 0.0) END,
    s.db_s_out = CASE WHEN layer = size(scale) - 1 THEN 1.0 ELSE scale[layer + 1] * out_of END
SET s.db_s = s.db_s_in + s.db_s_out
WITH rid, layers[layer] AS node_layer, count(s) AS neurons, stDevP(s.db_s) AS fluctuation,
     max(abs(s.db_s - s.s)) AS s_diff, max(abs(s.s)) AS s_norm
MATCH (state:LayerState)
USING INDEX SEEK state:LayerState(rid, layer, epoch)
WHERE state.rid = rid AND state.layer = node_layer.index AND state.epoch = $epoch
SET state.db_fluctuation = fluctuation
RETURN $epoch AS epoch, node_layer.index AS layer, node_layer.size AS size, node_layer.sampled AS sampled,
       neurons, fluctuation, state.fluctuation AS exact_fluctuation,
       CASE WHEN state.fluctuation > 0 THEN (fluctuation - state.fluctuation) / state.fluctuation
            ELSE fluctuation - state.fluctuation END AS fluctuation_error,
       CASE WHEN s_norm > 0 THEN s_diff / s_norm ELSE s_diff END AS s_error
ORDER BY layer

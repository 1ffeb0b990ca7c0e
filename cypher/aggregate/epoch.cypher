// In-database aggregation of one complete epoch of a run, from its stored link weights (the
// NeuronState.w_in arrays) and biases:
// node strength of every stored neuron, written as NeuronState.db_s_in, db_s_out and db_s, and
// the fluctuation of every node layer (population std of db_s over its stored neurons), written
// as LayerState.db_fluctuation. The links follow the run's graph of node layers: w_in[i] comes
// from unit in_units[i] of node layer in_layers[i] (layer - 1 in runs stored before in_layers
// existed), so a unit may get links from, and send links to, several node layers. A sum over the
// stored units of a neighbouring layer is scaled by that layer's size / sampled: db_s_in sums,
// per source layer, scale[source] * its links' weights, plus the bias; db_s_out sums, per
// destination layer, scale[destination] * its links' weights (exact for Full runs; unbiased for
// Uniform samples, not for TopStrength). Input units get s_in = 1; units of a sink layer (one no
// Layer lists in `inputs`, which old runs lack: [index - 1]) get s_out = 1. Returns, per layer,
// the estimate beside the exact fluctuation and the relative errors: fluctuation_error (signed)
// and s_error = max |db_s - s| / max |s| over the layer's stored neurons.
// Beside it, the fluctuation from the stored neurons' exact strengths (estimate, estimate_kind): exact
// where every unit of the layer is stored, else the estimate of cntgraph.core.estimators from the
// uniform sample, with its standard error and the interval estimate +- $z * estimate_se.
// Parameters: $run - run name; $epoch - a complete epoch; $z - the interval's normal quantile (1.96: 95%).
// Example: graph.aggregate("mlp-1", epochs=[3]), or: graph.runner.run("aggregate/epoch", run="mlp-1", epoch=3, z=1.96)
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: $epoch, complete: true})
MATCH (run)-[:HAS_LAYER]->(each:Layer)
WITH run.rid AS rid, each
ORDER BY each.index
WITH rid, collect(toFloat(each.size) / each.sampled) AS scale, collect(each) AS layers,
     reduce(fed = [], l IN collect(coalesce(each.inputs, CASE WHEN each.index > 0 THEN [each.index - 1] ELSE [] END)) | fed + l) AS fed
CALL (rid, scale) {
  CALL (rid, scale) {
    MATCH (b:Neuron)-[:HAS_STATE]->(s:NeuronState)
    USING INDEX SEEK s:NeuronState(rid, epoch)
    WHERE s.rid = rid AND s.epoch = $epoch AND s.w_in IS NOT NULL
    WITH s, coalesce(b.in_layers, [w IN s.w_in | s.layer - 1]) AS from
    WITH s, from, reduce(seen = [], l IN from | CASE WHEN l IN seen THEN seen ELSE seen + l END) AS sources
    RETURN s.layer AS layer, s.unit AS unit, 0.0 AS out_of,
           reduce(total = 0.0, l IN sources | total + scale[l] * reduce(part = 0.0, i IN range(0, size(from) - 1) |
             CASE WHEN from[i] = l THEN part + s.w_in[i] ELSE part END)) AS into
    UNION ALL
    MATCH (b:Neuron)-[:HAS_STATE]->(s:NeuronState)
    USING INDEX SEEK s:NeuronState(rid, epoch)
    WHERE s.rid = rid AND s.epoch = $epoch AND s.w_in IS NOT NULL
    UNWIND range(0, size(s.w_in) - 1) AS i
    WITH coalesce(b.in_layers[i], s.layer - 1) AS layer, b.in_units[i] AS unit, s.layer AS into_layer, sum(s.w_in[i]) AS total
    RETURN layer, unit, 0.0 AS into, scale[into_layer] * total AS out_of
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
SET s.db_s_in = CASE WHEN layer = 0 THEN 1.0 ELSE into + coalesce(s.bias, 0.0) END,
    s.db_s_out = CASE WHEN layer IN fed THEN out_of ELSE 1.0 END
SET s.db_s = s.db_s_in + s.db_s_out
WITH rid, layers[layer] AS node_layer, count(s) AS neurons, stDevP(s.db_s) AS fluctuation,
     max(abs(s.db_s - s.s)) AS s_diff, max(abs(s.s)) AS s_norm, collect(s.s) AS exact_s
WITH *, reduce(total = 0.0, x IN exact_s | total + x) / size(exact_s) AS mean_s
WITH *, reduce(total = 0.0, x IN exact_s | total + (x - mean_s) ^ 2) / size(exact_s) AS m2,
     reduce(total = 0.0, x IN exact_s | total + (x - mean_s) ^ 4) / size(exact_s) AS m4,
     toFloat(node_layer.size) AS units
WITH *, CASE WHEN neurons = node_layer.size THEN sqrt(m2)
             WHEN neurons > 1 THEN sqrt((units - 1) / units * m2 * neurons / (neurons - 1.0)) END AS estimate
WITH *, CASE WHEN neurons = node_layer.size THEN 0.0
             WHEN estimate > 0 THEN sqrt(CASE WHEN m4 > m2 * m2 THEN (1 - neurons / units) * (m4 - m2 * m2) / neurons ELSE 0.0 END) / (2 * estimate)
             WHEN estimate = 0 THEN 0.0 END AS estimate_se
MATCH (state:LayerState)
USING INDEX SEEK state:LayerState(rid, layer, epoch)
WHERE state.rid = rid AND state.layer = node_layer.index AND state.epoch = $epoch
SET state.db_fluctuation = fluctuation
RETURN $epoch AS epoch, node_layer.index AS layer, node_layer.size AS size, node_layer.sampled AS sampled,
       neurons, fluctuation, state.fluctuation AS exact_fluctuation,
       CASE WHEN state.fluctuation > 0 THEN (fluctuation - state.fluctuation) / state.fluctuation
            ELSE fluctuation - state.fluctuation END AS fluctuation_error,
       CASE WHEN s_norm > 0 THEN s_diff / s_norm ELSE s_diff END AS s_error,
       CASE WHEN neurons = node_layer.size THEN 'exact' ELSE 'estimate' END AS estimate_kind,
       estimate, estimate_se,
       CASE WHEN estimate - $z * estimate_se > 0 THEN estimate - $z * estimate_se ELSE 0.0 END AS estimate_low,
       estimate + $z * estimate_se AS estimate_high
ORDER BY layer

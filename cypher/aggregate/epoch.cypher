// In-database aggregation of one complete epoch of a run: every stored neuron's node strength from
// its stored links, and every node layer's fluctuation, each with its kind ('exact', 'estimate',
// or 'biased' from a sample that is not uniform), standard error and 95% interval (the formulas of cntgraph.core.estimators; docs/METRICS.md).
// Strengths: w_in[i] comes from unit in_units[i] of node layer in_layers[i] (layer - 1 in runs
// stored before in_layers existed). A unit's s_in sums, per node layer feeding its own, the
// expansion estimate size / sampled * (its stored links' weights), plus the bias; its s_out the
// same per node layer it feeds. Each part has variance size^2 (1 - sampled/size) S^2 / sampled,
// S^2 the variance (ddof 1) of the link weights over the sampled units of that layer (0 where a
// sampled unit has no link); the parts' variances add. A part from a layer stored whole is exact;
// one from a layer whose sampler is not uniform (Layer.uniform false: TopStrength) is 'biased',
// with no standard error (so is such a layer's fluctuation); runs stored before Layer.uniform count as uniform.
// Input units get s_in = 1, the units of a sink layer (one no Layer lists in `inputs`; old runs
// lack them: [index - 1]) s_out = 1. Written as NeuronState.db_s_in, db_s_out, db_s, db_s_se.
// Fluctuation: from the stored neurons' exact strengths (NeuronState.s): their population std
// where the layer stores every unit, else sqrt((N-1)/N) times their sample std, its delta-method
// standard error and Bonett's interval, all with the finite population correction. Written as
// LayerState.db_fluctuation, db_fluctuation_se, db_fluctuation_low, db_fluctuation_high.
// Returns one row per node layer, with the exact values the recorder stored beside: the errors and
// how many stored neurons' exact s lie in db_s +- $z db_s_se (within 1e-9 relative where exact), and
// w_in_error: the largest |sum(w_in) - w_in_sum| / sum(|w_in|) over its stored neurons (null before w_in_sum existed).
// Parameters: $run - run name; $epoch - a complete epoch; $z - the interval's normal quantile (1.96: 95%).
// Example: graph.aggregate("mlp-1", epochs=[3]), or: graph.runner.run("aggregate/epoch", run="mlp-1", epoch=3, z=1.96)
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: $epoch, complete: true})
MATCH (run)-[:HAS_LAYER]->(each:Layer)
WITH run.rid AS rid, run.sample AS run_sample, each
ORDER BY each.index
WITH rid, run_sample, collect(each) AS layers,
     collect(coalesce(each.inputs, CASE WHEN each.index > 0 THEN [each.index - 1] ELSE [] END)) AS inputs
// fed: the node layers some other layer reads (a recurrent layer's links from itself do not count);
// uniform: whether a layer's units are a uniform sample (runs stored before Layer.uniform: by Run.sample)
WITH rid, layers, inputs, reduce(fed = [], i IN range(0, size(inputs) - 1) | fed + [l IN inputs[i] WHERE l <> i]) AS fed,
     [l IN layers | coalesce(l.uniform, NOT coalesce(run_sample, '') STARTS WITH 'TopStrength')] AS uniform
// A part summed over the stored units of node layer l: population N and draws n are its size and
// sampled, each less one where l is the unit's own layer (a recurrent layer's links from itself: the
// unit is stored, so the others are n - 1 drawn of N - 1, and it has no link from itself); the
// estimate is N / n times the sum, its variance N^2 (1 - n/N) S^2 / n; NaN where n < 2 of N > n or
// the sample is not uniform.
CALL (rid, layers, uniform) {
  CALL (rid, layers, uniform) {
    MATCH (b:Neuron)-[:HAS_STATE]->(s:NeuronState)
    USING INDEX SEEK s:NeuronState(rid, epoch)
    WHERE s.rid = rid AND s.epoch = $epoch AND s.w_in IS NOT NULL
    WITH s, s.w_in AS weights, coalesce(b.in_layers, [w IN s.w_in | s.layer - 1]) AS from
    UNWIND reduce(seen = [], l IN from | CASE WHEN l IN seen THEN seen ELSE seen + l END) AS source
    WITH s, source, reduce(part = [0.0, 0.0], i IN range(0, size(from) - 1) |
           CASE WHEN from[i] = source THEN [part[0] + weights[i], part[1] + weights[i] ^ 2] ELSE part END) AS sums
    WITH s, sums, uniform[source] AS fair, CASE WHEN source = s.layer THEN 1.0 ELSE 0.0 END AS own, layers[source] AS other
    WITH s, sums, fair, other.size - own AS population, other.sampled - own AS draws
    RETURN s.layer AS layer, s.unit AS unit, population / draws * sums[0] AS into, 0.0 AS out_of,
           CASE WHEN draws = population THEN 0.0
                WHEN draws > 1 AND fair THEN population ^ 2 * (1 - draws / population) / draws / (draws - 1)
                     * CASE WHEN sums[1] > sums[0] ^ 2 / draws THEN sums[1] - sums[0] ^ 2 / draws ELSE 0.0 END
                ELSE 0.0 / 0.0 END AS variance
    UNION ALL
    MATCH (b:Neuron)-[:HAS_STATE]->(s:NeuronState)
    USING INDEX SEEK s:NeuronState(rid, epoch)
    WHERE s.rid = rid AND s.epoch = $epoch AND s.w_in IS NOT NULL
    WITH b, s, s.w_in AS weights, b.in_layers AS in_layers, b.in_units AS in_units
    UNWIND range(0, size(weights) - 1) AS i
    WITH coalesce(in_layers[i], s.layer - 1) AS layer, in_units[i] AS unit, s.layer AS into_layer,
         sum(weights[i]) AS total, sum(weights[i] ^ 2) AS squares
    WITH layer, unit, [total, squares] AS sums, uniform[into_layer] AS fair,
         CASE WHEN into_layer = layer THEN 1.0 ELSE 0.0 END AS own, layers[into_layer] AS other
    WITH layer, unit, sums, fair, other.size - own AS population, other.sampled - own AS draws
    RETURN layer, unit, 0.0 AS into, population / draws * sums[0] AS out_of,
           CASE WHEN draws = population THEN 0.0
                WHEN draws > 1 AND fair THEN population ^ 2 * (1 - draws / population) / draws / (draws - 1)
                     * CASE WHEN sums[1] > sums[0] ^ 2 / draws THEN sums[1] - sums[0] ^ 2 / draws ELSE 0.0 END
                ELSE 0.0 / 0.0 END AS variance
    UNION ALL
    MATCH (s:NeuronState)
    USING INDEX SEEK s:NeuronState(rid, epoch)
    WHERE s.rid = rid AND s.epoch = $epoch
    RETURN s.layer AS layer, s.unit AS unit, 0.0 AS into, 0.0 AS out_of, 0.0 AS variance
  }
  RETURN layer, unit, sum(into) AS into, sum(out_of) AS out_of, sum(variance) AS variance
}
MATCH (s:NeuronState)
USING INDEX SEEK s:NeuronState(rid, layer, unit, epoch)
WHERE s.rid = rid AND s.layer = layer AND s.unit = unit AND s.epoch = $epoch
SET s.db_s_in = CASE WHEN layer = 0 THEN 1.0 ELSE into + coalesce(s.bias, 0.0) END,
    s.db_s_out = CASE WHEN layer IN fed THEN out_of ELSE 1.0 END,
    s.db_s_se = CASE WHEN variance = variance THEN sqrt(variance) END  // null: no standard error
SET s.db_s = s.db_s_in + s.db_s_out
WITH rid, layers, inputs, uniform, layers[layer] AS node_layer, collect(s) AS states
WITH rid, node_layer, states, size(states) AS neurons, toFloat(node_layer.size) AS units,
     all(l IN inputs[node_layer.index] WHERE layers[l].sampled = layers[l].size) AS in_exact,
     all(i IN range(0, size(inputs) - 1) WHERE NOT node_layer.index IN inputs[i] OR layers[i].sampled = layers[i].size) AS out_exact,
     any(l IN inputs[node_layer.index] WHERE layers[l].sampled < layers[l].size AND NOT uniform[l]) AS in_biased,
     any(i IN range(0, size(inputs) - 1) WHERE node_layer.index IN inputs[i] AND layers[i].sampled < layers[i].size
                                               AND NOT uniform[i]) AS out_biased, uniform[node_layer.index] AS uniform,
     reduce(top = 0.0, s IN states | CASE WHEN abs(s.s) > top THEN abs(s.s) ELSE top END) AS s_norm,
     [s IN states WHERE s.w_in_sum IS NOT NULL | [reduce(t = 0.0, w IN s.w_in | t + w) - s.w_in_sum, reduce(t = 0.0, w IN s.w_in | t + abs(w))]] AS checks
WITH *, reduce(total = 0.0, s IN states | total + s.s) / neurons AS mean_s,
     reduce(worst = 0.0, s IN states | CASE WHEN abs(s.db_s - s.s) > worst THEN abs(s.db_s - s.s) ELSE worst END) AS s_diff,
     reduce(worst = 0.0, s IN states | CASE WHEN in_exact AND abs(s.db_s_in - s.s_in) > worst THEN abs(s.db_s_in - s.s_in) ELSE worst END) AS in_diff,
     reduce(worst = 0.0, s IN states | CASE WHEN out_exact AND abs(s.db_s_out - s.s_out) > worst THEN abs(s.db_s_out - s.s_out) ELSE worst END) AS out_diff,
     size([s IN states WHERE s.db_s_se IS NOT NULL]) AS s_estimates,
     size([s IN states WHERE s.db_s_se IS NOT NULL AND (abs(s.db_s - s.s) <= $z * s.db_s_se OR abs(s.db_s - s.s) <= 1e-9 * s_norm)]) AS s_inside
WITH *, reduce(total = 0.0, s IN states | total + (s.s - mean_s) ^ 2) / neurons AS m2,
     reduce(total = 0.0, s IN states | total + (s.s - mean_s) ^ 4) / neurons AS m4
WITH *, neurons = node_layer.size AS whole, (1 - neurons / units) AS correction, neurons / (neurons - $z) AS c
WITH *, CASE WHEN whole THEN m2 WHEN neurons > 1 THEN (units - 1) / units * m2 * neurons / (neurons - 1.0) END AS variance
WITH *, sqrt(variance) AS estimate,
     CASE WHEN whole THEN 0.0 WHEN neurons < 2 THEN null WHEN m2 = 0 THEN 0.0
          ELSE sqrt(CASE WHEN m4 > m2 * m2 THEN correction * (m4 - m2 * m2) / neurons ELSE 0.0 END) / (2 * sqrt(variance)) END AS estimate_se,
     CASE WHEN whole OR m2 = 0 THEN 0.0
          WHEN neurons > 1 THEN c * sqrt(CASE WHEN m4 / (m2 * m2) > (neurons - 3.0) / neurons THEN m4 / (m2 * m2) - (neurons - 3.0) / neurons ELSE 0.0 END
                                         / (neurons - 1) * correction) END AS se_log
WITH *, CASE WHEN whole OR m2 = 0 THEN estimate ELSE sqrt(c * variance * exp(-$z * se_log)) END AS low,
        CASE WHEN whole OR m2 = 0 THEN estimate ELSE sqrt(c * variance * exp($z * se_log)) END AS high
WITH *, CASE WHEN whole THEN 'exact' WHEN uniform THEN 'estimate' ELSE 'biased' END AS fluctuation_kind,
        CASE WHEN in_exact THEN 'exact' WHEN in_biased THEN 'biased' ELSE 'estimate' END AS s_in_kind,
        CASE WHEN out_exact THEN 'exact' WHEN out_biased THEN 'biased' ELSE 'estimate' END AS s_out_kind
MATCH (state:LayerState)
USING INDEX SEEK state:LayerState(rid, layer, epoch)
WHERE state.rid = rid AND state.layer = node_layer.index AND state.epoch = $epoch
SET state.db_fluctuation = estimate,
    state.db_fluctuation_se = CASE WHEN fluctuation_kind = 'biased' THEN null ELSE estimate_se END,
    state.db_fluctuation_low = CASE WHEN fluctuation_kind = 'biased' THEN null ELSE low END,
    state.db_fluctuation_high = CASE WHEN fluctuation_kind = 'biased' THEN null ELSE high END
RETURN $epoch AS epoch, node_layer.index AS layer, node_layer.size AS size, node_layer.sampled AS sampled, neurons,
       estimate AS fluctuation, fluctuation_kind, state.db_fluctuation_se AS fluctuation_se,
       state.db_fluctuation_low AS fluctuation_low, state.db_fluctuation_high AS fluctuation_high,
       state.fluctuation AS exact_fluctuation,
       CASE WHEN state.fluctuation > 0 THEN (estimate - state.fluctuation) / state.fluctuation
            ELSE estimate - state.fluctuation END AS fluctuation_error,
       CASE WHEN in_exact AND out_exact THEN 'exact' WHEN in_biased OR out_biased THEN 'biased' ELSE 'estimate' END AS s_kind,
       s_in_kind, s_out_kind,
       CASE WHEN s_norm > 0 THEN s_diff / s_norm ELSE s_diff END AS s_error,
       CASE WHEN NOT (in_exact OR out_exact) THEN null
            ELSE CASE WHEN in_diff > out_diff THEN in_diff ELSE out_diff END / CASE WHEN s_norm > 0 THEN s_norm ELSE 1.0 END END AS s_exact_error,
       CASE WHEN in_biased OR out_biased THEN null ELSE s_estimates END AS s_estimates,
       CASE WHEN in_biased OR out_biased THEN null ELSE s_inside END AS s_inside,
       CASE WHEN size(checks) > 0 THEN reduce(worst = 0.0, d IN checks | CASE WHEN abs(d[0]) / CASE WHEN d[1] > 0 THEN d[1] ELSE 1.0 END > worst
                                                                       THEN abs(d[0]) / CASE WHEN d[1] > 0 THEN d[1] ELSE 1.0 END ELSE worst END) END AS w_in_error
ORDER BY layer

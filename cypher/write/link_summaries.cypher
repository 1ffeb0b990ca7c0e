// Sets the summaries of every LINK of a run over its complete epochs: `first` and `last` recorded
// weight, `delta` (last - first), `min`, `max`, `first_epoch`, `last_epoch` and `epochs` (how many).
// Run after a recorder's epochs are written (at close, and when a run is resumed or repaired);
// auto-commit, a transaction per 50 neurons (a small memory footprint beside other writers).
// Parameters: $rid - run id; $layer - the LINKs into this node layer only (null: every LINK of the run).
// Example: graph.runner.run_autocommit("write/link_summaries", rid=42, layer=None)
MATCH (n:Neuron {rid: $rid})
WHERE n.linked AND ($layer IS NULL OR n.layer = $layer)
CALL (n) {
  MATCH (n)-[:HAS_STATE]->(state:NeuronState)
  WHERE EXISTS { MATCH (:Epoch {rid: $rid, epoch: state.epoch, complete: true}) }
  WITH state ORDER BY state.epoch
  WITH collect(state.w_in) AS weights, collect(state.epoch) AS epochs
  WHERE size(epochs) > 0
  MATCH ()-[link:LINK]->(n)
  WITH link, epochs, [w IN weights | w[link.i]] AS series
  SET link.first = series[0], link.last = series[-1], link.delta = series[-1] - series[0],
      link.min = reduce(low = series[0], x IN series | CASE WHEN x < low THEN x ELSE low END),
      link.max = reduce(high = series[0], x IN series | CASE WHEN x > high THEN x ELSE high END),
      link.first_epoch = epochs[0], link.last_epoch = epochs[-1], link.epochs = size(epochs)
} IN TRANSACTIONS OF 50 ROWS

// The stored histograms of every node layer at some complete epochs of a run: node strength s and
// link weights w (all weights and biases; null for the input layer) counted on the run's fixed bins.
// Parameters: $run - run name; $epochs - list of epoch numbers.
// Example: graph.query("read/histograms", run="demo-mlp", epochs=[0, 19])
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(e:Epoch)
WHERE e.complete AND e.epoch IN $epochs
MATCH (run)-[:HAS_LAYER]->(l:Layer)
MATCH (s:LayerState {rid: run.rid, layer: l.index, epoch: e.epoch})
RETURN e.epoch AS epoch, l.index AS layer, l.s_edges AS s_edges, s.s_hist AS s_hist,
       l.w_edges AS w_edges, s.w_hist AS w_hist
ORDER BY epoch, layer

// One Epoch node per (run, epoch).
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture.
CREATE CONSTRAINT cntgraph_epoch_key IF NOT EXISTS FOR (e:Epoch) REQUIRE (e.rid, e.epoch) IS UNIQUE

// All links of one epoch of a run, for epoch graphs, aggregation and replacing an epoch.
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture.
CREATE INDEX cntgraph_link_epoch IF NOT EXISTS FOR ()-[w:LINK]-() ON (w.rid, w.epoch)

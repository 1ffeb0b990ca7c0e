// One LINK relationship per (run, link id, epoch); also the index seek behind a link's history.
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture.
CREATE CONSTRAINT cntgraph_link_key IF NOT EXISTS FOR ()-[w:LINK]-() REQUIRE (w.rid, w.lid, w.epoch) IS UNIQUE

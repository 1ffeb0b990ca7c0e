// The one index of LINK relationships: (run, epoch, link id). A prefix seek on (rid, epoch) finds
// every link of an epoch; a seek on all three finds one link at one epoch (link_history does one
// per complete epoch). A range index, not a uniqueness constraint: the earlier schema's constraint
// on (rid, lid, epoch) and second index on (rid, epoch) made each link cost the database 1.4-1.5x
// the CPU (bench/bench_writer.py, section (c)); the writer keeps one LINK per (rid, epoch, lid)
// by clearing an epoch before writing it.
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture.
CREATE INDEX cntgraph_link_epoch_lid IF NOT EXISTS FOR ()-[w:LINK]-() ON (w.rid, w.epoch, w.lid)

// A run's id and every property of its Run node, for `cntgraph export`.
// Parameters: $run - run name.
// Example: graph.query("read/export_run", run="demo-mlp")
MATCH (run:Run {name: $run})
RETURN run.rid AS rid, properties(run) AS props

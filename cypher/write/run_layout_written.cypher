// Marks a run's layout (its Layer and sampled Neuron nodes) as completely written; a recorder
// resuming the run waits for this before it reads the stored sample.
// Parameters: $rid - run id.
// Example: graph.runner.run("write/run_layout_written", rid=42)
MATCH (run:Run {rid: $rid})
SET run.layout_written = true
RETURN run.rid AS rid

// Creates the Run node of a new run, or finds an existing one; returns its rid and whether its
// layout (layers and sampled neurons) is written. A new run's layout is not written yet
// (`layout_written = false`) until write/run_layout_written marks it; runs stored before this flag
// existed have none and count as written. The uniqueness constraint on Run.name makes MERGE
// atomic: of two recorders creating one name at once, one creates it and the other gets its rid.
// Parameters: $name - run name; $rid - id to give a new run; $props - map of run properties.
// Example: graph.runner.run("write/run", name="mlp-1", rid=42, props={"model": "MLP"})
MERGE (run:Run {name: $name})
ON CREATE SET run += $props, run.rid = $rid, run.created_at = datetime(), run.layout_written = false
RETURN run.rid AS rid, coalesce(run.layout_written, true) AS layout_written

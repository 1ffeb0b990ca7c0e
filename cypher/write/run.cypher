// Creates the Run node of a new run, or finds an existing one; returns its rid.
// Parameters: $name - run name; $rid - id to give a new run; $props - map of run properties.
// Example: graph.runner.run("write/run", name="mlp-1", rid=42, props={"model": "MLP"})
MERGE (run:Run {name: $name})
ON CREATE SET run += $props, run.rid = $rid, run.created_at = datetime()
RETURN run.rid AS rid

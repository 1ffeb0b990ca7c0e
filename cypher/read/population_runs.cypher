// The runs a population's name patterns match (those with a complete epoch), with the property keys
// of each Run node and of its complete Epoch nodes: what a population can be grouped by.
// Parameters: $runs - run names, a name ending in * standing for every run it begins ('ens-*').
// Example: graph.query("read/population_runs", runs=["ens-*"])
MATCH (run:Run)
WHERE any(pattern IN $runs WHERE run.name = pattern OR (pattern ENDS WITH '*' AND run.name STARTS WITH left(pattern, size(pattern) - 1)))
MATCH (run)-[:HAS_EPOCH]->(e:Epoch {complete: true})
WITH run, collect(keys(e)) AS epoch_keys
RETURN run.name AS run, keys(run) AS run_keys, reduce(all = [], k IN epoch_keys | all + [key IN k WHERE NOT key IN all]) AS epoch_keys
ORDER BY run

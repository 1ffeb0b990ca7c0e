// The node layers of a run whose neurons have LINKs into them, and how many LINKs each has: what
// `write/link_summaries` goes through, a layer at a time.
// Parameters: $rid - run id.
// Example: graph.runner.run("write/linked_layers", rid=42)
MATCH (n:Neuron {rid: $rid})
WHERE n.linked
RETURN n.layer AS layer, sum(size(n.in_units)) AS links
ORDER BY layer

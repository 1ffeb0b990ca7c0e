// cntgraph: every recorded run with its node layers, as a graph.
// Parameters: none.
// Example: cntgraph browser (opens it in Neo4j Browser), or: cntgraph query browser/runs
MATCH (run:Run)
OPTIONAL MATCH (run)-[has:HAS_LAYER]->(layer:Layer)
RETURN run, has, layer

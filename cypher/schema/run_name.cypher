// One Run node per name.
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture.
CREATE CONSTRAINT cntgraph_run_name IF NOT EXISTS FOR (r:Run) REQUIRE r.name IS UNIQUE

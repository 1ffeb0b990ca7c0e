// One Run node per numeric run id (rid), the key every other record carries.
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture.
CREATE CONSTRAINT cntgraph_run_rid IF NOT EXISTS FOR (r:Run) REQUIRE r.rid IS UNIQUE

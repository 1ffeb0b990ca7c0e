// Answers one row: checks that the server runs queries on the database with these credentials.
// Parameters: none.
// Example: graph.runner.verify(), or: cntgraph query read/ping
RETURN 1 AS ok

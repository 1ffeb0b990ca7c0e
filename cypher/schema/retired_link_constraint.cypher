// Removes the LINK uniqueness constraint of stores written with the first cntgraph layout (one LINK relationship per link and epoch).
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture; does nothing on newer stores.
DROP CONSTRAINT cntgraph_link_key IF EXISTS

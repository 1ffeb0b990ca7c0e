// Removes the LINK (rid, epoch) index of stores written with the first cntgraph layout (one LINK relationship per link and epoch).
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture; does nothing on newer stores.
DROP INDEX cntgraph_link_epoch IF EXISTS

// Removes the LINK uniqueness constraint of stores written before cntgraph_link_epoch_lid replaced it.
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture; does nothing on newer stores.
DROP CONSTRAINT cntgraph_link_key IF EXISTS

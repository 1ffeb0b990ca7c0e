// Removes the LINK (rid, epoch, lid) index of stores written before link weights moved into
// NeuronState.w_in arrays (cntgraph stores no LINK relationships any more).
// Parameters: none.
// Example: applied by Graph.ensure_schema() on the first capture; does nothing on newer stores.
DROP INDEX cntgraph_link_epoch_lid IF EXISTS

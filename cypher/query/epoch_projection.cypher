// One complete epoch of a run ready for a graph projection: a row per stored link with its source
// and target Neuron nodes and its weight `w` at that epoch (also `abs_w`, for algorithms that want
// positive weights). With the Graph Data Science library, wrap it as
// `... WITH gds.graph.project('mlp-1@19', source, target, {relationshipProperties: {w: w}}) AS g RETURN g`.
// Parameters: $run - run name; $epoch - epoch.
// Example: graph.query("query/epoch_projection", run="mlp-1", epoch=19)
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: $epoch, complete: true})
MATCH (source:Neuron {rid: run.rid})-[link:LINK]->(target:Neuron)-[:HAS_STATE]->(state:NeuronState {epoch: $epoch})
RETURN source, target, state.w_in[link.i] AS w, abs(state.w_in[link.i]) AS abs_w

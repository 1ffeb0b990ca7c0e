// cntgraph: one complete epoch of a run as a graph: its stored neurons and their links at that epoch.
// A link is a virtual LINK relationship {w, epoch} made on the fly from NeuronState.w_in (APOC:
// the managed server and docker/ ship it); nothing is written. The source of w_in[i] is unit
// in_units[i] of node layer in_layers[i] (layer - 1 in runs stored before in_layers existed).
// Parameters: $run - run name; $epoch - epoch.
// Example: cntgraph browser mlp-1 --epoch 19, or in Browser: :param run => 'mlp-1', :param epoch => 19
MATCH (run:Run {name: $run})-[:HAS_EPOCH]->(:Epoch {epoch: $epoch, complete: true})
MATCH (neuron:Neuron {rid: run.rid})
OPTIONAL MATCH (neuron)-[:HAS_STATE]->(state:NeuronState {epoch: $epoch})
UNWIND CASE WHEN state.w_in IS NULL THEN [null] ELSE range(0, size(state.w_in) - 1) END AS i
OPTIONAL MATCH (source:Neuron {rid: run.rid, layer: coalesce(neuron.in_layers[i], neuron.layer - 1), unit: neuron.in_units[i]})
RETURN neuron, source,
       CASE WHEN source IS NULL THEN null
            ELSE apoc.create.vRelationship(source, 'LINK', {w: state.w_in[i], epoch: $epoch}, neuron) END AS link

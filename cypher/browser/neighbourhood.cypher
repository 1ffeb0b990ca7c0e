// cntgraph: a neuron's neighbourhood over time: the neuron, the stored neurons it is linked with (in and out), and each link's weight at every complete epoch.
// The graph view draws the neuron, its neighbours and the LINKs (double-click a neighbour to go
// further); the table view has, per link, the epochs and the weights at them.
// Parameters: $run - run name; $layer - node layer; $unit - unit.
// Example: in Browser: :params {run: 'mlp-1', layer: 1, unit: 5}
MATCH (run:Run {name: $run})
MATCH (neuron:Neuron {rid: run.rid, layer: toInteger($layer), unit: toInteger($unit)})
MATCH path = (neuron)-[link:LINK]-(other:Neuron)
WITH run, path, other, link, endNode(link) AS target
MATCH (target)-[:HAS_STATE]->(state:NeuronState)
MATCH (:Epoch {rid: run.rid, epoch: state.epoch, complete: true})
WITH path, other, link, state
ORDER BY state.epoch
RETURN path, CASE WHEN startNode(link) = other THEN 'in' ELSE 'out' END AS direction, other.layer AS layer,
       other.unit AS unit, collect(state.epoch) AS epochs, collect(state.w_in[link.i]) AS weights
ORDER BY direction, layer, unit

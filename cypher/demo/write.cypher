// Writes a tiny 2-2-1 neuron graph for `cntgraph demo`, replacing an earlier one.
// Parameters: $neurons - list of {id: int, layer: int}; $links - list of {src: int, dst: int, w: float}.
// Example: cntgraph demo
CALL () { MATCH (old:DemoNeuron) DETACH DELETE old }
UNWIND $neurons AS neuron
CREATE (:DemoNeuron {id: neuron.id, layer: neuron.layer})
WITH count(*) AS neurons
UNWIND $links AS link
MATCH (src:DemoNeuron {id: link.src}), (dst:DemoNeuron {id: link.dst})
CREATE (src)-[:DEMO_LINK {w: link.w}]->(dst)
RETURN neurons, count(*) AS links

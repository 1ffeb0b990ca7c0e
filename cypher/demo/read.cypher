// Reads back the demo graph's links, in a stable order.
// Parameters: none.
// Example: cntgraph query demo/read
MATCH (src:DemoNeuron)-[link:DEMO_LINK]->(dst:DemoNeuron)
RETURN src.layer AS src_layer, src.id AS src, dst.layer AS dst_layer, dst.id AS dst, link.w AS w
ORDER BY src, dst

"""The PyTorch side: trace a model into a :class:`~cntgraph.core.network.Topology`, copy its weights
into a :class:`~cntgraph.core.network.Snapshot`, and the model-level metric functions."""

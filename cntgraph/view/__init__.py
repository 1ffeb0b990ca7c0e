"""``cntgraph view``: watch a run learn in a local web page (Dash with Cytoscape.js), read-only.

- :mod:`.layout`: the picture as Cytoscape elements (pure: positions, colours, sizes);
- :mod:`.data`: a run's picture read through the read API, cached per epoch;
- :mod:`.app`: the Dash app and a local server for it.
"""

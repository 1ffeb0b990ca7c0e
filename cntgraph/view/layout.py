"""The picture of a run at an epoch, as Cytoscape.js elements: layers as columns, links coloured by weight.

Pure functions of DataFrames read through :class:`~cntgraph.store.graph.Graph` (no Dash, no
driver), so the picture is tested without a browser:

- :func:`positions`: node groups as columns in forward order (input on the left), the stored units
  of a column in unit order, top to bottom; units of a convolution grouped by channel, with a gap
  between channels. Positions depend only on the run's layers and sample, never on the epoch, so a
  redraw on an epoch change moves nothing.
- :func:`elements`: nodes coloured by signed strength ``s`` and links coloured and sized by signed
  weight ``w``, on scales fixed for the run (:class:`Scales`), at most ``max_links`` links (those of
  largest ``|w|``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
import pandas as pd

__all__ = ["COLUMN_GAP", "HEIGHT", "Scales", "positions", "elements", "node_id", "link_id"]

#: pixels between two columns, and the height every column is spread over
COLUMN_GAP, HEIGHT = 500.0, 900.0
#: the gap between two channels of a convolution, in units of the distance between two units
CHANNEL_GAP = 3.0
_COLOURS = matplotlib.colormaps["RdBu_r"]  # negative blue, zero white, positive red


@dataclass(frozen=True)
class Scales:
    """The ``|s|`` and ``|w|`` that map to the ends of the colour scale, fixed for a whole run."""

    strength: float
    weight: float

    @classmethod
    def of(cls, nodes: pd.DataFrame, links: pd.DataFrame) -> Scales:
        """Scales from one epoch's nodes (``s``) and links (``w``): the largest magnitudes, 1 when empty.

        Example:
            >>> Scales.of(pd.DataFrame({"s": [-2.0, 1.0]}), pd.DataFrame({"w": [0.5]}))
            Scales(strength=2.0, weight=0.5)
        """
        return cls(_largest(nodes["s"]), _largest(links["w"]))


def node_id(layer: int, unit: int) -> str:
    """The element id of neuron ``(layer, unit)``.

    Example:
        >>> node_id(1, 5)
        '1:5'
    """
    return f"{layer}:{unit}"


def link_id(src_layer: int, src_unit: int, dst_layer: int, dst_unit: int) -> str:
    """The element id of the link ``(src_layer, src_unit) -> (dst_layer, dst_unit)``.

    Example:
        >>> link_id(0, 3, 1, 5)
        '0:3->1:5'
    """
    return f"{node_id(src_layer, src_unit)}->{node_id(dst_layer, dst_unit)}"


def positions(layers: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """``layer``, ``unit``, ``x``, ``y`` of every stored unit: one column per node layer, in unit order.

    ``layers`` has ``layer`` and ``shape`` (per sample; a (C, H, W) or (C, L) shape groups units by
    channel); ``units`` has ``layer`` and ``unit``. A column's units are spread over
    :data:`HEIGHT`, centred, with :data:`CHANNEL_GAP` unit distances between channels.

    Example (two inputs, then two channels of 2 pixels with one unit each stored):
        >>> layers = pd.DataFrame({"layer": [0, 1], "shape": [[2], [2, 1, 2]]})
        >>> units = pd.DataFrame({"layer": [0, 0, 1, 1], "unit": [0, 1, 0, 3]})
        >>> placed = positions(layers, units)
        >>> placed[["layer", "unit"]].values.tolist(), placed["x"].tolist(), placed["y"].tolist()
        ([[0, 0], [0, 1], [1, 0], [1, 3]], [0.0, 0.0, 500.0, 500.0], [0.0, 900.0, 0.0, 900.0])
    """
    shapes = {int(layer): tuple(shape) for layer, shape in zip(layers["layer"], layers["shape"], strict=True)}
    placed = []
    for layer, part in units.sort_values(["layer", "unit"]).groupby("layer", sort=True):
        unit = part["unit"].to_numpy(dtype=np.int64)
        shape = shapes[int(layer)]
        slot = np.arange(unit.size, dtype=np.float64)
        if len(shape) > 1:  # channels first: (C, H, W) or (C, L)
            channel = unit // int(np.prod(shape[1:]))
            slot += CHANNEL_GAP * np.unique(channel, return_inverse=True)[1]
        span = slot[-1] - slot[0] if slot.size > 1 else 0.0
        y = (slot - slot[0]) / span * HEIGHT if span else np.full(unit.size, HEIGHT / 2)
        placed.append(pd.DataFrame({"layer": int(layer), "unit": unit, "x": float(layer) * COLUMN_GAP, "y": y}))
    return pd.concat(placed, ignore_index=True) if placed else pd.DataFrame(columns=["layer", "unit", "x", "y"])


def elements(
    places: pd.DataFrame, nodes: pd.DataFrame, links: pd.DataFrame, scales: Scales, max_links: int
) -> list[dict[str, Any]]:
    """Cytoscape.js elements: a node per row of ``places`` and the ``max_links`` links of largest ``|w|``.

    ``nodes`` has ``layer``, ``unit``, ``s_in``, ``s_out``, ``s`` (one epoch's strengths);
    ``links`` has ``src_layer``, ``src_unit``, ``dst_layer``, ``dst_unit``, ``w``. A node carries
    ``s`` and its colour, a link ``w``, its colour and its width (0.5 to 6 pixels by ``|w|``).

    Example:
        >>> places = pd.DataFrame({"layer": [0, 1], "unit": [0, 0], "x": [0.0, 500.0], "y": [450.0, 450.0]})
        >>> nodes = pd.DataFrame({"layer": [0, 1], "unit": [0, 0], "s_in": [1.0, 0.5], "s_out": [0.5, 1.0], "s": [1.5, 1.5]})
        >>> links = pd.DataFrame({"src_layer": [0], "src_unit": [0], "dst_layer": [1], "dst_unit": [0], "w": [-0.5]})
        >>> drawn = elements(places, nodes, links, Scales(1.5, 0.5), max_links=10)
        >>> [e["data"]["id"] for e in drawn], drawn[2]["data"]["w"], drawn[2]["data"]["width"]
        (['0:0', '1:0', '0:0->1:0'], -0.5, 6.0)
    """
    by_unit = nodes.set_index(["layer", "unit"])
    drawn: list[dict[str, Any]] = []
    for place in places.itertuples(index=False):
        key = (int(place.layer), int(place.unit))
        s = float(by_unit.at[key, "s"]) if key in by_unit.index else float("nan")
        drawn.append({
            "data": {"id": node_id(*key), "label": node_id(*key), "layer": key[0], "unit": key[1], "s": s,
                     "colour": _colour(s, scales.strength)},
            "position": {"x": float(place.x), "y": float(place.y)},
        })  # fmt: skip
    strongest = links.reindex(links["w"].abs().sort_values(ascending=False, kind="stable").index[:max_links])
    for link in strongest.itertuples(index=False):
        ends = (int(link.src_layer), int(link.src_unit), int(link.dst_layer), int(link.dst_unit))
        w = float(link.w)
        drawn.append({"data": {
            "id": link_id(*ends), "source": node_id(*ends[:2]), "target": node_id(*ends[2:]), "w": w,
            "colour": _colour(w, scales.weight), "width": round(0.5 + 5.5 * min(abs(w) / scales.weight, 1.0), 3),
        }})  # fmt: skip
    return drawn


def _colour(value: float, scale: float) -> str:
    """``value`` on a blue (negative) - white - red (positive) scale reaching its ends at ``+-scale``."""
    if not np.isfinite(value):
        return "#bbbbbb"
    return matplotlib.colors.to_hex(_COLOURS(0.5 + 0.5 * max(-1.0, min(1.0, value / scale))))


def _largest(values: pd.Series) -> float:
    largest = float(values.abs().max()) if len(values) else 0.0
    return largest if largest > 0 and np.isfinite(largest) else 1.0

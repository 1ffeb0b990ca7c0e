"""The view's picture without a browser: positions, colours, sizes and the link limit, on hand-made frames."""

from __future__ import annotations

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cntgraph.view.layout import COLUMN_GAP, HEIGHT, Scales, elements, positions


def frames(sizes: list[int], seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Layers of a fully connected chain of ``sizes``, its nodes and links with random signed values."""
    rng = np.random.default_rng(seed)
    layers = pd.DataFrame({"layer": range(len(sizes)), "shape": [[n] for n in sizes]})
    nodes = pd.DataFrame([(layer, unit) for layer, n in enumerate(sizes) for unit in range(n)], columns=["layer", "unit"])
    nodes["s"] = rng.normal(size=len(nodes))
    links = pd.DataFrame(
        [(layer, i, layer + 1, j) for layer in range(len(sizes) - 1) for i in range(sizes[layer]) for j in range(sizes[layer + 1])],
        columns=["src_layer", "src_unit", "dst_layer", "dst_unit"],
    )
    links["w"] = rng.normal(size=len(links))
    return layers, nodes, links


def test_columns_follow_the_layers_and_units_run_top_down() -> None:
    layers, nodes, _ = frames([4, 3, 2])
    placed = positions(layers, nodes.sample(frac=1.0, random_state=1))  # order of the rows does not matter
    assert placed.groupby("layer")["x"].unique().map(list).tolist() == [[0.0], [COLUMN_GAP], [2 * COLUMN_GAP]]
    for _, column in placed.groupby("layer"):
        assert column["unit"].is_monotonic_increasing and column["y"].is_monotonic_increasing
        assert (column["y"].min(), column["y"].max()) == (0.0, HEIGHT)


def test_channels_of_a_convolution_are_grouped_with_a_gap() -> None:
    # 2 channels of 2x2 pixels, every unit stored: the step between channels is 1 + CHANNEL_GAP unit steps
    layers = pd.DataFrame({"layer": [0], "shape": [[2, 2, 2]]})
    placed = positions(layers, pd.DataFrame({"layer": 0, "unit": range(8)}))
    steps = np.diff(placed["y"].to_numpy())
    assert steps[:3] == pytest.approx([steps[0]] * 3) and steps[4:] == pytest.approx([steps[0]] * 3)
    assert steps[3] == pytest.approx(4 * steps[0])


def test_a_lone_unit_sits_in_the_middle() -> None:
    placed = positions(pd.DataFrame({"layer": [0], "shape": [[5]]}), pd.DataFrame({"layer": [0], "unit": [3]}))
    assert placed["y"].tolist() == [HEIGHT / 2]


def test_elements_carry_the_stored_values_and_their_colours() -> None:
    layers, nodes, links = frames([3, 2])
    scales = Scales.of(nodes, links)
    drawn = elements(positions(layers, nodes), nodes, links, scales, max_links=100)
    by_id = {e["data"]["id"]: e["data"] for e in drawn}
    for link in links.itertuples(index=False):
        data = by_id[f"{link.src_layer}:{link.src_unit}->{link.dst_layer}:{link.dst_unit}"]
        assert data["w"] == link.w
        red, _, blue = matplotlib.colors.to_rgb(data["colour"])
        assert (red > blue) == (link.w > 0)  # positive red, negative blue
    widths = sorted((abs(d["w"]), d["width"]) for d in by_id.values() if "w" in d)
    assert [w for _, w in widths] == sorted(w for _, w in widths) and widths[-1][1] == 6.0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=2, max_size=4), st.integers(0, 40), st.integers(0, 10_000))
def test_at_most_max_links_are_drawn_and_they_are_the_strongest(sizes: list[int], limit: int, seed: int) -> None:
    layers, nodes, links = frames(sizes, seed)
    drawn = elements(positions(layers, nodes), nodes, links, Scales.of(nodes, links), max_links=limit)
    edges = [e["data"]["w"] for e in drawn if "source" in e["data"]]
    assert len([e for e in drawn if "source" not in e["data"]]) == len(nodes)
    assert len(edges) == min(limit, len(links))
    if edges and len(edges) < len(links):
        assert min(map(abs, edges)) >= np.sort(links["w"].abs().to_numpy())[-len(edges)]

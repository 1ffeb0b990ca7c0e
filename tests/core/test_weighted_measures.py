"""Weighted-network measures against hand-worked graphs and against the unrolled graph of tests/unrolled.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from torch import nn

import cntgraph
from cntgraph.core import weighted_measures
from cntgraph.core.network import dense_snapshot
from cntgraph.core.weighted_measures import (
    absolute_strength,
    disparity,
    link_assortativity,
    network_assortativity,
)
from cntgraph.model.metrics import as_snapshot
from tests.unrolled import networks, unrolled

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

# W1 = [[1, -2], [0.5, 0.5]], b1 = [1, 0]; W2 = [[2, -1]], b2 = [0]
HAND = dense_snapshot([[[1.0, -2.0], [0.5, 0.5]], [[2.0, -1.0]]], biases=[[1.0, 0.0], [0.0]])


def test_absolute_strength_hand_worked() -> None:
    table = absolute_strength(HAND)
    # inputs: |1| + |0.5|, |-2| + |0.5| out; hidden: 1 + 2 + 1 and 0.5 + 0.5 + 0 in, 2 and 1 out; output: 2 + 1 + 0 in
    assert table.abs_s_in.tolist() == [1.0, 1.0, 4.0, 1.0, 3.0]
    assert table.abs_s_out.tolist() == [1.5, 2.5, 2.0, 1.0, 1.0]
    assert table.abs_s.tolist() == [2.5, 3.5, 6.0, 2.0, 4.0]


def test_disparity_hand_worked() -> None:
    table = disparity(HAND)
    assert table.k_in.tolist() == [0, 0, 3, 3, 3]  # a bias of 0 is a link, as a weight of 0 is
    assert table.k_out.tolist() == [2, 2, 1, 1, 0]
    np.testing.assert_allclose(
        table.disparity_in, [np.nan, np.nan, (1 + 4 + 1) / 16, (0.25 + 0.25) / 1, (4 + 1) / 9], rtol=1e-15
    )
    np.testing.assert_allclose(
        table.disparity_out, [(1 + 0.25) / 2.25, (4 + 0.25) / 6.25, 1.0, 1.0, np.nan], rtol=1e-15
    )


def test_disparity_of_equal_weights_is_one_over_k() -> None:
    table = disparity(dense_snapshot([np.full((3, 5), -0.7)], biases=[None]))
    np.testing.assert_allclose(table.disparity_in[table.layer == 1], 1 / 5, rtol=1e-15)
    np.testing.assert_allclose(table.disparity_out[table.layer == 0], 1 / 3, rtol=1e-15)


def test_disparity_is_nan_where_all_weights_are_zero() -> None:
    table = disparity(dense_snapshot([[[0.0, 0.0], [1.0, 0.0]]], biases=[None]))
    assert math.isnan(table.disparity_in[2]) and table.disparity_in[3] == 1.0
    assert table.disparity_out[0] == 1.0 and math.isnan(table.disparity_out[1])


def test_assortativity_hand_worked_by_weight() -> None:
    # layer 1's links (|w|, x = |s|_out of the source, y = |s|_in of the target):
    # (1, 1.5, 4), (2, 2.5, 4), (0.5, 1.5, 1), (0.5, 2.5, 1): weighted means 2.125 and 3.25
    w = np.array([1.0, 2.0, 0.5, 0.5])
    dx, dy = np.array([1.5, 2.5, 1.5, 2.5]) - 2.125, np.array([4.0, 4.0, 1.0, 1.0]) - 3.25
    expected = (w * dx * dy).sum() / math.sqrt((w * dx * dx).sum() * (w * dy * dy).sum())
    table = link_assortativity(HAND, by_weight=True)
    assert table.links.tolist() == [4, 2]
    assert table.r[0] == pytest.approx(expected, rel=1e-12) and expected == pytest.approx(1 / math.sqrt(45))
    assert math.isnan(table.r[1])  # both links end at the one output unit: its in-strength does not vary
    assert link_assortativity(HAND).r[0] == pytest.approx(0.0, abs=1e-15)  # dense, counted once


def test_assortativity_hand_worked_conv() -> None:
    # Conv1d 1 -> 1, kernel (1, 2), stride 2, padding 1, on 3 inputs: out 0 <- in 0 (tap 2), out 1 <- in 1 (tap 1),
    # in 2 (tap 2). Out-strengths 2, 1, 2; in-strengths 2, 3: links (2, 2), (1, 3), (2, 3): r = -1/2
    conv = nn.Conv1d(1, 1, 2, stride=2, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[1.0, 2.0]]]))
    table = cntgraph.link_assortativity(conv, input_shape=(1, 3))
    assert table.links.tolist() == [3]
    assert table.r[0] == pytest.approx(-0.5, rel=1e-12)
    assert cntgraph.network_assortativity(conv, input_shape=(1, 3)) == pytest.approx(-0.5, rel=1e-12)


def _expected_from_unrolled(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, list[np.ndarray]]:
    """Absolute strengths, disparities and per-layer r computed link by link from the unrolled graph."""
    graph = unrolled(model, input_shape)
    biased = [m.bias is not None for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    last = len(graph.sizes) - 1
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("abs_in", "abs_out", "k_in", "y_in", "y_out", "r", "r_w")}
    for layer, size in enumerate(graph.sizes):
        ins = [[abs(w) for *_, w in graph.graph.in_edges((layer, j), data="weight")] for j in range(size)]
        if layer:
            ins = [links + ([abs(graph.graph.nodes[(layer, j)]["bias"])] if biased[layer - 1] else []) for j, links in enumerate(ins)]
        outs = [[abs(w) for *_, w in graph.graph.out_edges((layer, i), data="weight")] for i in range(size)]
        out["abs_in"].append(np.array([1.0 if layer == 0 else math.fsum(v) for v in ins]))
        out["abs_out"].append(np.array([1.0 if layer == last else math.fsum(v) for v in outs]))
        out["k_in"].append(np.array([len(v) for v in ins]))
        for key, values in (("y_in", ins), ("y_out", outs)):
            out[key].append(np.array([math.fsum(x * x for x in v) / math.fsum(v) ** 2 if math.fsum(v) > 0 else np.nan for v in values]))
    for layer in range(1, last + 1):
        links = [(i, j, abs(w)) for (li, i), (lj, j), w in graph.graph.edges(data="weight") if lj == layer]
        x = np.array([out["abs_out"][layer - 1][i] for i, _, _ in links])
        y = np.array([out["abs_in"][layer][j] for _, j, _ in links])
        weight = np.array([w for *_, w in links])
        out["r"].append(_weighted_pearson(x, y, np.ones_like(weight)))
        out["r_w"].append(_weighted_pearson(x, y, weight))
    return out


def _weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    sxx, syy = np.average((x - mx) ** 2, weights=w), np.average((y - my) ** 2, weights=w)
    if sxx < 1e-20 or syy < 1e-20:
        return math.nan
    return float(np.average((x - mx) * (y - my), weights=w) / math.sqrt(sxx * syy))


@settings(max_examples=60, deadline=None)
@given(networks())
def test_measures_match_unrolled_graph(network: tuple[nn.Module, tuple[int, ...]]) -> None:
    model, input_shape = network
    expected = _expected_from_unrolled(model, input_shape)
    snapshot = as_snapshot(model, input_shape)
    strengths, disparities = absolute_strength(snapshot), disparity(snapshot)
    for layer, rows in strengths.groupby("layer"):
        np.testing.assert_allclose(rows.abs_s_in, expected["abs_in"][layer], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(rows.abs_s_out, expected["abs_out"][layer], rtol=1e-12, atol=1e-12)
    for layer, rows in disparities.groupby("layer"):
        assert rows.k_in.tolist() == expected["k_in"][layer].tolist()
        np.testing.assert_allclose(rows.disparity_in, expected["y_in"][layer], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(rows.disparity_out, expected["y_out"][layer], rtol=1e-10, atol=1e-12)
    for by_weight, key in ((False, "r"), (True, "r_w")):
        got = link_assortativity(snapshot, by_weight=by_weight).r.to_numpy()
        for r, want in zip(got, expected[key], strict=True):
            if math.isnan(want) or math.isnan(r):  # rounding decides whether a near-constant strength is constant
                continue
            assert r == pytest.approx(want, abs=1e-8)


def test_chunked_links_give_the_same_assortativity(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 2, stride=2), nn.Flatten(), nn.Linear(8, 4))
    snapshot = as_snapshot(model, (2, 5, 5))
    whole = link_assortativity(snapshot, by_weight=True), network_assortativity(snapshot)
    monkeypatch.setattr(weighted_measures, "_CHUNK_LINKS", 7)  # a few target units per chunk
    chunked = link_assortativity(snapshot, by_weight=True), network_assortativity(snapshot)
    assert chunked[0].links.tolist() == whole[0].links.tolist()
    np.testing.assert_allclose(chunked[0].r, whole[0].r, rtol=1e-12)
    assert chunked[1] == pytest.approx(whole[1], rel=1e-12)


def test_adaptive_pool_counts_only_the_pixels_of_each_window() -> None:
    # AdaptiveAvgPool2d on 5 pixels into 3: windows of unequal sizes; the links are the Jacobian's non-zero entries
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.AdaptiveAvgPool2d((3, 3)))
    snapshot = as_snapshot(model, (1, 5, 5))
    jacobian = torch.autograd.functional.jacobian(nn.AdaptiveAvgPool2d((3, 3)), torch.ones(1, 2, 5, 5)).reshape(18, 50)
    table = disparity(snapshot)
    assert table.k_in[table.layer == 2].tolist() == (jacobian != 0).sum(dim=1).tolist()
    assert table.k_out[table.layer == 1].tolist() == (jacobian != 0).sum(dim=0).tolist()
    np.testing.assert_allclose(table.disparity_in[table.layer == 2], 1 / (jacobian != 0).sum(dim=1).numpy(), rtol=1e-12)

"""layer_links against the unrolled graph of tests/unrolled.py, and against the strengths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cntgraph.core.links import layer_links
from cntgraph.core.metrics import layer_strengths
from cntgraph.core.network import Snapshot
from cntgraph.errors import ConfigurationError
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace
from tests.unrolled import networks, unrolled

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def subset(draw: st.DrawFn, size: int) -> np.ndarray | None:
    """None (all units) or a random sorted subset of range(size)."""
    if draw(st.booleans()):
        return None
    return np.array(sorted(draw(st.sets(st.integers(0, size - 1), max_size=size))), dtype=np.int64)


@settings(max_examples=100, deadline=None)
@given(networks(), st.data())
def test_links_match_unrolled_graph(network: tuple[nn.Module, tuple[int, ...]], data: st.DataObject) -> None:
    model, input_shape = network
    expected = unrolled(model, input_shape)
    snapshot = take_snapshot(model, trace(model, input_shape))
    for layer in range(1, len(expected.sizes)):
        src_units, dst_units = (
            subset(data.draw, expected.sizes[layer - 1]),
            subset(data.draw, expected.sizes[layer]),
        )
        src, dst, w = layer_links(snapshot, layer, src_units, dst_units)
        assert (src.dtype, dst.dtype, w.dtype) == (np.int64, np.int64, np.float64)
        assert len(src) == len(dst) == len(w)
        assert np.all(np.diff(dst * expected.sizes[layer - 1] + src) > 0)  # by dst, then src, no repeats
        src_set = set(range(expected.sizes[layer - 1]) if src_units is None else src_units.tolist())
        dst_set = set(range(expected.sizes[layer]) if dst_units is None else dst_units.tolist())
        wanted = {(i, j): w for (i, j), w in expected.links(layer).items() if i in src_set and j in dst_set}
        assert dict(zip(zip(src.tolist(), dst.tolist(), strict=True), w.tolist(), strict=True)) == wanted


@settings(max_examples=30, deadline=None)
@given(networks())
def test_links_sum_to_strengths_minus_bias(network: tuple[nn.Module, tuple[int, ...]]) -> None:
    model, input_shape = network
    snapshot = take_snapshot(model, trace(model, input_shape))
    strengths = layer_strengths(snapshot)
    for layer in snapshot.topology.layers:
        src, dst, w = layer_links(snapshot, layer.index)
        bias = snapshot.biases[layer.index - 1]
        # one bias per output channel (conv) or feature (linear)
        bias_per_unit = 0.0 if bias is None else np.repeat(bias, np.prod(layer.out_shape[1:], dtype=int))
        sizes = snapshot.topology.node_layers
        s_in = np.bincount(dst, weights=w, minlength=sizes[layer.index].size) + bias_per_unit
        s_out = np.bincount(src, weights=w, minlength=sizes[layer.index - 1].size)
        np.testing.assert_allclose(s_in, strengths[layer.index].s_in, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(s_out, strengths[layer.index - 1].s_out, rtol=1e-12, atol=1e-12)


def test_linear_links_are_the_weight_block() -> None:
    net = nn.Linear(4, 3)
    snapshot = take_snapshot(net, trace(net, (4,)))
    src, dst, w = layer_links(snapshot, 1, src_units=[1, 3], dst_units=[0, 2])
    assert src.tolist() == [1, 3, 1, 3] and dst.tolist() == [0, 0, 2, 2]
    np.testing.assert_array_equal(w, snapshot.weights[0][[0, 0, 2, 2], [1, 3, 1, 3]])


def test_conv_links_skip_padding_and_respect_groups() -> None:
    # groups=2, 1 channel per group, 1x1 kernel [[[[2]]], [[[3]]]]: output channel c sees only input channel c
    conv = nn.Conv2d(2, 2, 1, groups=2, bias=False)
    snapshot = Snapshot(
        trace(conv, (2, 1, 2)), weights=(np.array([2.0, 3.0]).reshape(2, 1, 1, 1),), biases=(None,)
    )
    src, dst, w = layer_links(snapshot, 1)
    assert list(zip(src.tolist(), dst.tolist(), w.tolist(), strict=True)) == [
        (0, 0, 2.0),
        (1, 1, 2.0),
        (2, 2, 3.0),
        (3, 3, 3.0),
    ]


def test_empty_selection_gives_no_links() -> None:
    net = nn.Conv2d(1, 2, 3)
    src, dst, w = layer_links(take_snapshot(net, trace(net, (1, 4, 4))), 1, src_units=[])
    assert src.size == dst.size == w.size == 0


@pytest.mark.parametrize(
    ("layer_index", "src_units", "match"),
    [
        (0, None, "layer_index"),
        (2, None, "layer_index"),
        (1, [16], "0..15"),
        (1, [-1], "0..15"),
        (1, [[0]], "1-d"),
        (1, [0.5], "int"),
    ],
)
def test_bad_arguments(layer_index: int, src_units: list | None, match: str) -> None:
    net = nn.Conv2d(1, 2, 3)
    snapshot = take_snapshot(net, trace(net, (1, 4, 4)))
    with pytest.raises(ConfigurationError, match=match):
        layer_links(snapshot, layer_index, src_units)

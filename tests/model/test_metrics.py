"""Metrics against hand-worked examples and against the unrolled graph of tests/unrolled.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cntgraph.core.metrics import fixed_bins, histogram, layer_strengths, summary_stats
from cntgraph.core.network import Snapshot
from cntgraph.errors import ConfigurationError, MetricError
from cntgraph.model.metrics import (
    layer_fluctuation,
    layer_parameters,
    link_weights,
    node_strength,
)
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace
from tests.unrolled import networks, unrolled

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

RTOL = ATOL = 1e-12


def set_params(module: nn.Module, weight: list, bias: list | None = None) -> nn.Module:
    with torch.no_grad():
        module.weight.copy_(torch.tensor(weight))
        if bias is not None:
            module.bias.copy_(torch.tensor(bias))
    return module


def mlp_221() -> nn.Module:
    """W1 = [[1, 2], [3, 4]], b1 = [0.5, -0.5]; W2 = [[1, -1]], b2 = [2]."""
    return nn.Sequential(
        set_params(nn.Linear(2, 2), [[1.0, 2.0], [3.0, 4.0]], [0.5, -0.5]),
        nn.ReLU(),
        set_params(nn.Linear(2, 1), [[1.0, -1.0]], [2.0]),
    )


def test_mlp_221_by_hand() -> None:
    df = node_strength(mlp_221(), input_shape=(2,))
    # input: s_in = 1 (convention); s_out = column sums of W1 = (1 + 3, 2 + 4) = (4, 6)
    # hidden: s_in = row sums + b1 = (3 + 0.5, 7 - 0.5) = (3.5, 6.5); s_out = columns of W2 = (1, -1)
    # output: s_in = 1 - 1 + 2 = 2; s_out = 1 (convention)
    assert df.layer.tolist() == [0, 0, 1, 1, 2]
    assert df.unit.tolist() == [0, 1, 0, 1, 0]
    assert df.s_in.tolist() == [1.0, 1.0, 3.5, 6.5, 2.0]
    assert df.s_out.tolist() == [4.0, 6.0, 1.0, -1.0, 1.0]
    assert df.s.tolist() == [5.0, 7.0, 4.5, 5.5, 3.0]
    # fluctuation = population std of s: |7 - 5| / 2 = 1, |5.5 - 4.5| / 2 = 0.5, one unit -> 0
    fluctuation = layer_fluctuation(mlp_221(), input_shape=(2,))
    assert fluctuation.layer.tolist() == [0, 1, 2]
    assert fluctuation.fluctuation.tolist() == [1.0, 0.5, 0.0]


def test_node_strength_dtypes() -> None:
    df = node_strength(mlp_221(), input_shape=(2,))
    assert list(df.columns) == ["layer", "unit", "s_in", "s_out", "s"]
    assert [str(t) for t in df.dtypes] == ["int64", "int64", "float64", "float64", "float64"]


def test_conv_padding_is_exact_at_borders() -> None:
    # all-ones 3x3 kernel, padding 1, 3x3 input: an output pixel sums the kernel entries that land
    # inside the input: 4 at corners, 6 on edges, 9 in the centre (the reference code said 9
    # everywhere). Symmetrically each input pixel is seen by 4 / 6 / 9 output pixels.
    conv = set_params(nn.Conv2d(1, 1, 3, padding=1), torch.ones(1, 1, 3, 3).tolist(), [0.0])
    border = [4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0]
    strengths = layer_strengths(take_snapshot(conv, trace(conv, (1, 3, 3))))
    assert strengths[1].s_in.tolist() == border
    assert strengths[0].s_out.tolist() == border


def test_conv_stride_leaves_unlinked_inputs() -> None:
    # 2x2 kernel [[1, 2], [3, 4]], stride 2, 3x3 input -> one output pixel, seeing input rows and
    # columns 0-1 only: s_in = 1 + 2 + 3 + 4 + bias 0.5 = 10.5; the last row and column of the
    # input have no links, s_out = 0 (conv_transpose2d needs output_padding 1 here)
    conv = set_params(nn.Conv2d(1, 1, 2, stride=2), [[[[1.0, 2.0], [3.0, 4.0]]]], [0.5])
    strengths = layer_strengths(take_snapshot(conv, trace(conv, (1, 3, 3))))
    assert strengths[1].s_in.tolist() == [10.5]
    assert strengths[0].s_out.tolist() == [1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0]
    assert strengths[1].s_out.tolist() == [1.0]


def test_flatten_keeps_chw_unit_order() -> None:
    # conv output (2, 2, 2) flattened into Linear(8, 1) with weights 0..7: conv unit (c, y, x)
    # feeds feature c*4 + y*2 + x, so its s_out is that feature's weight
    conv = nn.Conv2d(1, 2, 2)
    net = nn.Sequential(conv, nn.Flatten(), set_params(nn.Linear(8, 1), [list(map(float, range(8)))]))
    df = node_strength(net, input_shape=(1, 3, 3))
    assert df[df.layer == 1].s_out.tolist() == list(map(float, range(8)))


@settings(max_examples=100, deadline=None)
@given(networks())
def test_strengths_match_unrolled_graph(network: tuple[nn.Module, tuple[int, ...]]) -> None:
    model, input_shape = network
    expected = unrolled(model, input_shape)
    df = node_strength(model, input_shape=input_shape)
    fluctuation = layer_fluctuation(model, input_shape=input_shape)
    assert df.groupby("layer").size().tolist() == expected.sizes
    for layer, rows in df.groupby("layer"):
        assert rows.unit.tolist() == list(range(expected.sizes[layer]))
        s_in, s_out = expected.s_in(layer), expected.s_out(layer)
        np.testing.assert_allclose(rows.s_in, s_in, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(rows.s_out, s_out, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(rows.s, s_in + s_out, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(fluctuation.fluctuation[layer], np.std(s_in + s_out), rtol=RTOL, atol=ATOL)


CONV_CASES = {  # Conv2d arguments, input (C, H, W): border cases the random draw may miss
    "same, even kernel, dilation": (
        dict(in_channels=2, out_channels=2, kernel_size=(2, 4), padding="same", dilation=(1, 3)),
        (2, 5, 6),
    ),
    "same, odd kernel, no bias": (
        dict(in_channels=1, out_channels=3, kernel_size=3, padding="same", bias=False),
        (1, 4, 4),
    ),
    "stride leftovers": (dict(in_channels=1, out_channels=2, kernel_size=2, stride=3), (1, 7, 8)),
    "asymmetric padding and stride": (
        dict(in_channels=3, out_channels=3, kernel_size=(3, 1), stride=(2, 1), padding=(2, 0)),
        (3, 5, 4),
    ),
    "groups, dilation over stride": (
        dict(in_channels=4, out_channels=6, kernel_size=2, groups=2, dilation=2, stride=2, padding=1),
        (4, 6, 6),
    ),
    "depthwise": (dict(in_channels=3, out_channels=3, kernel_size=3, groups=3, padding=1), (3, 4, 3)),
}


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_cases_match_unrolled_graph(case: str) -> None:
    arguments, input_shape = CONV_CASES[case]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(**arguments), nn.ReLU(), nn.Flatten())
    model.append(nn.Linear(model(torch.zeros(1, *input_shape)).shape[1], 3))
    expected = unrolled(model, input_shape)
    df = node_strength(model, input_shape=input_shape)
    for layer, rows in df.groupby("layer"):
        np.testing.assert_allclose(rows.s_in, expected.s_in(layer), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(rows.s_out, expected.s_out(layer), rtol=RTOL, atol=ATOL)


def spec_conv_strengths(conv: nn.Conv2d, input_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """cnt-metrics.md's formulas: s_in = conv2d of ones; s_out = conv_transpose2d of ones with
    output_padding = (H + 2 pad - dil (k - 1) - 1) mod stride per axis (symmetric padding only)."""
    kernel = conv.weight.detach().double()
    bias = None if conv.bias is None else conv.bias.detach().double()
    s_in = F.conv2d(
        torch.ones(1, *input_shape, dtype=torch.float64),
        kernel,
        bias,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
    )
    output_padding = [
        (n + 2 * p - d * (k - 1) - 1) % s
        for n, p, d, k, s in zip(
            input_shape[1:], conv.padding, conv.dilation, conv.kernel_size, conv.stride, strict=True
        )
    ]
    s_out = F.conv_transpose2d(
        torch.ones_like(s_in),
        kernel,
        None,
        conv.stride,
        conv.padding,
        output_padding,
        conv.groups,
        conv.dilation,
    )
    return s_in.reshape(-1).numpy(), s_out.reshape(-1).numpy()


@pytest.mark.parametrize(
    "case", [name for name, (arguments, _) in CONV_CASES.items() if arguments.get("padding") != "same"]
)
def test_conv_cases_match_spec_formula(case: str) -> None:
    arguments, input_shape = CONV_CASES[case]
    torch.manual_seed(1)
    conv = nn.Conv2d(**arguments)
    strengths = layer_strengths(take_snapshot(conv, trace(conv, input_shape)))
    s_in, s_out = spec_conv_strengths(conv, input_shape)
    np.testing.assert_allclose(strengths[1].s_in, s_in, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(strengths[0].s_out, s_out, rtol=RTOL, atol=ATOL)


def test_link_weights_summarise_weights_and_biases() -> None:
    net = mlp_221()
    bins = fixed_bins(-1.0, 4.0, 5)
    df = link_weights(net, bins=bins, input_shape=(2,))
    assert df.layer.tolist() == [1, 2] and df.path.tolist() == ["0", "2"]
    values = np.array([1.0, 2.0, 3.0, 4.0, 0.5, -0.5])  # layer 1: W1 and b1
    first = df.iloc[0]
    assert first["count"] == 6
    assert first["mean"] == pytest.approx(values.mean()) and first["std"] == pytest.approx(values.std())
    assert (first["min"], first["max"]) == (-0.5, 4.0)
    assert first["q50"] == pytest.approx(np.quantile(values, 0.5))
    assert first["hist_counts"].tolist() == [1, 1, 1, 1, 2]  # [-1,0) [0,1) [1,2) [2,3) [3,4]
    np.testing.assert_array_equal(first["hist_edges"], bins)
    expected_columns = [
        "layer",
        "path",
        "count",
        "mean",
        "std",
        "min",
        "max",
        "q05",
        "q25",
        "q50",
        "q75",
        "q95",
    ]
    assert list(df.columns) == [*expected_columns, "hist_counts", "hist_edges"]


def test_link_weights_without_input_shape_uses_registration_order() -> None:
    net = mlp_221()
    traced = link_weights(net, input_shape=(2,))
    untraced = link_weights(net)
    pd.testing.assert_frame_equal(
        traced.drop(columns=["hist_counts", "hist_edges"]),
        untraced.drop(columns=["hist_counts", "hist_edges"]),
    )
    assert untraced.hist_counts[0].sum() == 6  # default 10 bins over the layer's own range


def test_snapshot_and_model_give_the_same_metrics() -> None:
    net = mlp_221()
    snapshot = take_snapshot(net, trace(net, (2,)))
    pd.testing.assert_frame_equal(node_strength(snapshot), node_strength(net, input_shape=(2,)))
    with pytest.raises(ConfigurationError, match="differs"):
        node_strength(snapshot, input_shape=(3,))
    with pytest.raises(ConfigurationError, match="input_shape"):
        node_strength(net)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_name_the_layer(bad: float) -> None:
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Sequential(nn.Linear(2, 2)))
    with torch.no_grad():
        net[2][0].weight[1, 0] = bad
    for call in (
        lambda: node_strength(net, input_shape=(3,)),
        lambda: layer_fluctuation(net, input_shape=(3,)),
        lambda: link_weights(net, input_shape=(3,)),
        lambda: link_weights(net),
    ):
        with pytest.raises(MetricError, match=r"layer '2\.0' has non-finite"):
            call()


def test_non_finite_bias_names_the_layer() -> None:
    conv = nn.Conv2d(1, 1, 2)
    with torch.no_grad():
        conv.bias[0] = float("nan")
    with pytest.raises(MetricError, match="non-finite"):
        node_strength(conv, input_shape=(1, 3, 3))


def test_snapshot_rejects_wrong_arrays() -> None:
    topology = trace(mlp_221(), (2,))
    good = (np.ones((2, 2)), np.ones((1, 2)))
    with pytest.raises(MetricError, match="shape"):
        Snapshot(topology, (np.ones((2, 3)), good[1]), (np.ones(2), np.ones(1)))
    with pytest.raises(MetricError, match="float64"):
        Snapshot(topology, (good[0].astype(np.float32), good[1]), (np.ones(2), np.ones(1)))
    with pytest.raises(MetricError, match="has_bias"):
        Snapshot(topology, good, (None, np.ones(1)))
    with pytest.raises(MetricError, match="one weight"):
        Snapshot(topology, good[:1], (np.ones(2),))


def test_snapshot_is_a_private_read_only_copy() -> None:
    net = mlp_221().double()  # float64 parameters: .to() alone would not copy
    snapshot = take_snapshot(net, trace(net, (2,)))
    with torch.no_grad():
        net[0].weight.fill_(7.0)
    assert snapshot.weights[0].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert not snapshot.weights[0].flags.writeable and snapshot.weights[0].flags.c_contiguous


def test_summary_stats_and_histogram() -> None:
    values = np.random.default_rng(0).normal(size=1001)
    stats = summary_stats(values)
    assert stats["count"] == 1001 and stats["std"] == pytest.approx(np.std(values))
    assert stats["q05"] == pytest.approx(np.quantile(values, 0.05))
    counts, edges = histogram(values, 7)
    assert counts.sum() == 1001 and len(edges) == 8 and counts.dtype == np.int64
    counts, _ = histogram([-5.0, 0.5, 5.0], fixed_bins(0.0, 1.0, 2))
    assert counts.tolist() == [0, 1]  # values outside the fixed edges are not counted
    with pytest.raises(MetricError):
        summary_stats([])
    with pytest.raises(ConfigurationError):
        histogram(values, [0.0, 0.0, 1.0])
    with pytest.raises(ConfigurationError):
        histogram(values, 0)
    with pytest.raises(ConfigurationError):
        fixed_bins(1.0, 0.0, 3)


def test_layer_parameters_are_weights_then_biases() -> None:
    net = mlp_221()
    from_snapshot = layer_parameters(take_snapshot(net, trace(net, (2,))))
    from_modules = layer_parameters(net)
    assert [(index, path) for index, path, _ in from_snapshot] == [(1, "0"), (2, "2")]
    assert from_snapshot[0][2].tolist() == [1.0, 2.0, 3.0, 4.0, 0.5, -0.5]
    for (_, _, a), (_, _, b) in zip(from_snapshot, from_modules, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-4.0, 4.0, allow_nan=False), min_size=1, max_size=200),
    st.floats(-3.0, 0.0), st.floats(0.01, 3.0), st.integers(1, 70),
)
def test_histograms_on_fixed_bins_count_as_numpy_does_with_the_edges(values: list[float], lo: float, width: float,
                                                                     bins: int) -> None:  # fmt: skip
    """The equal-width shortcut for fixed_bins edges gives numpy's counts for those explicit edges, values on
    the edges and outside them included."""
    edges = fixed_bins(lo, lo + width, bins)
    data = np.array(values + edges.tolist())  # every edge itself, too
    counts, got_edges = histogram(data, edges)
    expected, _ = np.histogram(data, bins=edges)  # numpy's search over the explicit edges
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_array_equal(got_edges, edges)

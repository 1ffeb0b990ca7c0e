"""Null models against closed forms and a Monte Carlo over explicitly unrolled graphs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import cntgraph
from cntgraph.core.metrics import layer_strengths
from cntgraph.core.network import dense_snapshot
from cntgraph.core.null_models import iid_fluctuation, null_model, shuffled
from cntgraph.errors import ConfigurationError
from cntgraph.model.metrics import as_snapshot
from tests.unrolled import unrolled


def random_mlp(seed: int, sizes: tuple[int, ...] = (7, 5, 4, 3)) -> tuple:
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0.3, 1.0, (n_out, n_in)) for n_in, n_out in zip(sizes, sizes[1:], strict=False)]
    biases = [rng.normal(-0.2, 0.5, n_out) for n_out in sizes[1:]]
    return dense_snapshot(weights, biases), weights, biases


def test_iid_prediction_is_the_papers_formula_for_an_mlp() -> None:
    snapshot, (w1, w2, w3), (b1, b2, b3) = random_mlp(0)
    predicted = iid_fluctuation(snapshot)
    # input: s = 1 + column sum of W1 (5 links out); hidden 1: 7 links in, a bias, 4 links out; ...; output: 4 in, a bias
    expected = [
        math.sqrt((1 - 1 / 7) * 5 * w1.var()),
        math.sqrt((1 - 1 / 5) * (7 * w1.var() + b1.var() + 4 * w2.var())),
        math.sqrt((1 - 1 / 4) * (5 * w2.var() + b2.var() + 3 * w3.var())),
        math.sqrt((1 - 1 / 3) * (4 * w3.var() + b3.var())),
    ]
    np.testing.assert_allclose(predicted, expected, rtol=1e-12)


def test_iid_prediction_matches_a_monte_carlo_over_the_unrolled_conv_graph() -> None:
    # every link of the explicit graph gets an independent draw from its layer's weights, every unit's bias from
    # its layer's biases: the mean squared fluctuation over many draws is the predicted one squared
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, stride=2), nn.Tanh(), nn.Flatten(), nn.Linear(18, 4))
    graph = unrolled(model, (1, 5, 5))
    modules = [model[0], model[3]]
    pools = [(m.weight.detach().double().numpy().ravel(), m.bias.detach().double().numpy()) for m in modules]
    edges = [[(i, j) for (li, i), (lj, j) in graph.graph.edges() if lj == layer] for layer in (1, 2)]
    rng = np.random.default_rng(1)
    draws, squared = 4000, np.zeros(3)
    for _ in range(draws):
        s = [np.zeros(n) for n in graph.sizes]
        s[0] += 1.0
        s[2] += 1.0  # the boundary convention: input s_in = 1, output s_out = 1
        for layer, (weights, bias) in enumerate(pools, start=1):
            src, dst = np.array(edges[layer - 1]).T
            w = rng.choice(weights, src.size)
            np.add.at(s[layer - 1], src, w)
            np.add.at(s[layer], dst, w)
            s[layer] += rng.choice(bias, graph.sizes[layer])
        squared += [np.var(x) for x in s]
    predicted = iid_fluctuation(as_snapshot(model, (1, 5, 5)))
    np.testing.assert_allclose(squared / draws, predicted**2, rtol=0.05)


def test_shuffled_keeps_each_layers_values_and_the_fixed_links() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8, 3))
    snapshot = as_snapshot(model, (1, 6, 6))
    again = shuffled(snapshot, np.random.default_rng(4))
    for layer, before, after in zip(snapshot.topology.layers, snapshot.weights, again.weights, strict=True):
        assert sorted(after.ravel()) == sorted(before.ravel())
        if layer.kind == "avgpool2d":
            assert np.array_equal(after, before)
    assert not np.array_equal(again.weights[0], snapshot.weights[0])
    assert all(sorted(a) == sorted(b) for a, b in zip(again.biases, snapshot.biases, strict=True) if b is not None)
    repeat = shuffled(snapshot, np.random.default_rng(4))
    assert all(np.array_equal(a, b) for a, b in zip(repeat.weights, again.weights, strict=True))


def test_shuffled_null_moments_of_a_unit_are_those_of_drawing_without_replacement() -> None:
    # hidden unit j: s = (7 of the 35 values of W1) + (1 of the 5 biases) + (4 of the 20 values of W2), three
    # independent permutations; a sum of k of N values drawn without replacement has mean k mu and
    # variance k sigma^2 (N - k) / (N - 1)
    snapshot, (w1, w2, _), (b1, _, _) = random_mlp(2)
    result = null_model(snapshot, draws=6000, seed=3)
    hidden = result.units[result.units.layer == 1]

    def moments(values: np.ndarray, k: int) -> tuple[float, float]:
        n = values.size
        return k * values.mean(), k * values.var() * (n - k) / (n - 1)

    parts = [moments(w1.ravel(), 7), moments(b1, 1), moments(w2.ravel(), 4)]
    mean, var = sum(m for m, _ in parts), sum(v for _, v in parts)
    np.testing.assert_allclose(hidden.null_mean, mean, rtol=0, atol=4 * math.sqrt(var / 6000))
    np.testing.assert_allclose(hidden.null_std, math.sqrt(var), rtol=0.05)
    np.testing.assert_allclose(hidden.z, (hidden.s - hidden.null_mean) / hidden.null_std, rtol=1e-12)


def test_null_model_layers_agree_with_a_loop_over_the_same_draws() -> None:
    snapshot, _, _ = random_mlp(5)
    result = null_model(snapshot, draws=50, seed=9)
    rng = np.random.default_rng(9)
    values = np.array([[np.std(s.s_in + s.s_out) for s in layer_strengths(shuffled(snapshot, rng))] for _ in range(50)])
    observed = [np.std(s.s_in + s.s_out) for s in layer_strengths(snapshot)]
    layers = result.layers
    np.testing.assert_allclose(layers.fluctuation, observed, rtol=1e-15)
    np.testing.assert_allclose(layers.null_mean, values.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(layers.null_std, values.std(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(layers.z, (layers.fluctuation - layers.null_mean) / layers.null_std, rtol=1e-12)
    np.testing.assert_allclose(layers.iid_ratio, layers.fluctuation / iid_fluctuation(snapshot), rtol=1e-12)
    assert (result.draws, result.seed) == (50, 9)


def test_a_layer_of_fixed_links_has_no_null_spread() -> None:
    # a 1x1 convolution has one weight and one bias to shuffle (nothing moves), the pooling after it fixed links
    model = nn.Sequential(nn.Conv2d(1, 1, 1), nn.AvgPool2d(2))
    with torch.no_grad():
        model[0].weight.fill_(0.5)
        model[0].bias.fill_(0.1)
    result = cntgraph.null_model(model, input_shape=(1, 2, 2), draws=5)
    assert result.layers.null_std.tolist() == [0.0, 0.0, 0.0]
    assert result.layers.z.isna().all()


def test_null_model_needs_two_draws() -> None:
    with pytest.raises(ConfigurationError, match=r"draws must be a whole number >= 2 \(a null model needs a spread\), got 1"):
        null_model(random_mlp(0)[0], draws=1)

"""The individual analysis against the divergence oracle on values read straight from the modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import cntgraph
from cntgraph.core.individual import layer_divergences, layer_samples
from cntgraph.errors import ConfigurationError
from cntgraph.model.metrics import as_snapshot
from tests.divergences import oracle, reference_jeffreys


def small_cnn() -> nn.Module:
    torch.manual_seed(7)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Conv2d(3, 4, 2), nn.Flatten(), nn.Linear(36, 5))


def test_weight_divergences_are_those_of_each_modules_parameters() -> None:
    model = small_cnn()
    values = {
        layer: np.concatenate([module.weight.detach().double().numpy().ravel(), module.bias.detach().double().numpy()])
        for layer, module in enumerate((model[0], model[2], model[4]), start=1)
    }
    table = cntgraph.individual_analysis(model, input_shape=(1, 6, 6))
    weights = table[table["quantity"] == "weight"]
    assert weights[["layer_a", "layer_b"]].values.tolist() == [[1, 2], [1, 3], [2, 3]]
    for row in weights.itertuples(index=False):
        expected = oracle(values[row.layer_a], values[row.layer_b])
        assert (row.bins, row.jeffreys, row.jensen_shannon) == pytest.approx(
            (expected["bins"], expected["jeffreys"], expected["jensen_shannon"]), rel=1e-12
        )
    strengths = table[table["quantity"] == "strength"]
    assert len(strengths) == 6  # node layers 0..3: every pair once
    reference = cntgraph.individual_analysis(model, input_shape=(1, 6, 6), estimator="kde_reference")
    s = layer_samples(as_snapshot(model, (1, 6, 6)), "strength")
    row = reference[(reference["quantity"] == "strength") & (reference["layer_a"] == 1) & (reference["layer_b"] == 3)].iloc[0]
    assert row.jeffreys == pytest.approx(reference_jeffreys(s[1], s[3]), rel=1e-12)


def test_unknown_quantity_is_named() -> None:
    with pytest.raises(ConfigurationError, match=r"quantity must be one of \['weight', 'strength'\], got 'bias'"):
        layer_samples(as_snapshot(small_cnn(), (1, 6, 6)), "bias")
    assert layer_divergences({1: [0.0, 1.0]}).empty  # one layer: no pair

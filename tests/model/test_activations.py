"""What every node layer holds on real inputs, against the same forward pass written out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cntgraph
from cntgraph.core.activations import activation_summaries
from cntgraph.core.metrics import summary_stats
from cntgraph.errors import ConfigurationError
from cntgraph.model.tracing import trace, trace_values


def test_an_mlp_holds_its_pre_activations_and_activations() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    x = torch.randn(7, 5)
    values = trace_values(model, x)
    with torch.no_grad():
        h1 = x @ model[0].weight.T + model[0].bias
        h2 = F.relu(h1) @ model[2].weight.T + model[2].bias
        out = torch.tanh(h2) @ model[4].weight.T + model[4].bias
    assert values.strength[0] is None
    for got, want in zip(values.strength[1:], (h1, h2, out), strict=True):
        np.testing.assert_allclose(got, want.double().numpy(), rtol=1e-6)
    for got, want in zip(values.activation, (x, F.relu(h1), torch.tanh(h2), out), strict=True):
        np.testing.assert_allclose(got, want.double().numpy(), rtol=1e-6)
    assert values.topology == trace(model, (5,))


def test_a_folded_batchnorm_a_residual_addition_and_a_concatenation() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.bn = nn.BatchNorm2d(2)
            self.side = nn.Conv2d(2, 1, 1)
            self.head = nn.Linear(3 * 16, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = F.relu(self.bn(self.conv(x)) + x)
            return self.head(torch.cat([y, self.side(y)], dim=1).flatten(1))

    torch.manual_seed(1)
    model = Block()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-1, 1)
        model.bn.running_var.uniform_(0.5, 2)
    model.eval()
    x = torch.randn(3, 2, 4, 4)
    values = trace_values(model, x)
    names = [node.name for node in values.topology.node_layers]
    assert names == ["input", "conv", "add", "side", "head"]
    with torch.no_grad():
        bn = model.bn(model.conv(x))
        added = bn + x
        y = F.relu(added)
        side = model.side(y)
        out = model.head(torch.cat([y, side], dim=1).flatten(1))
    expected_strength = {1: bn, 2: added, 3: side, 4: out}
    expected_activation = {0: x, 1: bn, 2: y, 3: side, 4: out}  # conv's units reach the addition before the ReLU
    for index, want in expected_strength.items():
        np.testing.assert_allclose(values.strength[index], want.reshape(3, -1).double().numpy(), rtol=1e-5, atol=1e-6)
    for index, want in expected_activation.items():
        np.testing.assert_allclose(values.activation[index], want.reshape(3, -1).double().numpy(), rtol=1e-5, atol=1e-6)
    assert model.training is False


def test_summaries_pool_every_sample_and_unit() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    values = trace_values(model, torch.randn(10, 3))
    summary = activation_summaries(values.strength, values.activation)
    assert sorted(summary) == [0, 1, 2]
    assert "input_strength_mean" not in summary[0]  # the input has no links into it
    assert summary[1]["activation_count"] == 20
    assert summary[1] == pytest.approx({
        **{f"activation_{k}": v for k, v in summary_stats(values.activation[1]).items()},
        **{f"input_strength_{k}": v for k, v in summary_stats(values.strength[1]).items()},
    })


def test_bad_inputs_are_named() -> None:
    model = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(ConfigurationError, match="inputs must be a tensor of shape"):
        trace_values(model, torch.zeros(3))
    with pytest.raises(ConfigurationError, match=r"data must be a batch of inputs, a tensor of shape \(samples, \*\(3,\)\), got \(4, 5\)"):
        cntgraph.Recorder(model, "never-written", (3,), data=torch.zeros(4, 5))

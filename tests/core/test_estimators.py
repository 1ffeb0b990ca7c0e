"""The fluctuation estimate from a uniform sample: bias, error and interval coverage over many samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cntgraph.core.estimators import fluctuation_estimate
from cntgraph.errors import ConfigurationError
from cntgraph.model.metrics import node_strength
from cntgraph.studies.digits import cnn, load_digits, train
from cntgraph.studies.ensemble import torch_threads


def test_over_many_samples_the_estimate_is_unbiased_and_its_interval_covers_at_the_nominal_rate() -> None:
    # the 288 strengths of the first conv layer of the demo's CNN after 3 epochs, sampled 64 at a time, 4,000 times
    torch.manual_seed(0)
    model = cnn(8, 64)
    with torch_threads(1):
        train(model, load_digits(), 3, seed=0)
    table = node_strength(model, (1, 8, 8))
    strengths = table.loc[table["layer"] == 1, "s"].to_numpy()
    assert strengths.size == 288
    rng = np.random.default_rng(0)
    truth = strengths.std()
    estimates = [fluctuation_estimate(rng.choice(strengths, 64, replace=False), 288) for _ in range(4000)]
    values = np.array([e.value for e in estimates])
    covered = np.mean([e.low <= truth <= e.high for e in estimates])
    assert abs(values.mean() / truth - 1) < 0.02  # the square root of an unbiased variance: a small bias
    assert np.median(np.abs(values / truth - 1)) < 0.10
    assert 0.92 <= covered <= 0.98  # nominal 0.95; 4,000 samples give it about +-0.007


def test_a_layer_stored_whole_is_exact_and_bad_sizes_are_named() -> None:
    estimate = fluctuation_estimate([1.0, 2.0, 4.0], 3)
    assert estimate.kind == "exact" and estimate.value == np.std([1.0, 2.0, 4.0]) and estimate.se == 0.0
    with pytest.raises(ConfigurationError, match="a sample of 3 strengths cannot come from a layer of 2 units"):
        fluctuation_estimate([1.0, 2.0, 3.0], 2)
    with pytest.raises(ConfigurationError, match="at least 2 sampled units"):
        fluctuation_estimate([1.0], 5)

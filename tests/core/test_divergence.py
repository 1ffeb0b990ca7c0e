"""Divergences against scipy, hand-worked densities, and the independent oracle of tests/divergences.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy, gaussian_kde

from cntgraph.core.divergence import (
    densities,
    divergence_matrix,
    grid_edges,
    jeffreys_divergence,
    js_divergence,
    kde_densities,
    kl_divergence,
    sample_divergences,
)
from cntgraph.errors import ConfigurationError
from tests.divergences import oracle, reference_jeffreys


@pytest.mark.parametrize(
    ("p", "q"),
    [([0.5, 0.5], [0.25, 0.75]), ([0.1, 0.2, 0.7], [0.3, 0.3, 0.4]), ([0.0, 0.4, 0.6], [0.2, 0.2, 0.6])],
)
def test_divergences_equal_scipy(p: list[float], q: list[float]) -> None:
    assert kl_divergence(p, q) == pytest.approx(entropy(p, q), rel=1e-12)
    assert jeffreys_divergence(p, q) == pytest.approx(entropy(p, q) + entropy(q, p), rel=1e-12)
    assert js_divergence(p, q) == pytest.approx(jensenshannon(p, q) ** 2, rel=1e-9)


def test_divergences_on_hand_worked_densities() -> None:
    # p = (5/6, 1/6), q = (1/6, 5/6): J = (4/3) ln 5; m = (1/2, 1/2): JS = (5/6) ln(5/3) + (1/6) ln(1/3)
    p, q = [5 / 6, 1 / 6], [1 / 6, 5 / 6]
    assert jeffreys_divergence(p, q) == pytest.approx(4 / 3 * math.log(5))
    assert js_divergence(p, q) == pytest.approx(5 / 6 * math.log(5 / 3) + 1 / 6 * math.log(1 / 3))
    assert kl_divergence([1.0, 0.0], [0.0, 1.0]) == math.inf
    assert js_divergence([1.0, 0.0], [0.0, 1.0]) == pytest.approx(math.log(2))


def test_densities_and_grids_by_hand() -> None:
    # two bins [0, 1), [1, 2]; counts (2, 1) and (0, 3); half a count added per bin
    p = densities([[0.5, 0.5, 1.5], [1.0, 1.5, 2.0]], [0.0, 1.0, 2.0])
    assert p.tolist() == [[2.5 / 4, 1.5 / 4], [0.5 / 4, 3.5 / 4]]
    assert densities([[0.5, 0.5, 1.5]], [0.0, 1.0, 2.0], pseudocount=0).tolist() == [[2 / 3, 1 / 3]]
    assert grid_edges([[0.0], [1.0, 3.0]], bins=3).tolist() == [0.0, 1.0, 2.0, 3.0]
    # equal-mass edges: ties merge, so 3 distinct values give 2 bins however many are asked for
    assert grid_edges([[0.0, 0.0, 0.0, 1.0, 5.0]], bins=4, spacing="quantile").tolist() == [0.0, 1.0, 5.0]
    matrix = divergence_matrix([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]], measure="jensen_shannon", bins=2)
    assert np.allclose(matrix, matrix.T) and np.all(np.diag(matrix) == 0)
    assert matrix[0, 1] == pytest.approx(js_divergence([5 / 6, 1 / 6], [1 / 6, 5 / 6]))


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: kl_divergence([0.5, 0.6], [0.5, 0.5]), "p must be a probability vector"),
        (lambda: js_divergence([1.0], [0.5, 0.5]), "vectors of one length"),
        (lambda: grid_edges([[1.0]], bins=0), "bins must be a whole number"),
        (lambda: grid_edges([[1.0]], spacing="log"), "spacing must be 'linear' or 'quantile'"),
        (lambda: grid_edges([[]]), "at least one value"),
        (lambda: divergence_matrix([[1.0], [2.0]], measure="hellinger"), "measure must be one of"),
    ],
)
def test_divergence_errors_name_the_bad_input(call, named: str) -> None:  # noqa: ANN001
    with pytest.raises(ConfigurationError, match=named):
        call()


def test_sample_divergences_by_hand() -> None:
    # pooled [0, 0, 1, 1]: equal-mass edges 0, 0.5, 1, so densities (5/6, 1/6) and (1/6, 5/6)
    result = sample_divergences([0.0, 0.0], [1.0, 1.0])
    assert result["bins"] == 2
    assert result["jeffreys"] == pytest.approx(4 / 3 * math.log(5))
    assert result["jensen_shannon"] == pytest.approx(5 / 6 * math.log(5 / 3) + 1 / 6 * math.log(1 / 3))
    with pytest.raises(ConfigurationError, match="both samples need values"):
        sample_divergences([], [1.0])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=200),
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=200),
    st.integers(1, 64),
)
def test_sample_divergences_equal_the_oracle(a: list[float], b: list[float], bins: int) -> None:
    result, expected = sample_divergences(a, b, bins), oracle(np.array(a), np.array(b), bins)
    assert result["bins"] == expected["bins"]
    assert result["jeffreys"] == pytest.approx(expected["jeffreys"], rel=1e-9, abs=1e-12)
    assert result["jensen_shannon"] == pytest.approx(expected["jensen_shannon"], rel=1e-9, abs=1e-12)
    assert sample_divergences(b, a, bins)["jeffreys"] == pytest.approx(result["jeffreys"], rel=1e-9, abs=1e-12)


def test_kde_divergence_approximates_the_continuous_one() -> None:
    # a KDE of N(mu, 1) with bandwidth h is about N(mu, 1 + h^2); J(N(0, v), N(1, v)) = 1 / v
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.0, 1.0, 20_000), rng.normal(1.0, 1.0, 20_000)
    h2 = gaussian_kde(a).factor ** 2  # Scott's factor, the bandwidth in units of the sample's std
    result = sample_divergences(a, b, estimator="kde")
    assert result["estimator"] == "kde" and result["bins"] == 1000
    assert result["jeffreys"] == pytest.approx(1 / (1 + h2), rel=0.05)
    assert 0 < result["jensen_shannon"] < math.log(2)


def test_kde_reference_is_the_reference_formula_and_scales_with_the_range() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.0, 0.05, 500), rng.normal(0.02, 0.07, 400)
    result = sample_divergences(a, b, estimator="kde_reference")
    assert result["jeffreys"] == pytest.approx(reference_jeffreys(a, b), rel=1e-12)
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    assert math.isnan(result["jensen_shannon"])
    # times dx it is the Jeffreys divergence of the two KDEs over [lo, hi]: without dx, 1000 / range times that
    kde_a, kde_b = gaussian_kde(a), gaussian_kde(b)
    integral = quad(lambda t: float(((kde_a(t) - kde_b(t)) * np.log(kde_a(t) / kde_b(t)))[0]), lo, hi, limit=200)[0]
    assert result["jeffreys"] * (hi - lo) / 1000 == pytest.approx(integral, rel=0.01)
    normalised = sample_divergences(a, b, estimator="kde")["jeffreys"]
    scaled = sample_divergences(100 * a, 100 * b, estimator="kde_reference")["jeffreys"]
    assert scaled == pytest.approx(result["jeffreys"] / 100, rel=1e-9)
    assert sample_divergences(100 * a + 7, 100 * b + 7, estimator="kde")["jeffreys"] == pytest.approx(normalised, rel=1e-6)


def test_kde_needs_spread_and_a_known_estimator() -> None:
    with pytest.raises(ConfigurationError, match=r"sample 1 .* two distinct .* estimator='histogram'"):
        kde_densities([[0.0, 1.0], [2.0, 2.0]])
    with pytest.raises(ConfigurationError, match=r"estimator must be one of \['histogram', 'kde', 'kde_reference'\]"):
        sample_divergences([0.0, 1.0], [1.0, 2.0], estimator="kld")  # type: ignore[arg-type]

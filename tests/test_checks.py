"""One argument check for every "whole number >= 1": booleans, floats and strings are refused alike."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from torch import nn

from cntgraph.checks import whole_number
from cntgraph.core.divergence import grid_edges, sample_divergences
from cntgraph.core.metrics import fixed_bins
from cntgraph.core.sampling import TopStrength, Uniform
from cntgraph.errors import ConfigurationError, QueryError
from cntgraph.recording.recorder import Recorder
from cntgraph.studies.ensemble import analyse, draw_population, torch_threads


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.int32(1)])
def test_whole_numbers_pass(value: object) -> None:
    assert whole_number("n", value) == int(value)  # type: ignore[call-overload]


@pytest.mark.parametrize("value", [0, -2, True, False, np.bool_(True), 2.0, "3", None, [1]])
def test_anything_else_is_named(value: object) -> None:
    with pytest.raises(ConfigurationError, match=rf"^n must be a whole number >= 1, got {value!r}$".replace("[", r"\[").replace("]", r"\]")):
        whole_number("n", value)


def test_the_error_type_and_the_hint_are_the_callers() -> None:
    with pytest.raises(QueryError, match="k must be a whole number >= 2 or None, got 1"):
        whole_number("k", 1, 2, error=QueryError, hint="or None")


@pytest.mark.parametrize(
    "call",
    [
        lambda v: Uniform(v),
        lambda v: TopStrength(v),
        lambda v: fixed_bins(0.0, 1.0, v),
        lambda v: grid_edges([[1.0, 2.0]], v),
        lambda v: sample_divergences([1.0], [2.0], v),
        lambda v: draw_population(v, 3),
        lambda v: draw_population(3, v),
        lambda v: Recorder(nn.Linear(2, 1), "r", (2,), every=v),
        lambda v: Recorder(nn.Linear(2, 1), "r", (2,), queue_size=v),
        lambda v: torch_threads(v).__enter__(),
    ],
)
@pytest.mark.parametrize("bad", [True, 0, 1.0])
def test_every_caller_refuses_the_same_values(call: Callable[[object], object], bad: object) -> None:
    with pytest.raises(ConfigurationError, match="must be a whole number >= 1"):
        call(bad)


def test_analyse_refuses_a_boolean_minimum() -> None:
    with pytest.raises(ConfigurationError, match="min_members must be a whole number >= 1, got True"):
        analyse(None, min_members=True)  # type: ignore[arg-type]

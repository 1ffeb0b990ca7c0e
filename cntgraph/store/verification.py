"""Judging in-database aggregation (:func:`cntgraph.store.aggregation.aggregate`) against the exact metrics.

Two checks, on the frame ``aggregate`` returns (``cntgraph verify`` prints them):

- **exact values agree**: every value of kind "exact" (a fluctuation of a layer stored whole, a
  strength part summed over a layer stored whole) and every stored neuron's weights against the
  sum written beside them (``NeuronState.w_in_sum``) agree within :data:`RTOL`;
- **intervals cover at their nominal rate**: the estimated fluctuations and strengths hold the
  exact value in their 95% intervals about 95% of the time. A run fails when the number inside is
  improbably low (binomial probability under 0.001) for intervals that cover
  ``NOMINAL - tolerance``: a few points below nominal are allowed, because one layer's intervals
  share its sample across epochs and so miss together, and because the intervals are
  approximations (docs/METRICS.md gives their measured coverage).

These pure functions read that frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only frames come in: importing pandas here would slow down `cntgraph --help`
    import pandas as pd

__all__ = ["RTOL", "NOMINAL", "TOLERANCE", "Verdict", "fully_stored", "disagreements", "coverage", "error_summary", "judge"]

#: relative tolerance within which exact in-database and exact Python values agree
RTOL = 1e-9
#: the intervals' nominal coverage
NOMINAL = 0.95
#: how far below `NOMINAL` the intervals' coverage may be before `judge` fails a run
TOLERANCE = 0.05
#: the binomial probability below which a coverage is judged too low
LEVEL = 0.001


def fully_stored(frame: pd.DataFrame) -> bool:
    """Whether every node layer of the aggregated run stores all its units (a Full() run).

    Example:
        >>> import pandas as pd
        >>> fully_stored(pd.DataFrame({"size": [4, 3], "sampled": [4, 3]}))
        True
    """
    return bool((frame["sampled"] == frame["size"]).all())


def disagreements(frame: pd.DataFrame, rtol: float = RTOL) -> pd.DataFrame:
    """The rows (epoch, layer) where a value that should be exact differs from the exact one by more than ``rtol``:
    an exact fluctuation or strength, an exact part of the strengths, or stored weights against their sums.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"epoch": [0, 0], "layer": [0, 1], "fluctuation_kind": ["exact", "exact"],
        ...                       "fluctuation_error": [1e-15, -2e-3], "s_kind": ["exact", "estimate"],
        ...                       "s_error": [0.0, 0.3], "s_exact_error": [0.0, 1e-12], "w_in_error": [float("nan"), 0.0]})
        >>> disagreements(frame)["layer"].tolist()
        [1]
    """
    exact = frame["fluctuation_kind"] == "exact"
    wrong = exact & ~(frame["fluctuation_error"].abs() <= rtol)  # NaN disagrees
    wrong |= (frame["s_kind"] == "exact") & ~(frame["s_error"] <= rtol)
    wrong |= frame["s_exact_error"] > rtol
    wrong |= frame["w_in_error"] > rtol
    return frame[wrong]


def coverage(frame: pd.DataFrame) -> pd.DataFrame:
    """Per quantity (``fluctuation``, ``strength``) and node layer: how many estimates with an interval
    the layer has over the epochs (``estimates``), how many of their intervals hold the exact value
    (``inside``) and the ``rate``. Layers whose values are all exact (or biased) have no row.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"layer": [1, 1], "s_estimates": [4, 4], "exact_fluctuation": [1.0, 2.0],
        ...                       "fluctuation_kind": "estimate", "fluctuation_low": [0.9, 2.1],
        ...                       "fluctuation_high": [1.2, 2.5], "s_kind": "estimate", "s_inside": [4, 3]})
        >>> coverage(frame).to_dict("records")
        [{'quantity': 'fluctuation', 'layer': 1, 'estimates': 2, 'inside': 1, 'rate': 0.5}, {'quantity': 'strength', 'layer': 1, 'estimates': 8, 'inside': 7, 'rate': 0.875}]
    """
    import pandas as pd

    fluctuation = frame[(frame["fluctuation_kind"] == "estimate") & frame["fluctuation_low"].notna()]
    held = (fluctuation["fluctuation_low"] <= fluctuation["exact_fluctuation"]) & (
        fluctuation["exact_fluctuation"] <= fluctuation["fluctuation_high"]
    )
    strength = frame[frame["s_kind"] == "estimate"]
    parts = [
        pd.DataFrame({"layer": fluctuation["layer"], "estimates": 1, "inside": held.astype(int)}).assign(quantity="fluctuation"),
        pd.DataFrame({"layer": strength["layer"], "estimates": strength["s_estimates"], "inside": strength["s_inside"]}).assign(
            quantity="strength"
        ),
    ]
    table = pd.concat(parts, ignore_index=True).groupby(["quantity", "layer"], as_index=False)[["estimates", "inside"]].sum()
    table["rate"] = table["inside"] / table["estimates"]
    return table.astype({"layer": int, "estimates": int, "inside": int})


@dataclass(frozen=True)
class Verdict:
    """What `judge` found: the ``disagreements`` (rows), the ``coverage`` per quantity over the
    run's layers (``quantity``, ``estimates``, ``inside``, ``rate``, ``too_low``), the ``biased``
    layers (sampled by a sampler that is not uniform: no intervals to judge) and whether the run ``passed``."""

    disagreements: pd.DataFrame
    coverage: pd.DataFrame
    rtol: float
    tolerance: float
    biased: list[int]

    @property
    def passed(self) -> bool:
        return self.disagreements.empty and not self.coverage["too_low"].any()

    def lines(self) -> list[str]:
        """The verdict in words, one line per check."""
        exact = (
            f"exact values: {len(self.disagreements)} (epoch, layer) pair{'s differ' if len(self.disagreements) > 1 else ' differs'} "
            f"by more than rtol {self.rtol:g}"
            if len(self.disagreements)
            else f"exact values: all agree within rtol {self.rtol:g}"
        )
        lines = [exact]
        for row in self.coverage.itertuples(index=False):
            verdict = "too low" if row.too_low else "ok"
            lines.append(
                f"{row.quantity} intervals: {row.inside} of {row.estimates} hold the exact value ({row.rate:.1%}; "
                f"nominal {NOMINAL:.0%}, judged against {NOMINAL - self.tolerance:.0%}): {verdict}"
            )
        if self.biased:
            lines.append(
                f"layers {self.biased}: estimates from a sample that is not uniform (e.g. TopStrength), biased and without "
                "intervals: not judged"
            )
        elif self.coverage.empty:
            lines.append("intervals: none, every value is exact")
        return lines


def judge(frame: pd.DataFrame, rtol: float = RTOL, tolerance: float = TOLERANCE) -> Verdict:
    """Check an aggregation frame: exact values within ``rtol``, and each quantity's intervals, pooled
    over layers and epochs, not covering improbably less than ``NOMINAL - tolerance``.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"epoch": [0, 1], "layer": [1, 1], "s_estimates": 64, "exact_fluctuation": [1.0, 2.0],
        ...                       "fluctuation_kind": "estimate", "fluctuation_error": [0.02, 0.0],
        ...                       "fluctuation_low": [0.9, 1.8], "fluctuation_high": [1.2, 2.5], "s_kind": "estimate",
        ...                       "s_error": 0.1, "s_exact_error": float("nan"), "w_in_error": 0.0, "s_inside": [40, 41]})
        >>> verdict = judge(frame)
        >>> verdict.passed, verdict.coverage["quantity"].tolist(), verdict.coverage["too_low"].tolist()
        (False, ['fluctuation', 'strength'], [False, True])
    """
    from scipy.stats import binom

    pooled = coverage(frame).groupby("quantity", as_index=False)[["estimates", "inside"]].sum()
    pooled["rate"] = pooled["inside"] / pooled["estimates"]
    pooled["too_low"] = binom.cdf(pooled["inside"], pooled["estimates"], NOMINAL - tolerance) < LEVEL
    kinds = frame[["fluctuation_kind", "s_kind"]]
    biased = sorted(int(layer) for layer in frame.loc[(kinds == "biased").any(axis=1), "layer"].unique())
    return Verdict(disagreements(frame, rtol), pooled, rtol, tolerance, biased)


def error_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per node layer: ``size``, ``sampled``, ``epochs``, the kinds, the largest errors over the epochs,
    and the share of intervals that hold the exact value (NaN where every value is exact).

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"epoch": [0, 1], "layer": [1, 1], "size": 8, "sampled": 4, "s_estimates": 4,
        ...                       "fluctuation_kind": "estimate", "fluctuation_error": [0.1, -0.3],
        ...                       "exact_fluctuation": [1.0, 1.0], "fluctuation_low": 0.8, "fluctuation_high": 1.2,
        ...                       "s_kind": "estimate", "s_error": [0.2, 0.05], "s_inside": [4, 2]})
        >>> error_summary(frame).to_dict("records")[0]["s_coverage"]
        0.75
    """
    rates = coverage(frame).pivot(index="layer", columns="quantity", values="rate")
    table = (
        frame.assign(fluctuation_error=frame["fluctuation_error"].abs())
        .groupby("layer", as_index=False)
        .agg(
            size=("size", "first"),
            sampled=("sampled", "first"),
            epochs=("epoch", "nunique"),
            fluctuation_kind=("fluctuation_kind", "first"),
            max_fluctuation_error=("fluctuation_error", "max"),
            s_kind=("s_kind", "first"),
            max_s_error=("s_error", "max"),
        )
    )
    table["fluctuation_coverage"] = table["layer"].map(rates["fluctuation"]) if "fluctuation" in rates else float("nan")
    table["s_coverage"] = table["layer"].map(rates["strength"]) if "strength" in rates else float("nan")
    return table

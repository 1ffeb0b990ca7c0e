"""The ensemble's analysis: members grouped into test-accuracy buckets, buckets compared layer by layer.

The distributions of link weights, node strength and layer fluctuation are compared between
buckets with the Jeffreys and Jensen-Shannon divergences of
:func:`cntgraph.core.divergence.sample_divergences`, the convention ``Graph.compare`` uses too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from tqdm.auto import tqdm

from cntgraph.checks import whole_number
from cntgraph.core.divergence import MEASURES, Estimator, sample_divergences
from cntgraph.errors import ConfigurationError
from cntgraph.studies.ensemble.population import Ensemble

__all__ = ["Analysis", "QUANTITIES", "bucket_of", "analyse", "analyse_by_scale"]

#: what the buckets are compared by: (quantity, the per-member record it comes from, its column)
QUANTITIES = (
    ("weight", "final_weights", "w"),
    ("strength", "strengths", "s"),
    ("fluctuation", "fluctuation", "fluctuation"),
    ("iid_ratio", "fluctuation", "iid_ratio"),
    ("z", "fluctuation", "z"),
)


@dataclass(frozen=True)
class Analysis:
    """Members grouped into test-accuracy buckets and the buckets compared, layer by layer.

    - ``buckets``: ``member`` -> ``bucket`` (the lower edge of its accuracy bucket; NaN for
      diverged members) and whether the bucket is ``analysed`` (has at least ``min_members``);
    - ``summary``: per analysed bucket and node layer: ``members``, ``accuracy`` (median),
      ``fluctuation_q25``/``_median``/``_q75`` over members, ``strength_std`` and ``weight_std``
      (std of the pooled strengths of the layer and of the pooled weights feeding it), and the
      medians over members of the null models: ``iid_ratio_median`` (fluctuation over the one its
      weights' sizes predict) and ``z_median`` (against weight-shuffled copies);
    - ``divergences``: ``quantity`` (weight, strength, fluctuation, and the weight-size controls
      iid_ratio and z: see `QUANTITIES`), ``layer``, ``bucket_a``,
      ``bucket_b``, ``estimator``, ``bins``, ``jeffreys``, ``jensen_shannon``, for every pair of analysed buckets;
    - ``values``: ``quantity``, ``layer``, ``bucket``, ``value``: the samples compared (the pooled
      weights and strengths of each bucket's members at their last epoch, one fluctuation, one
      iid_ratio and one z per member).
    """

    bucket_width: float
    buckets: pd.DataFrame
    summary: pd.DataFrame
    divergences: pd.DataFrame
    values: pd.DataFrame

    def fluctuation_table(self) -> pd.DataFrame:
        """One row per analysed bucket: ``bucket``, ``members``, median ``accuracy``, median fluctuation per node layer.

        Example:
            analysis.fluctuation_table()  # bucket, members, accuracy, layer 0, layer 1, ...
        """
        table = self.summary.pivot(index=["bucket", "members", "accuracy"], columns="layer", values="fluctuation_median")
        return table.rename(columns=lambda layer: f"layer {layer}").rename_axis(columns=None).reset_index()

    def null_table(self) -> pd.DataFrame:
        """One row per analysed bucket: ``bucket``, ``members``, then per node layer the median
        ``iid_ratio`` (fluctuation over its weight-size prediction) and, where the members were
        trained with shuffled nulls, the median ``z``.

        Example:
            analysis.null_table()  # bucket, members, iid_ratio 0, iid_ratio 1, ..., z 0, z 1, ...
        """
        columns = ["iid_ratio_median"] + (["z_median"] if self.summary["z_median"].notna().any() else [])
        table = self.summary.pivot(index=["bucket", "members"], columns="layer", values=columns)
        table.columns = [f"{name.removesuffix('_median')} {layer}" for name, layer in table.columns]
        return table.reset_index()

    def extremes(self) -> pd.DataFrame:
        """The divergences between the lowest and the highest analysed bucket, per quantity and layer.

        Example:
            analysis.extremes()  # quantity, layer, bucket_a, bucket_b, estimator, bins, jeffreys, jensen_shannon
        """
        analysed = self.buckets.loc[self.buckets["analysed"], "bucket"]
        if analysed.nunique() < 2:
            return self.divergences.iloc[:0]
        low, high = analysed.min(), analysed.max()
        pair = (self.divergences["bucket_a"] == low) & (self.divergences["bucket_b"] == high)
        return self.divergences[pair].reset_index(drop=True)


def bucket_of(accuracy: npt.ArrayLike, width: float) -> np.ndarray:
    """The lower edge of each accuracy's bucket ``[k width, (k + 1) width)``; 1.0 joins the top bucket.

    Edges are multiples of ``width`` from 0, rounded to 9 decimals, so 0.95 with width 0.05 is in
    the bucket starting at 0.95, not 0.9 (0.95 / 0.05 is 18.999... in floating point). NaN stays NaN.

    Example:
        >>> bucket_of([0.0, 0.049, 0.05, 0.95, 0.999, 1.0], 0.05).tolist()
        [0.0, 0.0, 0.05, 0.95, 0.95, 0.95]
        >>> bucket_of([0.33, 1.0], 0.25).tolist()
        [0.25, 0.75]
    """
    if not (isinstance(width, (int, float)) and 0 < width <= 1):
        raise ConfigurationError(f"the bucket width must be a number in (0, 1], e.g. 0.05; got {width!r}")
    values = np.asarray(accuracy, dtype=np.float64)
    top = math.ceil(round(1 / width, 9)) - 1
    index = np.minimum(np.floor(np.round(values / width, 9)), top)
    return np.round(index * width, 9)


def analyse(
    ensemble: Ensemble,
    bucket_width: float = 0.05,
    *,
    min_members: int = 3,
    bins: int = 32,
    estimator: Estimator = "histogram",
    progress: bool = True,
) -> Analysis:
    """Group members into accuracy buckets of ``bucket_width`` and compare the buckets layer by layer.

    Each member counts at its last epoch. Buckets with fewer than ``min_members`` members are
    listed but not compared. Each pair of buckets is compared per quantity and layer on a grid
    common to its two samples (:func:`cntgraph.core.divergence.sample_divergences`: equal-mass
    bins, at most ``bins`` of them; or ``estimator="kde"``, or the reference code's
    ``"kde_reference"``). The estimator and the number of bins (KDE grid points) used are in
    the ``estimator`` and ``bins`` columns; a KDE needs two distinct values in each sample, so
    a pair with fewer (one member's fluctuation) gets NaN.

    Example:
        analysis = analyse(ensemble, bucket_width=0.1)
        analysis.extremes()[["quantity", "layer", "jeffreys"]]
    """
    whole_number("min_members", min_members)
    members = ensemble.members
    bucket = pd.Series(bucket_of(members["accuracy"], bucket_width), index=members.index)
    sizes = bucket.map(bucket.value_counts())
    buckets = pd.DataFrame({"member": members["member"], "bucket": bucket, "analysed": sizes >= min_members})
    chosen = buckets.loc[buckets["analysed"], ["member", "bucket"]]
    values = _bucket_values(ensemble, chosen)
    summary = _summary(ensemble, chosen, values)
    groups = list(values.groupby(["quantity", "layer"], sort=False))
    rows = []
    for (quantity, layer), part in tqdm(groups, desc="comparing buckets", unit="layer", disable=not progress):
        rows += _divergence_rows(quantity, int(layer), part, bins, estimator)
    columns = ["quantity", "layer", "bucket_a", "bucket_b", "estimator", "bins", *MEASURES]
    return Analysis(bucket_width, buckets, summary, pd.DataFrame(rows, columns=columns), values)


def analyse_by_scale(ensemble: Ensemble, bucket_width: float = 0.05, **options: Any) -> dict[float, Analysis]:
    """`analyse` within each initialisation scale: {scale: its members' analysis}, scales in increasing order.

    The reference code analysed one scale at a time, and the scale alone moves weights, strengths
    and fluctuation by orders of magnitude: pooled buckets mix it with accuracy. ``options`` are
    `analyse`'s.

    Example:
        for scale, analysis in analyse_by_scale(ensemble, 0.1).items():
            print(scale, analysis.extremes()[["quantity", "layer", "jeffreys"]])
    """
    members = ensemble.members
    return {
        float(scale): analyse(ensemble.select(members.loc[members["scale"] == scale, "member"]), bucket_width, **options)
        for scale in sorted(members["scale"].unique())
    }


def _bucket_values(ensemble: Ensemble, chosen: pd.DataFrame) -> pd.DataFrame:
    """``quantity``, ``layer``, ``bucket``, ``value``: what `analyse` compares, at each member's last epoch."""
    finals = {"final_weights": ensemble.final_weights, "strengths": ensemble.final(ensemble.strengths),
              "fluctuation": ensemble.final(ensemble.fluctuation)}
    parts = [
        (name, finals[record].merge(chosen, on="member")[["layer", "bucket", column]].rename(columns={column: "value"}).dropna())
        for name, record, column in QUANTITIES
    ]
    return pd.concat([frame.assign(quantity=name) for name, frame in parts], ignore_index=True)[
        ["quantity", "layer", "bucket", "value"]
    ]


def _summary(ensemble: Ensemble, chosen: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    fluctuation = ensemble.final(ensemble.fluctuation).merge(chosen, on="member")
    accuracy = ensemble.members[["member", "accuracy"]].merge(chosen, on="member").groupby("bucket")["accuracy"]
    grouped = fluctuation.groupby(["bucket", "layer"])
    table = grouped["fluctuation"].agg(
        members="size",
        fluctuation_q25=lambda f: f.quantile(0.25),
        fluctuation_median="median",
        fluctuation_q75=lambda f: f.quantile(0.75),
    )
    table["iid_ratio_median"] = grouped["iid_ratio"].median()
    table["z_median"] = grouped["z"].median()
    table.insert(1, "accuracy", table.index.get_level_values("bucket").map(accuracy.median()))
    for quantity in ("strength", "weight"):
        rows = values[values["quantity"] == quantity]
        table[f"{quantity}_std"] = rows.groupby(["bucket", "layer"])["value"].std(ddof=0)
    return table.reset_index()


def _divergence_rows(quantity: str, layer: int, part: pd.DataFrame, bins: int, estimator: Estimator) -> list[dict[str, object]]:
    """Both divergences for every pair of buckets in ``part``, each pair on a grid of its own two
    samples; NaN for a KDE where either sample has fewer than two distinct values."""
    groups = [(bucket, rows["value"].to_numpy()) for bucket, rows in part.groupby("bucket")]
    return [
        {"quantity": quantity, "layer": layer, "bucket_a": bucket_a, "bucket_b": bucket_b, **_divergences(a, b, bins, estimator)}
        for i, (bucket_a, a) in enumerate(groups)
        for bucket_b, b in groups[i + 1 :]
    ]


def _divergences(a: np.ndarray, b: np.ndarray, bins: int, estimator: Estimator) -> dict[str, object]:
    if estimator != "histogram" and min(np.unique(a).size, np.unique(b).size) < 2:
        return {"estimator": estimator, "bins": 0, **dict.fromkeys(MEASURES, math.nan)}
    return sample_divergences(a, b, bins, estimator)

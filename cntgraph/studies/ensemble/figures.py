"""The ensemble's output: figures (PNG) and tables (CSV) of a population and its analysis."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from cntgraph.studies import plots
from cntgraph.studies.ensemble.analysis import Analysis
from cntgraph.studies.ensemble.population import Ensemble

__all__ = ["plot_ensemble", "write_tables"]


def plot_ensemble(ensemble: Ensemble, analysis: Analysis, out: Path, progress: bool = True) -> list[Path]:
    """Write the ensemble's figures (PNG) into ``out`` and return their paths.

    Densities per layer coloured by bucket (link weights, node strength, fluctuation, fluctuation
    over its i.i.d. weight-size prediction), Jeffreys and
    Jensen-Shannon heatmaps between buckets, fluctuation against accuracy, and fluctuation over
    epochs per bucket. Only analysed buckets are drawn.

    Example:
        plot_ensemble(result.ensemble, result.analysis, Path("ensemble"))
    """
    width, arch = analysis.bucket_width, ensemble.architecture
    chosen = analysis.buckets.loc[analysis.buckets["analysed"], ["member", "bucket"]]
    if chosen.empty:
        return []
    values = analysis.values
    final = ensemble.final(ensemble.fluctuation).merge(chosen, on="member").merge(ensemble.members[["member", "accuracy"]], on="member")
    steps: list[Callable[[], Path]] = [
        lambda: plots.bucket_densities(values[values["quantity"] == "weight"], out / "weights.png", width, "w",
                                       f"Link weights by test-accuracy bucket ({arch})"),
        lambda: plots.bucket_densities(values[values["quantity"] == "strength"], out / "strength.png", width, "s",
                                       f"Node strength by test-accuracy bucket ({arch})"),
        lambda: plots.bucket_densities(values[values["quantity"] == "fluctuation"], out / "fluctuation.png", width,
                                       "fluctuation", f"Layer fluctuation by test-accuracy bucket ({arch})"),
        lambda: plots.bucket_densities(values[values["quantity"] == "iid_ratio"], out / "iid-ratio.png", width,
                                       "fluctuation / i.i.d. prediction",
                                       f"Fluctuation beyond weight size, by test-accuracy bucket ({arch})"),
        lambda: plots.fluctuation_vs_accuracy(final, out / "fluctuation-accuracy.png", width),
        lambda: plots.fluctuation_trajectories(ensemble.fluctuation.merge(chosen, on="member"), out / "trajectories.png", width),
    ]
    divergences = analysis.divergences
    if not divergences.empty:
        steps.append(lambda: plots.divergence_heatmaps(divergences, out / "jeffreys.png", width, "jeffreys"))
    if divergences["jensen_shannon"].notna().any():  # the reference's KDE estimator defines none
        steps.append(lambda: plots.divergence_heatmaps(divergences, out / "jensen-shannon.png", width, "jensen_shannon"))
    return [step() for step in tqdm(steps, desc="plotting", unit="figure", disable=not progress)]


def write_tables(ensemble: Ensemble, analysis: Analysis, out: Path) -> list[Path]:
    """The members (with bucket and final fluctuation per layer), bucket summary and divergences as
    CSV files in ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    fluctuation = ensemble.final(ensemble.fluctuation).pivot(index="member", columns="layer", values="fluctuation")
    fluctuation = fluctuation.rename(columns=lambda layer: f"fluctuation_{layer}").reset_index()
    members = ensemble.members.merge(analysis.buckets, on="member").merge(fluctuation, on="member", how="left")
    members.to_csv(out / "members.csv", index=False)
    analysis.summary.to_csv(out / "summary.csv", index=False)
    analysis.divergences.to_csv(out / "divergences.csv", index=False)
    return [out / name for name in ("members.csv", "summary.csv", "divergences.csv")]

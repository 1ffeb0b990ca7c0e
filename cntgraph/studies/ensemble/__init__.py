"""The papers' ensemble analysis on scikit-learn's digits: many networks, grouped by test accuracy.

- :mod:`.population`: draw, train and measure the members (`draw_population`, `train_population`);
- :mod:`.analysis`: bucket them by test accuracy and compare the buckets (`analyse`);
- :mod:`.figures`: figures and CSV tables (`plot_ensemble`, `write_tables`);
- `run_ensemble` does all of it.

Example (a few seconds):
    >>> result = run_ensemble(size=4, epochs=2, seed=1, progress=False)
    >>> result.ensemble.members.columns.tolist()[:6]
    ['member', 'init', 'scale', 'optimizer', 'epochs', 'seed']
    >>> sorted(result.analysis.divergences["quantity"].unique()) <= ["fluctuation", "strength", "weight"]
    True
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cntgraph.studies.ensemble.analysis import (
    Analysis,
    analyse,
    analyse_by_scale,
    bucket_of,
)
from cntgraph.studies.ensemble.distributed import train_population_on_ray
from cntgraph.studies.ensemble.figures import plot_ensemble, write_tables
from cntgraph.studies.ensemble.population import (
    INITS,
    NULL_DRAWS,
    OPTIMIZERS,
    PROTOCOLS,
    SCALES,
    Architecture,
    Ensemble,
    Member,
    build_member,
    draw_population,
    initialise,
    torch_threads,
    train_member,
    train_population,
)

if TYPE_CHECKING:
    from cntgraph.core.divergence import Estimator
    from cntgraph.core.sampling import Sampler
    from cntgraph.store.graph import Graph
    from cntgraph.studies.data import Split

__all__ = [
    "INITS", "SCALES", "OPTIMIZERS", "PROTOCOLS", "Member", "Ensemble", "draw_population", "initialise", "build_member",
    "train_member", "train_population", "train_population_on_ray", "torch_threads", "Analysis", "bucket_of", "analyse", "analyse_by_scale", "plot_ensemble",
    "write_tables", "EnsembleResult", "run_ensemble",
]  # fmt: skip


@dataclass(frozen=True)
class EnsembleResult:
    """`run_ensemble`'s answer: the records, their analysis (all members pooled, and ``by_scale``:
    {init scale: the analysis of its members}, empty when pooled only), the figures and tables
    written and the wall time (s)."""

    ensemble: Ensemble
    analysis: Analysis
    by_scale: dict[float, Analysis] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def run_ensemble(
    size: int = 100,
    epochs: int | None = None,
    *,
    min_epochs: int = 1,
    bucket_width: float = 0.05,
    seed: int = 0,
    architecture: Architecture = "mlp",
    inits: Sequence[str] = INITS,
    scales: Sequence[float] = SCALES,
    optimizers: Sequence[str] = OPTIMIZERS,
    min_members: int = 3,
    bins: int = 32,
    estimator: Estimator = "histogram",
    null_draws: int = NULL_DRAWS,
    per_scale: bool = True,
    protocol: str = "cntgraph",
    data: Split | Sequence[Any] | None = None,
    ray: str | None = None,
    out: Path | None = None,
    graph: Graph | None = None,
    sample: Sampler | None = None,
    run_prefix: str = "ensemble",
    threads: int | None = 1,
    progress: bool = True,
) -> EnsembleResult:
    """Draw, train, bucket, compare and (given ``out``) plot an ensemble: the papers' ensemble analysis.

    Members are bucketed and compared within each init scale (``per_scale``, the default, as the
    reference code did: `analyse_by_scale`) and all together (``result.analysis``). With ``out``,
    the figures go there (into ``scale-0.05/`` and so on, one folder per scale; with
    ``per_scale=False``, the pooled analysis's into ``out`` itself), and ``members.csv`` (with
    buckets and the final fluctuation of every layer), ``summary.csv`` and ``divergences.csv``
    beside them.

    See `draw_population` (``size``, ``epochs``, ``min_epochs``, ``seed``, ``inits``, ``scales``,
    ``optimizers``, ``protocol``: ours, or the reference code's, see `PROTOCOLS`), `train_population` (``architecture``, ``data``: the digits by default, or a
    `Split`, four tensors ``(x_train, y_train, x_test, y_test)`` or two torch Datasets; ``graph``,
    ``sample``, ``null_draws``, ``ray``: ``"local"`` or a Ray cluster's address to train the members
    as Ray tasks, with the same records as here), `analyse`
    (``bucket_width``, ``min_members``, ``bins``, ``estimator``) and `plot_ensemble` (``out``). Torch runs on
    ``threads`` threads meanwhile (None: leave as is; small nets train fastest on one).

    Example (``progress=False`` keeps doctest output clean):
        >>> result = run_ensemble(size=3, epochs=1, seed=0, bucket_width=0.5, min_members=1, progress=False)
        >>> len(result.ensemble.members), result.figures, sorted(result.by_scale) == sorted(set(result.ensemble.members.scale))
        (3, [], True)
    """
    started = time.perf_counter()
    population = draw_population(
        size, epochs, seed, min_epochs=min_epochs, inits=inits, scales=scales, optimizers=optimizers, protocol=protocol
    )
    training = {"graph": graph, "sample": sample, "run_prefix": run_prefix, "null_draws": null_draws, "progress": progress}
    if ray is not None:  # each task on `threads` threads of its own
        ensemble = train_population_on_ray(population, ray, architecture, data, threads=threads or 1, **training)
    else:
        with torch_threads(threads):
            ensemble = train_population(population, architecture, data, **training)
    options = {"min_members": min_members, "bins": bins, "estimator": estimator, "progress": progress}
    analysis = analyse(ensemble, bucket_width, **options)
    by_scale = analyse_by_scale(ensemble, bucket_width, **options) if per_scale else {}
    figures, tables = [], []
    if out is not None:
        strata = {out / f"scale-{scale:g}": part for scale, part in by_scale.items()} if per_scale else {out: analysis}
        for folder, part in strata.items():
            members = ensemble.select(part.buckets["member"])
            figures += plot_ensemble(members, part, folder, progress)
            tables += write_tables(members, part, folder)
    return EnsembleResult(ensemble, analysis, by_scale, figures, tables, time.perf_counter() - started)

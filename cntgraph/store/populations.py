"""A population of recorded runs compared in the database, grouped by a run or epoch property.

:func:`population` runs ``cypher/browser/population.cypher`` and
``cypher/browser/population_divergences.cypher`` (the same two queries Neo4j Browser users run as
Favorites); :func:`population_states` reads the layer states they start from, so that
:func:`cntgraph.core.groups.population_summary` and :func:`~cntgraph.core.groups.population_divergences`
compute the same numbers in pandas.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from cntgraph.core.groups import DIVERGENCE_COLUMNS, POPULATION_COLUMNS
from cntgraph.errors import ConfigurationError, QueryError
from cntgraph.store.runner import Neo4jRunner

__all__ = ["Population", "population", "population_states"]

_BY = re.compile(r"(run|epoch)\.(\w+)")


@dataclass(frozen=True)
class Population:
    """A population's groups compared per epoch and node layer, computed in Neo4j.

    - ``summary``: ``group``, ``epoch``, ``layer``, ``runs``, the fluctuation over the group's runs
      (``fluctuation_mean``, ``_std`` (ddof 1), ``_min``, ``_median``, ``_max``) and their units'
      strengths and weights pooled (``s_count``, ``s_mean``, ``s_std``, ``w_count``, ``w_mean``, ``w_std``);
    - ``divergences``: ``quantity`` (``s`` or ``w``), ``epoch``, ``layer``, ``group_a``, ``group_b``,
      ``runs_a``, ``runs_b``, ``bins``, ``jeffreys``, ``jensen_shannon`` between their pooled histograms.
    """

    summary: pd.DataFrame
    divergences: pd.DataFrame


def population(runner: Neo4jRunner, runs: Sequence[str] | str, by: str, width: float = 0.0) -> Population:
    """Group the runs ``runs`` by ``by`` and compare the groups per epoch and node layer, in Cypher.

    ``runs``: run names; a name ending in ``*`` stands for every run it begins (``"ens-*"``).
    ``by``: ``"run.<property>"`` (a property of the Run node, fixed for the run) or
    ``"epoch.<property>"`` (of each Epoch node, such as the ``accuracy`` given to ``capture``: a run
    may then change groups as it trains). ``width`` > 0 buckets numbers: a value ``v`` joins group
    ``floor(v / width) * width``. Runs and epochs without the property are left out. Everything is
    computed from the exact per-layer summaries and histograms the recorder stored for every epoch:
    see `Population` and docs/METRICS.md.

    Example:
        population(graph.runner, ["ens-*"], "epoch.accuracy", 0.1).summary
    """
    params = _checked(runs, by, width)
    try:
        summary = pd.DataFrame(runner.query("browser/population", **params), columns=POPULATION_COLUMNS)
    except QueryError as error:
        if "Statement.TypeError" not in str(error):
            raise
        raise QueryError(
            f"property {by.split('.')[1]!r} of the {by.split('.')[0]}s has values that are not numbers: they cannot be "
            f"put in buckets of width {width}; group by the values themselves (width 0)"
        ) from None
    if summary.empty:
        _explain_empty(runner, params)
    divergences = pd.DataFrame(runner.query("browser/population_divergences", **params), columns=DIVERGENCE_COLUMNS)
    return Population(summary, divergences)


def population_states(runner: Neo4jRunner, runs: Sequence[str] | str, by: str) -> pd.DataFrame:
    """The layer states of the runs ``runs`` (as in `population`), one row per run, complete epoch
    and node layer, with the property ``by`` as ``value`` (None where a run or epoch lacks it):
    what :func:`cntgraph.core.groups.population_summary` and
    :func:`~cntgraph.core.groups.population_divergences` take.

    Example:
        states = population_states(graph.runner, ["ens-*"], "run.scale")
    """
    params = _checked(runs, by, 0.0)
    del params["width"]
    states = runner.query("read/population_states", **params)
    if states.empty:
        _explain_empty(runner, {**params, "width": 0.0})
    return states


def _checked(runs: Sequence[str] | str, by: str, width: float) -> dict[str, object]:
    names = [runs] if isinstance(runs, str) else list(runs)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ConfigurationError(f"runs must be run names (a name ending in * stands for every run it begins), got {runs!r}")
    if not isinstance(by, str) or not _BY.fullmatch(by):
        raise ConfigurationError(
            f"by must be 'run.<property>' or 'epoch.<property>' (e.g. 'epoch.accuracy', 'run.scale'), got {by!r}"
        )
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width >= 0:
        raise ConfigurationError(f"width must be a number >= 0 (0: group by the values themselves), got {width!r}")
    return {"runs": names, "by": by, "width": float(width)}


def _explain_empty(runner: Neo4jRunner, params: dict[str, object]) -> None:
    """Raise QueryError saying why a population has no rows: no run matched, or none has the property."""
    matched = runner.query("read/population_runs", runs=params["runs"])
    if matched.empty:
        raise QueryError(f"no run with a complete epoch matches {params['runs']!r}; `cntgraph runs` lists the runs")
    scope, key = str(params["by"]).split(".")
    have = sorted(set().union(*matched[f"{scope}_keys"]))
    if key in have:
        raise QueryError(f"the {len(matched)} runs matching {params['runs']!r} have no layer states to compare")
    raise QueryError(
        f"none of the {len(matched)} matching runs has {scope} property {key!r} on its {scope.capitalize()} nodes; "
        f"they have: {', '.join(have) or 'none'}"
    )

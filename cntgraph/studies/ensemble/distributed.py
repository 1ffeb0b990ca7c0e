"""A population trained on Ray: one task per member, locally or on a cluster.

Each task builds, trains and measures one member (`cntgraph.studies.ensemble.population.train_one`)
on a fixed number of torch threads, so its records are those of the same member trained in this
process on as many threads, bit for bit. With a graph, every task opens its own connection to the
same Neo4j (from the graph's connection settings: the server must be reachable from the Ray
workers) and records its member with a `Recorder`. A task that fails (a worker lost, a server
refusing a write) does not stop the others: its member's row says why, in ``error``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from tqdm.auto import tqdm

from cntgraph.core.null_models import checked_draws
from cntgraph.errors import ConfigurationError
from cntgraph.studies.data import Split, as_split
from cntgraph.studies.digits import load_digits
from cntgraph.studies.ensemble.population import (
    NULL_DRAWS,
    Architecture,
    Ensemble,
    Member,
    Outcome,
    assemble,
    train_one,
)

if TYPE_CHECKING:
    from cntgraph.core.sampling import Sampler
    from cntgraph.store.graph import Graph
    from cntgraph.store.runner import Target

__all__ = ["train_population_on_ray"]


def train_population_on_ray(
    population: Sequence[Member],
    address: str = "local",
    architecture: Architecture = "mlp",
    data: Split | Sequence[Any] | None = None,
    *,
    graph: Graph | None = None,
    sample: Sampler | None = None,
    run_prefix: str = "ensemble",
    null_draws: int = NULL_DRAWS,
    threads: int = 1,
    progress: bool = True,
) -> Ensemble:
    """`train_population` with every member a Ray task on ``threads`` torch threads.

    ``address``: ``"local"`` starts a Ray instance on this machine (stopped afterwards), anything
    else is passed to ``ray.init`` (``"auto"``, ``"ray://head:10001"``). Members whose task
    failed have their reason in ``members["error"]`` and no records.

    Example:
        ensemble = train_population_on_ray(draw_population(8, 5), "local")
    """
    checked_draws(null_draws)
    data = as_split(data) if data is not None else load_digits()
    try:
        import ray
    except ImportError as error:
        raise ConfigurationError("training on Ray needs the ray package: pip install 'cntgraph[ray]' (or 'ray>=2.9')") from error
    started = not ray.is_initialized()
    if started:
        ray.init(address=None if address == "local" else address, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(_member_task)
        shared = ray.put(data)
        target = None if graph is None else graph.runner.target
        if graph is not None and target is None:
            raise ConfigurationError("recording on Ray needs a graph connected from a URI (cntgraph.connect()), not from a driver")
        pending = {
            task.remote(member, architecture, shared, null_draws, target, sample, f"{run_prefix}-{member.member:04d}", threads): index
            for index, member in enumerate(population)
        }
        outcomes: list[Outcome | None] = [None] * len(population)
        with tqdm(total=len(population), desc=f"training {architecture} ensemble on Ray", unit="net", disable=not progress) as bar:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                index = pending.pop(done[0])
                outcomes[index] = _outcome(ray, done[0], population[index], threads)
                bar.update()
        return assemble([outcome for outcome in outcomes if outcome is not None], architecture, data)
    finally:
        if started:
            ray.shutdown()


def _member_task(
    member: Member, architecture: Architecture, data: Split, null_draws: int, target: Target | None, sample: Sampler | None,
    run: str, threads: int,
) -> Outcome:
    """One member, in a Ray worker: trained (and recorded, with a connection of its own) on ``threads`` threads."""
    torch.set_num_threads(threads)
    if target is None:
        return train_one(member, architecture, data, null_draws)
    from cntgraph.server.connect import connect

    with connect(target.uri, (target.user, target.password), target.database) as graph:
        return train_one(member, architecture, data, null_draws, (graph, sample, run))


def _outcome(ray: Any, ref: Any, member: Member, threads: int) -> Outcome:
    """The task's outcome, or the member's row with the reason it failed."""
    from dataclasses import asdict

    try:
        return ray.get(ref)
    except Exception as error:  # noqa: BLE001 - a failed member is reported in its row, the others go on
        reason = getattr(error, "cause", None) or error
        row = {**asdict(member), "threads": threads, "error": f"{type(reason).__name__}: {reason}"[:500],
               "accuracy": math.nan, "loss": math.nan, "diverged": False}
        return row, None

"""``cntgraph demo``: two small networks learn the handwritten digits, every epoch in Neo4j.

An MLP is recorded in full (every neuron and link), a CNN with 64 sampled neurons per layer.
The demo then aggregates the metrics inside Neo4j, prints accuracy and the fluctuation of every
layer at the first and last epoch, writes plots, and says where to look in Neo4j Browser.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from cntgraph.core.sampling import Full, Sampler, Uniform
from cntgraph.recording.recorder import Recorder
from cntgraph.store import browser
from cntgraph.store.graph import Graph
from cntgraph.studies import plots
from cntgraph.studies.digits import Digits, cnn, load_digits, mlp, train

INPUT_SHAPE = (1, 8, 8)


@dataclass(frozen=True)
class DemoRun:
    """One network of the demo: its run name, how to build it and which neurons to store."""

    run: str
    describe: str
    build: Callable[[], nn.Module]
    sample: Sampler


RUNS = (
    DemoRun("demo-mlp", "MLP 64-32-32-10, every neuron and link", lambda: mlp(32, 2), Full()),
    DemoRun("demo-cnn", "CNN conv8-conv16-dense64-10, 64 sampled neurons a layer", lambda: cnn(8, 64), Uniform(64, seed=0)),
)


@dataclass(frozen=True)
class DemoResult:
    """What the demo printed: the summary table and the paths of its plots."""

    summary: pd.DataFrame
    plots: list[Path]


def run_demo(graph: Graph, out: Path, epochs: int = 20, progress: bool = True) -> DemoResult:
    """Train and record both demo networks, aggregate in Neo4j, and plot.

    Example:
        result = run_demo(cntgraph.connect(), Path("cntgraph-demo"))
        result.summary.columns.tolist()
        ['run', 'accuracy', 'layer', 'first', 'last']
    """
    data = load_digits()
    rows, fluctuation = [], {}
    for demo in RUNS:
        accuracy = _record(graph, demo, data, epochs, progress)
        graph.aggregate(demo.run)
        fluctuation[demo.run] = graph.fluctuation(demo.run)
        rows.append(_summary(demo.run, accuracy, fluctuation[demo.run]))
    paths = [plots.fluctuation_over_epochs(fluctuation, out / "fluctuation.png")]
    for demo in RUNS:
        strengths = graph.query("read/strengths", run=demo.run, epochs=[0, epochs - 1])
        paths.append(plots.strength_distributions(strengths, out / f"strength-{demo.run}.png", f"Node strength, {demo.run}"))
    return DemoResult(pd.concat(rows, ignore_index=True), paths)


def _record(graph: Graph, demo: DemoRun, data: Digits, epochs: int, progress: bool) -> float:
    torch.manual_seed(0)
    model = demo.build()
    with Recorder(model, demo.run, INPUT_SHAPE, graph=graph, sample=demo.sample, if_exists="overwrite", progress=progress) as recorder:
        history = train(model, data, epochs, on_epoch=lambda epoch, loss, acc: recorder.capture(epoch, loss=loss, accuracy=acc))
    return history[-1][1]


def _summary(run: str, accuracy: float, fluctuation: pd.DataFrame) -> pd.DataFrame:
    first, last = fluctuation["epoch"].min(), fluctuation["epoch"].max()
    by_epoch = fluctuation.pivot(index="layer", columns="epoch", values="fluctuation")
    return pd.DataFrame(
        {"run": run, "accuracy": accuracy, "layer": by_epoch.index, "first": by_epoch[first].values, "last": by_epoch[last].values}
    )


def browser_queries(epoch: int) -> list[str]:
    """Three of the saved Browser queries (``cypher/browser/``), written in for the demo MLP.

    Example:
        >>> print(browser_queries(19)[2].splitlines()[1])
        MATCH (:Neuron {rid: run.rid, layer: toInteger(0), unit: toInteger(36)})-[link:LINK]->(target:Neuron {unit: toInteger(0)})
    """
    run = RUNS[0].run
    return [
        browser.ready_query("browser/epoch_graph", run=run, epoch=epoch),
        browser.ready_query("browser/fluctuation", run=run),
        browser.ready_query("browser/link_history", run=run, layer=0, src=36, dst=0),
    ]

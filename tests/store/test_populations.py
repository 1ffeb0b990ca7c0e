"""Populations of runs compared in the database, grouped by a run or epoch property: against pandas on
the same stored states, and against the models' own strengths computed in numpy."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from cntgraph import node_strength
from cntgraph.cli import main
from cntgraph.core.divergence import jeffreys_divergence, js_divergence
from cntgraph.core.groups import population_divergences, population_summary
from cntgraph.core.sampling import Full, Uniform
from cntgraph.errors import ConfigurationError, QueryError
from cntgraph.recording.recorder import Recorder
from cntgraph.store.graph import Graph
from tests.conftest import delete_run

pytestmark = pytest.mark.neo4j

PREFIX = "test-population-"
EPOCHS = 3
#: per run: its init scale (a run property), the sample it is stored with, and its accuracy at each epoch
RUNS = {
    f"{PREFIX}0": (0.5, Full(), [0.31, 0.52, 0.71]),
    f"{PREFIX}1": (0.5, Full(), [0.35, 0.55, 0.93]),
    f"{PREFIX}2": (1.0, Full(), [0.12, 0.58, 0.95]),
    f"{PREFIX}3": (1.0, Uniform(4, seed=3), [0.22, 0.41, 0.77]),
    f"{PREFIX}4": (2.0, Full(), [0.05, 0.15, 0.45]),
}


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))


@pytest.fixture(scope="module")
def population(graph: Graph) -> Iterator[dict[str, list[pd.DataFrame]]]:
    """The runs of `RUNS` recorded; per run, the exact node strengths of its model at each epoch (numpy)."""
    exact: dict[str, list[pd.DataFrame]] = {}
    for index, (run, (scale, sample, accuracy)) in enumerate(RUNS.items()):
        delete_run(graph, run)
        torch.manual_seed(index)
        net = model()
        with torch.no_grad():
            for parameter in net.parameters():
                parameter.mul_(scale)
        exact[run] = []
        with Recorder(net, run, (6,), graph=graph, sample=sample, progress=False, props={"scale": scale}) as recorder:
            for epoch in range(EPOCHS):
                with torch.no_grad():
                    for parameter in net.parameters():
                        parameter.add_(0.1 * torch.randn_like(parameter))
                recorder.capture(epoch, accuracy=accuracy[epoch])
                exact[run].append(node_strength(net, (6,)))
    delete_run(graph, f"{PREFIX}other")  # a run outside the population's names
    yield exact
    for run in RUNS:
        delete_run(graph, run)


@pytest.mark.parametrize(("by", "width"), [("epoch.accuracy", 0.25), ("run.scale", 0.0)])
def test_the_database_gives_what_pandas_gives_on_the_same_states(
    graph: Graph, population: dict[str, list[pd.DataFrame]], by: str, width: float
) -> None:
    result = graph.population([f"{PREFIX}*"], by, width)
    states = graph.population_states([f"{PREFIX}*"], by)
    assert sorted(states["run"].unique()) == sorted(RUNS) and len(states) == len(RUNS) * EPOCHS * 3
    pd.testing.assert_frame_equal(result.summary, population_summary(states, width), check_dtype=False, rtol=1e-9)
    pd.testing.assert_frame_equal(result.divergences, population_divergences(states, width), check_dtype=False, rtol=1e-9)
    assert set(result.divergences["quantity"]) == {"s", "w"} and (result.divergences["jeffreys"] > 0).all()


def test_groups_by_accuracy_bucket_against_the_models_own_strengths(graph: Graph, population: dict[str, list[pd.DataFrame]]) -> None:
    summary = graph.population([f"{PREFIX}*"], "epoch.accuracy", width=0.25).summary
    for epoch in range(EPOCHS):
        buckets: dict[float, list[str]] = {}
        for run, (_, _, accuracy) in RUNS.items():
            buckets.setdefault(np.floor(accuracy[epoch] / 0.25) * 0.25, []).append(run)
        at = summary[summary["epoch"] == epoch]
        assert sorted(at["group"].unique()) == sorted(buckets)
        for bucket, runs in buckets.items():
            for layer in range(3):
                row = at[(at["group"] == bucket) & (at["layer"] == layer)].iloc[0]
                tables = [population[run][epoch] for run in runs]
                pooled = np.concatenate([t.loc[t["layer"] == layer, "s"].to_numpy() for t in tables])
                fluctuation = pd.Series([t.loc[t["layer"] == layer, "s"].std(ddof=0) for t in tables])
                assert row["runs"] == len(runs) and row["s_count"] == pooled.size
                assert (row["s_mean"], row["s_std"]) == pytest.approx((pooled.mean(), pooled.std()), rel=1e-9)
                assert row["fluctuation_mean"] == pytest.approx(fluctuation.mean(), rel=1e-9)
                assert row["fluctuation_median"] == pytest.approx(fluctuation.median(), rel=1e-9)
                assert np.isnan(row["fluctuation_std"]) if len(runs) == 1 else row["fluctuation_std"] == pytest.approx(fluctuation.std(), rel=1e-9)


def test_groups_of_runs_sharing_their_edges_compare_their_summed_histograms(graph: Graph) -> None:
    # two runs from the same first weights get the same histogram edges: the grid is theirs, and a
    # group's histogram is the count of its runs' strengths on it (pseudocount 1/2, as densities())
    runs = [f"{PREFIX}same-{i}" for i in range(2)]
    strengths = []
    try:
        for index, run in enumerate(runs):
            delete_run(graph, run)
            torch.manual_seed(7)
            net = model()
            with Recorder(net, run, (6,), graph=graph, sample=Full(), progress=False, props={"arm": f"arm-{index}"}) as recorder:
                recorder.capture(0)
                with torch.no_grad():
                    net[2].weight.mul_(1.5 + index)
                recorder.capture(1)
            strengths.append(node_strength(net, (6,)))
        result = graph.population(runs, "run.arm")
        edges = np.asarray(graph.cypher("MATCH (l:Layer {run: $run, index: 2}) RETURN l.s_edges AS e", run=runs[0])["e"][0])
    finally:
        for run in runs:
            delete_run(graph, run)
    row = result.divergences.query("quantity == 's' and epoch == 1 and layer == 2").iloc[0]
    assert (row["group_a"], row["group_b"], row["bins"]) == ("arm-0", "arm-1", edges.size - 1)
    p, q = (
        (np.histogram(np.clip(s.loc[s["layer"] == 2, "s"], edges[0], edges[-1]), edges)[0] + 0.5) / (3 + 0.5 * (edges.size - 1))
        for s in strengths
    )
    assert (row["jeffreys"], row["jensen_shannon"]) == pytest.approx((jeffreys_divergence(p, q), js_divergence(p, q)), rel=1e-9)


def test_the_cli_prints_the_summary_and_the_divergences(
    graph: Graph, population: dict[str, list[pd.DataFrame]], cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["population", f"{PREFIX}*", "--by", "run.scale", "--format", "csv", "--epoch", "2"]) == 0
    printed = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    expected = graph.population([f"{PREFIX}*"], "run.scale").summary.query("epoch == 2").reset_index(drop=True)
    pd.testing.assert_frame_equal(printed, expected, check_dtype=False, rtol=1e-12)
    assert main(["population", f"{PREFIX}*", "--by", "run.scale", "--divergences"]) == 0
    assert "jensen_shannon" in capsys.readouterr().out


def test_bad_populations_are_named(graph: Graph, population: dict[str, list[pd.DataFrame]]) -> None:
    with pytest.raises(QueryError, match=r"no run with a complete epoch matches \['no-such-\*'\]"):
        graph.population(["no-such-*"], "run.scale")
    with pytest.raises(QueryError, match="none of the 5 matching runs has epoch property 'loss'.*they have: .*accuracy"):
        graph.population([f"{PREFIX}*"], "epoch.loss")
    with pytest.raises(ConfigurationError, match="by must be 'run.<property>' or 'epoch.<property>'"):
        graph.population([f"{PREFIX}*"], "accuracy")
    with pytest.raises(ConfigurationError, match="width must be a number >= 0"):
        graph.population([f"{PREFIX}*"], "run.scale", width=-1)
    with pytest.raises(ConfigurationError, match="runs must be run names"):
        graph.population([], "run.scale")
    with pytest.raises(QueryError, match="property 'model' of the runs has values that are not numbers"):
        graph.population([f"{PREFIX}*"], "run.model", width=0.5)

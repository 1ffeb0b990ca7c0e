"""``cntgraph report`` against the real server: what each figure shows equals the metrics by definition."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from torch import nn

from cntgraph.cli import build_parser, main
from cntgraph.core.sampling import Uniform
from cntgraph.errors import QueryError
from cntgraph.store.graph import Graph
from cntgraph.studies.report import DEFAULT_TOP, report_data, write_report
from tests.conftest import delete_run
from tests.divergences import oracle
from tests.store.test_graph import Params, _plan, float32, record, strengths

pytestmark = pytest.mark.neo4j

EPOCHS = 3
INPUTS = 5
PNG = b"\x89PNG\r\n\x1a\n"


def tiny_params(epoch: int) -> Params:
    """A 5-4-3 MLP whose weights and biases are redrawn at every epoch."""
    seed = 100 * epoch
    return [(float32(4, 5, seed=seed), float32(4, seed=seed + 1)), (float32(3, 4, seed=seed + 2), float32(3, seed=seed + 3))]


def tiny_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(INPUTS, 4), nn.ReLU(), nn.Linear(4, 3))


def layer_values(params: Params, layer: int) -> np.ndarray:
    """Every weight and bias of weighted layer ``layer`` (1..K): the multiset behind its weight histogram."""
    weight, bias = params[layer - 1]
    return np.concatenate([weight.ravel(), bias])


def stored_histogram(values: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges fixed at the first capture (64 equal bins over +-2 max |value|), and ``values`` counted on them, clipped."""
    reach = 2.0 * np.abs(first).max()
    edges = np.linspace(-reach, reach, 65)
    return edges, np.histogram(np.clip(values, -reach, reach), edges)[0]


def expected_movers(start: np.ndarray, end: np.ndarray, units: np.ndarray, k: int) -> list[int]:
    """The ``k`` of ``units`` whose strength changed most, ties by unit."""
    return sorted(units.tolist(), key=lambda unit: (-abs(end[unit] - start[unit]), unit))[:k]


@pytest.fixture(scope="module")
def tiny(graph: Graph) -> Iterator[str]:
    """The 5-4-3 MLP recorded in full for epochs 0, 1, 2."""
    name = "test-report-tiny"
    delete_run(graph, name)
    record(graph, name, tiny_mlp(), (INPUTS,), [tiny_params(epoch) for epoch in range(EPOCHS)])
    yield name
    delete_run(graph, name)


def test_report_data_equals_the_metrics_by_definition(graph: Graph, tiny: str) -> None:
    data = report_data(graph, tiny, epochs=[2, 0], top=2)
    assert (data.epochs, data.start, data.end) == ([0, 2], 0, 2)
    s = [strengths(tiny_params(epoch), INPUTS) for epoch in range(EPOCHS)]

    assert data.fluctuation[["epoch", "layer"]].values.tolist() == [[e, l] for e in range(EPOCHS) for l in range(3)]
    np.testing.assert_allclose(data.fluctuation["fluctuation"], [np.std(s[e][l]) for e in range(EPOCHS) for l in range(3)])

    assert data.strength[["epoch", "layer"]].values.tolist() == [[e, l] for e in (0, 2) for l in range(3)]
    for row in data.strength.itertuples(index=False):
        edges, counts = stored_histogram(s[row.epoch][row.layer], s[0][row.layer])
        np.testing.assert_allclose(row.edges, edges)
        assert row.counts.tolist() == counts.tolist()

    assert data.weights[["epoch", "layer"]].values.tolist() == [[e, l] for e in (0, 2) for l in (1, 2)]
    for row in data.weights.itertuples(index=False):
        first = layer_values(tiny_params(0), row.layer)
        edges, counts = stored_histogram(layer_values(tiny_params(row.epoch), row.layer), first)
        np.testing.assert_allclose(row.edges, edges)
        assert row.counts.tolist() == counts.tolist()

    for layer in range(3):
        movers = data.movers[data.movers["layer"] == layer]
        units = np.arange(s[0][layer].size)
        assert movers["unit"].tolist() == expected_movers(s[0][layer], s[2][layer], units, k=2)
        np.testing.assert_allclose(movers["s_start"], s[0][layer][movers["unit"]])
        np.testing.assert_allclose(movers["delta"], (s[2][layer] - s[0][layer])[movers["unit"]])


def test_individual_analysis_of_a_full_run_compares_every_strength_and_link_weight(graph: Graph, tiny: str) -> None:
    data = report_data(graph, tiny, epochs=[0, 2])
    for epoch in (0, 2):
        s = strengths(tiny_params(epoch), INPUTS)
        weights = {layer: tiny_params(epoch)[layer - 1][0].ravel() for layer in (1, 2)}  # links only: no biases
        for quantity, samples, pairs in (("strength", dict(enumerate(s)), [(0, 1), (0, 2), (1, 2)]), ("weight", weights, [(1, 2)])):
            rows = data.layers[(data.layers["epoch"] == epoch) & (data.layers["quantity"] == quantity)]
            assert rows[["layer_a", "layer_b"]].values.tolist() == [list(pair) for pair in pairs]
            for row, (a, b) in zip(rows.itertuples(index=False), pairs, strict=True):
                expected = oracle(np.asarray(samples[a], dtype=np.float64), np.asarray(samples[b], dtype=np.float64))
                assert row.jeffreys == pytest.approx(expected["jeffreys"], rel=1e-6)  # float32 weights stored as float64


def test_histograms_seek_the_layer_state_key(graph: Graph, tiny: str) -> None:
    plan = _plan(graph, "read/histograms", run=tiny, epochs=[0, 2])
    assert any("NodeUniqueIndexSeek" in op and "LayerState(rid, layer, epoch)" in op for op in plan), "\n".join(plan)
    assert not [op for op in plan if "Scan" in op], "\n".join(plan)


def test_report_defaults_to_first_and_last_epoch_and_one_given_epoch_moves_from_the_first(graph: Graph, tiny: str) -> None:
    data = report_data(graph, tiny)
    assert (data.epochs, data.start, data.end) == ([0, 2], 0, 2)
    assert data.movers.groupby("layer").size().tolist() == [INPUTS, 4, 3]  # fewer units than DEFAULT_TOP
    data = report_data(graph, tiny, epochs=[1])
    assert (data.epochs, data.start, data.end) == ([1], 0, 1)
    assert data.strength["epoch"].unique().tolist() == [1]


def test_histograms_count_every_unit_of_a_sampled_run_and_movers_only_stored_ones(graph: Graph, run_name: str) -> None:
    record(graph, run_name, tiny_mlp(), (INPUTS,), [tiny_params(epoch) for epoch in range(2)], sample=Uniform(2, seed=3))
    data = report_data(graph, run_name, top=1)
    assert [int(row.counts.sum()) for row in data.strength.itertuples()] == [INPUTS, 4, 3] * 2
    assert [int(row.counts.sum()) for row in data.weights.itertuples()] == [4 * 5 + 4, 3 * 4 + 3] * 2
    stored = graph.query("read/strengths", run=run_name, epochs=[0])
    s = [strengths(tiny_params(epoch), INPUTS) for epoch in range(2)]
    for layer in range(3):
        units = stored.loc[stored["layer"] == layer, "unit"].to_numpy()
        assert units.size == 2
        movers = data.movers.loc[data.movers["layer"] == layer, "unit"].tolist()
        assert movers == expected_movers(s[0][layer], s[1][layer], units, k=1)


def test_write_report_writes_five_pngs(graph: Graph, tiny: str, tmp_path: Path) -> None:
    paths = write_report(graph, tiny, tmp_path / "out", epochs=[0, 1, 2])
    assert [path.name for path in paths] == ["fluctuation.png", "strength.png", "weights.png", "top-movers.png", "layers.png"]
    for path in paths:
        assert path.parent == tmp_path / "out"
        assert path.read_bytes()[:8] == PNG
        height, width, _ = image.imread(path).shape
        assert height > 200 and width > 300


def test_unknown_runs_and_epochs_are_named(graph: Graph, tiny: str, tmp_path: Path) -> None:
    with pytest.raises(QueryError, match=r"no run named 'no-such-run'.*`cntgraph runs` lists them"):
        write_report(graph, "no-such-run", tmp_path)
    with pytest.raises(QueryError, match=rf"run '{tiny}' has no complete epoch 7; its complete epochs are 0..2"):
        write_report(graph, tiny, tmp_path, epochs=[0, 7])
    assert not tmp_path.joinpath("fluctuation.png").exists()


def test_cli_report_prints_the_paths(cli_env: None, capsys: pytest.CaptureFixture[str], tiny: str, tmp_path: Path) -> None:
    assert main(["report", tiny, "--out", str(tmp_path), "--epochs", "0,2", "--top", "1"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"Report of run {tiny!r}:"] + [
        f"  {tmp_path / name}" for name in ("fluctuation.png", "strength.png", "weights.png", "top-movers.png", "layers.png")
    ]
    assert all((tmp_path / name).read_bytes()[:8] == PNG for name in ("fluctuation.png", "top-movers.png"))


def test_cli_report_errors(cli_env: None, capsys: pytest.CaptureFixture[str], tiny: str, tmp_path: Path) -> None:
    assert main(["report", "no-such-run", "--out", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("cntgraph: error: no run named 'no-such-run'") and "`cntgraph runs` lists them" in error
    assert main(["report", tiny, "--out", str(tmp_path), "--epochs", "5"]) == 1
    assert f"run '{tiny}' has no complete epoch 5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", tiny, "--out", str(tmp_path), "--epochs", "0,last"])
    assert "is not a list of epochs like 0,19" in capsys.readouterr().err


def test_cli_help_states_the_default_top() -> None:
    report = build_parser()._subparsers._group_actions[0].choices["report"]  # noqa: SLF001
    assert f"(default {DEFAULT_TOP})" in report.format_help()

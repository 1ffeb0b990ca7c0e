"""Ensemble analysis: divergences against scipy and hand-worked values, buckets on hand examples,
and a tiny ensemble end to end through the Python API and the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from cntgraph import cli
from cntgraph.errors import ConfigurationError, MetricError
from cntgraph.model.metrics import (
    layer_fluctuation,
    layer_parameters,
    node_strength,
    null_model,
)
from cntgraph.store.graph import Graph
from cntgraph.studies import ensemble
from cntgraph.studies.digits import load_digits, train
from cntgraph.studies.ensemble import (
    analyse,
    bucket_of,
    build_member,
    draw_population,
    plot_ensemble,
    population,
    run_ensemble,
    train_member,
)
from cntgraph.studies.ensemble.population import INPUT_SHAPE, NULL_DRAWS, torch_threads
from tests.conftest import delete_run
from tests.divergences import oracle, reference_jeffreys

PNG = b"\x89PNG\r\n\x1a\n"


# -- buckets and the population --------------------------------------------------------------------
def test_buckets_by_hand() -> None:
    accuracy = [0.0, 0.0249, 0.025, 0.95, 0.975, 0.9999, 1.0, np.nan]
    assert bucket_of(accuracy, 0.025)[:-1].tolist() == [0.0, 0.0, 0.025, 0.95, 0.975, 0.975, 0.975]
    assert np.isnan(bucket_of(accuracy, 0.025)[-1])
    assert bucket_of([0.7, 0.8, 0.9, 1.0], 0.1).tolist() == [0.7, 0.8, 0.9, 0.9]
    assert bucket_of([0.5, 1.0], 1.0).tolist() == [0.0, 0.0]
    for width in (0, 1.5, "0.1"):
        with pytest.raises(ConfigurationError, match="bucket width"):
            bucket_of([0.5], width)  # type: ignore[arg-type]


def test_population_is_deterministic_and_checked() -> None:
    first, again = ensemble.draw_population(40, 7, seed=3), ensemble.draw_population(40, 7, seed=3)
    assert first == again
    assert first != ensemble.draw_population(40, 7, seed=4)
    assert {m.epochs for m in first} <= set(range(1, 8)) and len({m.init for m in first}) == 4
    with pytest.raises(ConfigurationError, match=r"init families .* got \['gaussian'\]"):
        ensemble.draw_population(3, 2, inits=["gaussian"])
    with pytest.raises(ConfigurationError, match="size must be a whole number >= 1, got 0"):
        ensemble.draw_population(0, 2)
    with pytest.raises(ConfigurationError, match="1 <= min_epochs <= epochs, got 5..2"):
        ensemble.draw_population(3, 2, min_epochs=5)


def test_initialisers_follow_keras() -> None:
    def weights(init: str, scale: float) -> torch.Tensor:
        return ensemble.initialise(nn.Linear(500, 400), init, scale, seed=0).weight.detach()

    assert float(weights("normal", 0.5).std()) == pytest.approx(0.5, rel=0.01)
    assert float(weights("uniform", 5.0).abs().max()) <= 5.0
    assert float(weights("uniform", 5.0).std()) == pytest.approx(5.0 / math.sqrt(3), rel=0.01)
    assert float(weights("truncated_normal", 0.05).abs().max()) <= 0.1
    # variance scaling: std sqrt(scale / fan_in) after truncation at 2 std (hence the 0.8796 correction)
    assert float(weights("variance_scaling", 2.0).std()) == pytest.approx(math.sqrt(2.0 / 500), rel=0.01)
    net = ensemble.initialise(nn.Sequential(nn.Conv2d(1, 4, 3), nn.Linear(4, 2)), "normal", 0.5, seed=0)
    assert all(float(module.bias.detach().abs().max()) == 0.0 for module in (net[0], net[1]))


# -- a tiny ensemble end to end ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ensemble.EnsembleResult:
    out = tmp_path_factory.mktemp("ensemble")
    return run_ensemble(size=6, epochs=2, seed=5, bucket_width=0.5, min_members=1, out=out, per_scale=False, progress=False)


def test_tiny_ensemble_writes_figures_and_tables(tiny: ensemble.EnsembleResult) -> None:
    assert tiny.analysis.buckets["bucket"].nunique() == 2  # so that there are divergences to draw
    assert {path.name for path in tiny.figures} == {
        "weights.png", "strength.png", "fluctuation.png", "fluctuation-accuracy.png", "trajectories.png",
        "jeffreys.png", "jensen-shannon.png", "iid-ratio.png",
    }
    for path in tiny.figures:
        assert path.read_bytes()[:8] == PNG
    out = tiny.figures[0].parent
    members = pd.read_csv(out / "members.csv")
    assert members["member"].tolist() == list(range(6))
    assert members["bucket"].tolist() == bucket_of(members["accuracy"], 0.5).tolist()
    final = tiny.ensemble.final(tiny.ensemble.fluctuation).query("layer == 2").sort_values("member")
    assert members["fluctuation_2"].tolist() == final["fluctuation"].tolist()


def test_the_reference_protocol_trains_as_the_reference_code_did() -> None:
    # biases drawn like the weights, batch 16, plain SGD at lr 0.01 (Adam at 1e-3), 1 to 5 epochs
    population = draw_population(4, seed=3, protocol="reference", optimizers=("sgd",), inits=("uniform",), scales=(0.5,))
    assert all(m.protocol == "reference" and 1 <= m.epochs <= 5 for m in population)
    member = population[0]
    model = build_member(member)
    biases = [m.bias.detach() for m in model.modules() if isinstance(m, nn.Linear)]
    assert all(float(b.abs().max()) > 0 and float(b.abs().max()) <= 0.5 for b in biases)
    expected = build_member(member)
    with torch_threads(1):
        records = train_member(member, model, load_digits(), null_draws=0)
        train(expected, load_digits(), member.epochs, optimizer="sgd", lr=0.01, momentum=0.0, batch_size=16, seed=member.seed)
    values = np.concatenate([p.detach().double().numpy().ravel() for m in expected.modules() if isinstance(m, nn.Linear)
                             for p in (m.weight, m.bias)])
    assert records["final_weights"]["w"].to_numpy().tolist() == values.tolist()


def test_members_record_the_threads_they_trained_on() -> None:
    result = run_ensemble(size=2, epochs=1, seed=0, bucket_width=1.0, min_members=1, threads=2, progress=False, null_draws=0)
    assert result.ensemble.members["threads"].tolist() == [2, 2]
    assert result.ensemble.members["protocol"].tolist() == ["cntgraph", "cntgraph"]


def test_per_scale_analysis_buckets_each_scale_on_its_own(tmp_path: Path) -> None:
    result = run_ensemble(size=8, epochs=2, seed=2, bucket_width=0.5, min_members=1, scales=(0.05, 0.5), out=tmp_path,
                          progress=False)
    members = result.ensemble.members
    assert sorted(result.by_scale) == [0.05, 0.5] and set(members["scale"]) == {0.05, 0.5}
    final = result.ensemble.final(result.ensemble.fluctuation).merge(members[["member", "scale", "accuracy"]], on="member")
    for scale, analysis in result.by_scale.items():
        mine = members.loc[members["scale"] == scale, "member"].tolist()
        assert analysis.buckets["member"].tolist() == mine
        part = final[final["scale"] == scale].assign(bucket=lambda f: bucket_of(f["accuracy"], 0.5))
        medians = part.groupby(["bucket", "layer"])["fluctuation"].median()
        assert analysis.summary.set_index(["bucket", "layer"])["fluctuation_median"].to_dict() == pytest.approx(medians.to_dict())
        folder = tmp_path / f"scale-{scale:g}"
        assert pd.read_csv(folder / "members.csv")["member"].tolist() == mine
        assert (folder / "fluctuation.png").read_bytes()[:8] == PNG
    assert {path.parent.name for path in result.figures} == {"scale-0.05", "scale-0.5"}
    assert not (tmp_path / "members.csv").exists()  # pooled tables only with per_scale=False


def test_tiny_ensemble_metrics_equal_the_metrics_of_a_retrained_member(tiny: ensemble.EnsembleResult) -> None:
    member = tiny.ensemble.spec(4)
    row = tiny.ensemble.members.iloc[4]
    model = build_member(member)
    with torch_threads(1):  # as run_ensemble trains (threads=1): the same threads round the same way
        train_member(member, model, load_digits())
    last = member.epochs - 1  # noqa: F841 - read by the query below as @last
    ours = tiny.ensemble.strengths.query("member == 4 and epoch == @last").reset_index(drop=True)
    expected = node_strength(model, INPUT_SHAPE)
    pd.testing.assert_frame_equal(ours[expected.columns.tolist()], expected, check_dtype=False)
    fluctuation = tiny.ensemble.fluctuation.query("member == 4 and epoch == @last").reset_index(drop=True)
    assert fluctuation["fluctuation"].tolist() == layer_fluctuation(model, INPUT_SHAPE)["fluctuation"].tolist()
    nulls = null_model(model, INPUT_SHAPE, draws=NULL_DRAWS, seed=last).layers  # the ensemble's null, seeded by the epoch
    pd.testing.assert_frame_equal(fluctuation[nulls.columns], nulls, check_exact=False, rtol=1e-12)
    weights = tiny.ensemble.final_weights.query("member == 4")
    for layer, _, values in layer_parameters(model, INPUT_SHAPE):
        assert weights.loc[weights["layer"] == layer, "w"].tolist() == values.tolist()
        stats = tiny.ensemble.weights.query("member == 4 and epoch == @last and layer == @layer").iloc[0]
        assert stats["mean"] == pytest.approx(values.mean()) and stats["q95"] == pytest.approx(np.quantile(values, 0.95))
    assert row["accuracy"] == tiny.ensemble.history.query("member == 4")["accuracy"].iloc[-1]


def test_tiny_ensemble_analysis_against_independent_computations(tiny: ensemble.EnsembleResult) -> None:
    final = tiny.ensemble.final(tiny.ensemble.fluctuation).merge(tiny.analysis.buckets, on="member")
    medians = final.groupby(["bucket", "layer"])["fluctuation"].median()
    summary = tiny.analysis.summary.set_index(["bucket", "layer"])
    assert summary["fluctuation_median"].to_dict() == pytest.approx(medians.to_dict())
    for column in ("iid_ratio", "z"):
        expected = final.groupby(["bucket", "layer"])[column].median()
        assert summary[f"{column}_median"].to_dict() == pytest.approx(expected.to_dict())
    assert set(tiny.analysis.divergences["quantity"]) == {"weight", "strength", "fluctuation", "iid_ratio", "z"}
    table = tiny.analysis.null_table()
    assert table.columns.tolist() == ["bucket", "members", *(f"{name} {layer}" for name in ("iid_ratio", "z") for layer in range(4))]
    assert table["iid_ratio 1"].tolist() == pytest.approx(summary.xs(1, level="layer")["iid_ratio_median"].tolist())
    for row in tiny.analysis.divergences.itertuples(index=False):
        values = tiny.analysis.values.query("quantity == @row.quantity and layer == @row.layer")
        a, b = (values.loc[values["bucket"] == bucket, "value"].to_numpy() for bucket in (row.bucket_a, row.bucket_b))
        expected = oracle(a, b)
        assert row.bins == expected["bins"]
        assert row.jeffreys == pytest.approx(expected["jeffreys"])
        assert row.jensen_shannon == pytest.approx(expected["jensen_shannon"])


def test_reanalysis_with_the_reference_estimator(tiny: ensemble.EnsembleResult, tmp_path: Path) -> None:
    again = analyse(tiny.ensemble, bucket_width=0.5, min_members=1, estimator="kde_reference", progress=False)
    assert set(again.divergences["estimator"]) == {"kde_reference"} and set(tiny.analysis.divergences["estimator"]) == {"histogram"}
    assert again.divergences["jensen_shannon"].isna().all()  # the reference defines only its Jeffreys sum
    for row in again.divergences.itertuples(index=False):
        values = again.values.query("quantity == @row.quantity and layer == @row.layer")
        a, b = (values.loc[values["bucket"] == bucket, "value"].to_numpy() for bucket in (row.bucket_a, row.bucket_b))
        if min(np.unique(a).size, np.unique(b).size) < 2:  # one member's fluctuation: no KDE
            assert math.isnan(row.jeffreys) and row.bins == 0
            continue
        assert row.jeffreys == pytest.approx(reference_jeffreys(a, b), rel=1e-12)
    assert again.divergences["jeffreys"].notna().sum() >= 4  # weights and strengths of both layers compared
    figures = {path.name for path in plot_ensemble(tiny.ensemble, again, tmp_path, progress=False)}
    assert "jeffreys.png" in figures and "jensen-shannon.png" not in figures


def test_diverging_members_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    real = population.train_member

    def train_or_blow_up(member, model, data, on_epoch=None, null_draws=0):  # noqa: ANN001, ANN202
        if member.member == 1:
            raise MetricError("layer '1' has non-finite parameters (3 of 3 values)")
        return real(member, model, data, on_epoch, null_draws)

    monkeypatch.setattr(population, "train_member", train_or_blow_up)
    result = run_ensemble(size=3, epochs=1, seed=0, bucket_width=1.0, min_members=1, progress=False)
    assert result.ensemble.members["diverged"].tolist() == [False, True, False]
    assert sorted(result.ensemble.history["member"].unique()) == [0, 2]
    assert result.analysis.buckets["analysed"].tolist() == [True, False, True]


def test_reanalysis_of_a_stratum(tiny: ensemble.EnsembleResult) -> None:
    chosen = tiny.ensemble.members["member"].iloc[:3]
    part = analyse(tiny.ensemble.select(chosen), bucket_width=1.0, min_members=1, progress=False)
    assert part.buckets["member"].tolist() == chosen.tolist()
    assert set(part.values["bucket"]) == {0.0}
    assert part.divergences.empty and part.extremes().empty


# -- the command line ---------------------------------------------------------------------------------
def test_cli_runs_a_tiny_ensemble(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["ensemble", "--size", "4", "--epochs", "1", "--bucket-width", "1", "--min-members", "1",
                     "--scales", "0.5", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "4 members in" in printed and "Median layer fluctuation" in printed and "Beyond weight size" in printed
    listed = [Path(line.strip()) for line in printed.splitlines() if line.startswith(f"  {tmp_path}")]
    assert {path.name for path in listed} >= {"weights.png", "trajectories.png", "summary.csv"}
    assert all(path.exists() for path in listed)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--bucket-width", "2"], "bucket width must be a number in (0, 1]"),
        (["--inits", "gaussian"], "init families must be a non-empty subset"),
        (["--model", "mlp", "--epochs", "0"], "epochs must be a whole number >= 1, got 0"),
    ],
)
def test_cli_errors_name_the_bad_input(argv: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ensemble", "--size", "2", "--out", str(tmp_path), *argv]) == 1
    assert named in capsys.readouterr().err


# -- recording into Neo4j -----------------------------------------------------------------------------
@pytest.mark.neo4j
def test_members_recorded_into_neo4j_match_the_ensemble(graph: Graph) -> None:
    population = ensemble.draw_population(2, epochs=2, seed=11)
    runs = [f"test-ensemble-{m.member:04d}" for m in population]
    for run in runs:
        delete_run(graph, run)
    try:
        recorded = ensemble.train_population(population, graph=graph, run_prefix="test-ensemble", progress=False)
        for member, run in zip(population, runs, strict=True):
            stored = graph.fluctuation(run).sort_values(["epoch", "layer"], ignore_index=True)
            ours = recorded.fluctuation.query("member == @member.member").sort_values(["epoch", "layer"], ignore_index=True)
            assert stored["epoch"].tolist() == ours["epoch"].tolist() == np.repeat(range(member.epochs), 4).tolist()
            assert stored["fluctuation"].tolist() == pytest.approx(ours["fluctuation"].tolist(), rel=1e-12)
            props = graph.query("read/export_run", run=run)["props"][0]  # the member, as run properties
            assert {key: props[key] for key in ("member", "init", "scale", "seed")} == {
                key: getattr(member, key) for key in ("member", "init", "scale", "seed")
            }
        groups = graph.population(runs, "run.scale").summary  # so a population groups by them
        assert sorted(groups["group"].unique()) == sorted({member.scale for member in population})
    finally:
        for run in runs:
            delete_run(graph, run)


@pytest.mark.neo4j
def test_a_rerun_keeps_members_already_complete_in_the_store(graph: Graph) -> None:
    population = ensemble.draw_population(2, epochs=2, seed=12)
    runs = [f"test-rerun-{m.member:04d}" for m in population]
    for run in runs:
        delete_run(graph, run)
    try:
        first = ensemble.train_population(population, graph=graph, run_prefix="test-rerun", null_draws=0, progress=False)
        rids = [int(graph.query("read/run", name=run)["rid"][0]) for run in runs]
        delete_run(graph, runs[1])  # as if its task had failed
        again = ensemble.train_population(population, graph=graph, run_prefix="test-rerun", null_draws=0, progress=False)
        assert int(graph.query("read/run", name=runs[0])["rid"][0]) == rids[0]  # kept, not written again
        assert graph.complete_epochs(runs[1]) == list(range(population[1].epochs))  # written again
        for name in ("history", "fluctuation", "final_weights"):  # the same records either way
            pd.testing.assert_frame_equal(getattr(again, name), getattr(first, name), check_exact=True)
    finally:
        for run in runs:
            delete_run(graph, run)

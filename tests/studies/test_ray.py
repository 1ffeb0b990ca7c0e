"""A population on Ray: the same records as trained one after another, failures reported, members recorded."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cntgraph import cli
from cntgraph.store.graph import Graph
from cntgraph.studies.ensemble import (
    Member,
    draw_population,
    torch_threads,
    train_population,
    train_population_on_ray,
)
from tests.conftest import delete_run

FRAMES = ("history", "fluctuation", "strengths", "weights", "final_weights")


def test_ray_tasks_give_the_records_of_the_sequential_run() -> None:
    population = draw_population(4, epochs=2, seed=3)
    with torch_threads(1):
        here = train_population(population, null_draws=4, progress=False)
    there = train_population_on_ray(population, "local", null_draws=4, threads=1, progress=False)
    for name in FRAMES:  # bit for bit: the same seeds, the same thread count
        pd.testing.assert_frame_equal(getattr(there, name), getattr(here, name), check_exact=True)
    pd.testing.assert_frame_equal(there.members, here.members, check_exact=True)
    assert there.members["error"].isna().all()


def test_a_failing_member_is_reported_and_the_others_train() -> None:
    population = [*draw_population(2, epochs=1, seed=4), Member(2, "normal", 0.5, "sgd", 1, seed=9, protocol="no-such-protocol")]
    ensemble = train_population_on_ray(population, "local", null_draws=0, progress=False)
    members = ensemble.members.set_index("member")
    assert members.loc[2, "error"].startswith("ConfigurationError: protocol must be one of ['cntgraph', 'reference']")
    assert pd.isna(members.loc[2, "accuracy"]) and members.loc[[0, 1], "error"].isna().all()
    assert sorted(ensemble.history["member"].unique()) == [0, 1]


@pytest.mark.neo4j
def test_members_trained_on_ray_are_recorded_into_neo4j(graph: Graph) -> None:
    population = draw_population(2, epochs=2, seed=5)
    runs = [f"test-ray-{m.member:04d}" for m in population]
    for run in runs:
        delete_run(graph, run)
    try:
        ensemble = train_population_on_ray(population, "local", graph=graph, run_prefix="test-ray", null_draws=0, progress=False)
        for member, run in zip(population, runs, strict=True):
            assert graph.complete_epochs(run) == list(range(member.epochs))
            stored = graph.fluctuation(run).sort_values(["epoch", "layer"], ignore_index=True)
            mine = ensemble.fluctuation.query("member == @member.member").sort_values(["epoch", "layer"], ignore_index=True)
            pd.testing.assert_series_equal(stored["fluctuation"], mine["fluctuation"], check_exact=False, rtol=1e-12)
    finally:
        for run in runs:
            delete_run(graph, run)


def test_cli_ensemble_on_ray(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["ensemble", "--size", "3", "--epochs", "1", "--bucket-width", "1", "--min-members", "1", "--pooled",
                     "--null-draws", "0", "--ray", "--out", str(tmp_path)])
    assert code == 0 and "3 members in" in capsys.readouterr().out

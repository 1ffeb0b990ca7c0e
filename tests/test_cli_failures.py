"""The command line on bad input and failing surroundings (issue 14, item 11): our own one-line
errors and exit codes, never a traceback."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cntgraph.cli import main
from cntgraph.core.sampling import Uniform
from cntgraph.recording.recorder import Recorder
from cntgraph.store.graph import Graph
from tests.recording.test_recorder import INPUT, mlp


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["neo4j", "start", "--bolt-port", "99999"], "--bolt-port: '99999' is not a whole number from 1 to 65535"),
        (["neo4j", "start", "--nice", "20"], "--nice: '20' is not a whole number from 0 to 19"),
        (["demo", "--epochs", "0"], "--epochs: '0' is not a whole number >= 1"),
        (["view", "--port", "http"], "--port: 'http' is not a whole number from 1 to 65535"),
    ],
)
def test_values_out_of_range_are_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`cntgraph ... | head`: the pipe's reader is gone before anything is written (closed first, so no race)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "cntgraph.cli", "query", "--list"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120, check=False)  # fmt: skip
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")


def test_replay_of_a_folder_that_does_not_exist_is_an_error(
    cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", "--spool", str(tmp_path / "nonexistent")]) == 1
    assert f"spool folder {tmp_path / 'nonexistent'} does not exist" in capsys.readouterr().err


@pytest.mark.neo4j
def test_query_names_what_is_not_recorded_and_types_its_parameters(
    cli_env: None, graph: Graph, run_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Recorder(mlp(), run_name, INPUT, graph=graph, sample=Uniform(5, seed=6), spool_dir=tmp_path, progress=False) as rec:
        rec.capture(0)
        rec.capture(1)
    cases = [
        (["query/epochs", "--param", "run=1"], "no run named '1'"),  # a string, as the query declares, not the integer 1
        (["query/epoch_links", "--param", f"run={run_name}", "--param", "epoch=7"], "has no complete epoch 7"),
        (["query/neuron_history", "--param", f"run={run_name}", "--param", "layer=9", "--param", "unit=0"], "has no node layer 9"),
        (["query/neuron_history", "--param", f"run={run_name}", "--param", "layer=1", "--param", "unit=10"],
         "node layer 1 of run .* has no unit 10 \\(\\$unit\\); its units are 0..9"),
        (["query/epoch_links", "--param", f"run={run_name}", "--param", "epoch=one"], "parameter \\$epoch is an integer, got 'one'"),
    ]  # fmt: skip
    for argv, message in cases:
        assert main(["query", *argv]) == 1, argv
        assert re.search(message, capsys.readouterr().err), (argv, message)
    assert main(["query", "query/epochs", "--param", f"run={run_name}", "--format", "json"]) == 0
    assert [row["epoch"] for row in json.loads(capsys.readouterr().out)] == [0, 1]


@pytest.mark.neo4j
def test_delete_asks_first_and_repair_drops_incomplete_epochs(
    cli_env: None, graph: Graph, run_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with Recorder(mlp(), run_name, INPUT, graph=graph, sample=Uniform(5, seed=6), spool_dir=tmp_path, progress=False) as rec:
        rec.capture(0)
    rid = int(graph.query("read/run", name=run_name)["rid"][0])
    graph.runner.run("write/epoch_begin", rid=rid, epoch=1, props={})  # what a writer killed half-way leaves
    assert main(["repair", run_name]) == 0
    assert f"Deleted incomplete epoch(s) [1] of run {run_name!r}" in capsys.readouterr().out
    assert graph.cypher("MATCH (e:Epoch {rid: $rid}) RETURN collect(e.epoch) AS e", rid=rid)["e"][0] == [0]
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    assert main(["delete", run_name]) == 1
    assert "Nothing deleted." in capsys.readouterr().out
    assert not graph.query("read/run", name=run_name).empty
    assert main(["delete", run_name, "--yes"]) == 0
    assert graph.query("read/run", name=run_name).empty
    assert main(["delete", run_name, "--yes"]) == 1
    assert f"no run named {run_name!r}" in capsys.readouterr().err

"""The recorder's writer process (cntgraph/recording/worker.py), against the real server: what it
writes equals what the training process would write, the next recorder reuses it, a writer
process that dies or cannot start loses nothing, and it never runs the user's training script."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from cntgraph.core.sampling import Uniform
from cntgraph.recording.recorder import Recorder
from cntgraph.store.graph import Graph
from tests.conftest import Neo4jUnderTest, complete_epochs, stored_links
from tests.recording.test_recorder import INPUT, mlp, nudge, record

pytestmark = pytest.mark.neo4j


def writer_processes() -> list[int]:
    """Process ids of this process's children that run cntgraph's writer process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # a process that just ended
        if parent == os.getpid() and b"cntgraph.recording.worker" in command:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("writer_process", [True, False], ids=["writer-process", "in-process"])
def test_both_ways_of_writing_store_the_models_weights(graph: Graph, run_name: str, writer_process: bool) -> None:
    model = mlp()
    seen = record(graph, run_name, model, range(3), sample=Uniform(5, seed=3), writer_process=writer_process)
    links = stored_links(graph, run_name)
    assert sorted(links["epoch"].unique()) == [0, 1, 2]
    for layer, module in ((0, 0), (1, 2), (2, 4)):  # node layer of the source -> index of its Linear in mlp()
        of_layer = links.query("src_layer == @layer")
        assert len(of_layer) > 0
        for epoch in range(3):
            at = of_layer.query("epoch == @epoch")
            np.testing.assert_array_equal(at["w"].to_numpy(), seen[epoch][module][at["dst"], at["src"]])


def test_a_second_recorder_reuses_the_idle_writer_process(graph: Graph, run_name: str) -> None:
    other = f"{run_name}-2"
    from tests.conftest import delete_run

    delete_run(graph, other)
    try:
        record(graph, run_name, mlp(), range(2), sample=Uniform(5, seed=3))
        idle = writer_processes()
        assert len(idle) == 1  # closed, its writer process waits for the next recorder
        model = mlp()
        seen = record(graph, other, model, range(2), sample=Uniform(5, seed=3))
        assert writer_processes() == idle
        links = stored_links(graph, other).query("src_layer == 1 and epoch == 1")
        np.testing.assert_array_equal(links["w"].to_numpy(), seen[1][2][links["dst"], links["src"]])
        assert list(complete_epochs(graph, run_name)) == list(complete_epochs(graph, other)) == [0, 1]
    finally:
        delete_run(graph, other)


def test_a_half_precision_model_is_written_exactly(graph: Graph, run_name: str) -> None:
    """Tensors numpy cannot hold (bfloat16) cross to the writer process as float32, which holds them exactly."""
    model = mlp().to(torch.bfloat16)
    with Recorder(model, run_name, INPUT, graph=graph, sample=Uniform(5, seed=3), progress=False) as recorder:
        recorder.capture(0)
    links = stored_links(graph, run_name).query("src_layer == 1")
    expected = model[2].weight.detach().double().numpy()[links["dst"], links["src"]]
    np.testing.assert_array_equal(links["w"].to_numpy(), expected)


def test_a_writer_process_that_dies_loses_no_epoch(graph: Graph, run_name: str) -> None:
    model = mlp()
    with Recorder(model, run_name, INPUT, graph=graph, sample=Uniform(5, seed=3), progress=False) as recorder:
        recorder.capture(0)
        recorder.flush()
        (worker,) = writer_processes()
        os.kill(worker, signal.SIGKILL)
        with pytest.warns(RuntimeWarning, match="writer process is not available"):
            for epoch in (1, 2):
                nudge(model, epoch)
                recorder.capture(epoch)
            recorder.flush()
        last = model[4].weight.detach().double().numpy()
    assert list(complete_epochs(graph, run_name)) == [0, 1, 2]
    links = stored_links(graph, run_name).query("src_layer == 2 and epoch == 2")
    np.testing.assert_array_equal(links["w"].to_numpy(), last[links["dst"], links["src"]])


def test_the_writer_process_never_runs_the_training_script(
    neo4j_server: Neo4jUnderTest, graph: Graph, run_name: str, tmp_path: Path
) -> None:
    """A script without ``if __name__ == "__main__":`` (most training scripts) runs once, not again in the writer process."""
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import torch
            from torch import nn
            import cntgraph
            print("the script ran", flush=True)
            model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
            with cntgraph.Recorder(model, {run_name!r}, (4,), progress=False) as recorder:
                for epoch in range(2):
                    recorder.capture(epoch)
            """
        )
    )
    env = {
        **os.environ,
        "NEO4J_URI": neo4j_server.uri,
        "NEO4J_USER": neo4j_server.auth[0],
        "NEO4J_PASSWORD": neo4j_server.auth[1],
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    done = subprocess.run([sys.executable, str(script)], check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("the script ran") == 1
    assert list(complete_epochs(graph, run_name)) == [0, 1]


def test_a_writer_process_that_cannot_start_loses_no_epoch(
    graph: Graph, run_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
    monkeypatch.setenv("CNTGRAPH_NICE", "18")  # not the priority of an idle writer process from an earlier test
    model = mlp()
    with pytest.warns(RuntimeWarning, match="writer process is not available.*no-python-here"), Recorder(
        model, run_name, INPUT, graph=graph, sample=Uniform(5, seed=3), progress=False
    ) as recorder:
        for epoch in (0, 1):
            nudge(model, epoch)
            recorder.capture(epoch)
    assert list(complete_epochs(graph, run_name)) == [0, 1]
    links = stored_links(graph, run_name).query("src_layer == 0 and epoch == 1")
    np.testing.assert_array_equal(links["w"].to_numpy(), model[0].weight.detach().double().numpy()[links["dst"], links["src"]])

"""Faults and load against a real server of the test's own: nothing lost, nothing doubled.

These are the heavier tests (marker ``heavy``); ``make test`` runs them too.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cntgraph.core.sampling import Full, Uniform
from cntgraph.errors import RecorderError
from cntgraph.recording.recorder import Recorder
from cntgraph.recording.replay import replay
from cntgraph.server import ManagedServer
from cntgraph.server.connect import connect
from cntgraph.store.graph import Graph
from tests.conftest import complete_epochs, stored_links

pytestmark = [pytest.mark.neo4j, pytest.mark.heavy]

WIDE = (256,)


def wide_mlp(seed: int = 0) -> nn.Module:
    """About 330k links an epoch when stored in full: long enough to kill the server mid-write."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 384), nn.ReLU(), nn.Linear(384, 10))


def links_in_store(graph: Graph, run: str) -> int:
    return len(stored_links(graph, run))


def test_kill_9_mid_write_then_replay_leaves_no_partial_and_no_duplicate(own_server: ManagedServer, tmp_path: Path) -> None:
    state = own_server.state()
    assert state is not None
    auth = ("neo4j", own_server.password())
    model, run = wide_mlp(), "killed"
    per_epoch = 256 * 512 + 512 * 384 + 384 * 10
    graph = connect(state.bolt_uri, auth)
    # small transactions, so that writing an epoch takes long enough to be killed half-way
    recorder = Recorder(
        model, run, WIDE, graph=graph, sample=Full(), spool_dir=tmp_path, retry_after=600, batch_size=1_000, progress=False
    )
    recorder.capture(0)
    recorder.flush()
    recorder.capture(1)
    _wait_for_links(graph, run, epoch=1)  # the write of epoch 1 is under way
    os.kill(state.pid, signal.SIGKILL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recorder.flush()
    assert any("epoch 1 of run 'killed' was not written" in str(w.message) for w in caught)
    with pytest.raises(RecorderError, match=r"spooled in .*killed-.*-epoch-000001.npz"):
        recorder.close()
    graph.close()
    own_server.start(bolt_port=state.bolt_port, http_port=state.http_port, progress=False)
    with connect(state.bolt_uri, auth) as graph:
        assert complete_epochs(graph, run) == {0: per_epoch}  # epoch 1 is partial: invisible
        assert replay(graph, tmp_path, progress=False) == [(run, 1)]
        assert complete_epochs(graph, run) == {0: per_epoch, 1: per_epoch}
        assert links_in_store(graph, run) == 2 * per_epoch  # the partial write was replaced
    assert list(tmp_path.glob("*.npz")) == []


def _wait_for_links(graph: Graph, run: str, epoch: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = graph.cypher(
            "MATCH (r:Run {name: $run}) MATCH (s:NeuronState {rid: r.rid, epoch: $epoch}) WHERE s.w_in IS NOT NULL "
            "RETURN count(s) AS n",
            run=run, epoch=epoch,
        )
        if int(found["n"][0]) > 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"no link of epoch {epoch} appeared within {timeout} s")


def test_training_goes_on_while_the_server_is_down(own_server: ManagedServer, tmp_path: Path) -> None:
    """Stop the server for a while during training: captures keep returning, all epochs land."""
    state = own_server.state()
    assert state is not None
    auth = ("neo4j", own_server.password())
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 4))
    graph = connect(state.bolt_uri, auth)
    per_epoch = 16 * 12 + 12 * 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        recorder = Recorder(model, "downtime", (16,), graph=graph, spool_dir=tmp_path, retry_after=1.0, queue_size=64, progress=False)
        for epoch in range(12):
            if epoch == 3:
                stopper = threading.Thread(target=own_server.stop)
                stopper.start()
            if epoch == 8:
                stopper.join()
                own_server.start(bolt_port=state.bolt_port, http_port=state.http_port, progress=False)
            with torch.no_grad():
                model[0].weight.add_(0.01)
            recorder.capture(epoch)  # returns while the server is down: the writer spools
            time.sleep(0.3)  # "training"
        recorder.close()
    graph.close()
    with connect(state.bolt_uri, auth) as graph:
        assert complete_epochs(graph, "downtime") == {epoch: per_epoch for epoch in range(12)}
        last = stored_links(graph, "downtime").query("epoch == 11 and src_layer == 0 and src == 0 and dst == 0")
    assert last["w"].tolist() == [model[0].weight[0, 0].item()]


def _record_one_run(uri: str, user: str, password: str, run: str, seed: int) -> None:
    """A recorder in its own process (multiprocessing target): 3 epochs of a Uniform-sampled MLP."""
    with connect(uri, (user, password)) as graph:
        model = wide_mlp(seed)
        with Recorder(model, run, WIDE, graph=graph, sample=Uniform(128, seed=seed), progress=False) as recorder:
            for epoch in range(3):
                with torch.no_grad():
                    model[0].weight.mul_(0.99)
                recorder.capture(epoch, seed=seed)


@pytest.mark.parametrize("how", ["threads", "processes"])
def test_four_recorders_at_once(how: str, graph: Graph, neo4j_server, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    runs = [f"load-{how}-{i}" for i in range(4)]
    for run in runs:
        _delete(graph, run)
    args = [(neo4j_server.uri, *neo4j_server.auth, run, seed) for seed, run in enumerate(runs)]
    started = time.perf_counter()
    if how == "threads":
        workers = [threading.Thread(target=_record_one_run, args=a) for a in args]
    else:
        context = multiprocessing.get_context("spawn")
        workers = [context.Process(target=_record_one_run, args=a) for a in args]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    elapsed = time.perf_counter() - started
    assert not any(worker.is_alive() for worker in workers), "a recorder hung (deadlock?)"
    if how == "processes":
        assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    per_epoch = 128 * 128 + 128 * 128 + 128 * 10
    for run in runs:
        assert complete_epochs(graph, run) == {0: per_epoch, 1: per_epoch, 2: per_epoch}
        assert links_in_store(graph, run) == 3 * per_epoch
    with capsys.disabled():
        print(f"\n4 recorders as {how}: {4 * 3 * per_epoch} links in {elapsed:.1f} s = {4 * 3 * per_epoch / elapsed:,.0f} links/s")
    for run in runs:
        _delete(graph, run)


def _delete(graph: Graph, run: str) -> None:
    from tests.conftest import delete_run

    delete_run(graph, run)


def test_stored_weights_survive_a_kill_exactly(own_server: ManagedServer) -> None:
    """Whatever was complete before a kill -9 reads back bit for bit after recovery."""
    state = own_server.state()
    assert state is not None
    auth = ("neo4j", own_server.password())
    model = wide_mlp(5)
    with connect(state.bolt_uri, auth) as graph, Recorder(model, "durable", WIDE, graph=graph, sample=Uniform(32, seed=5), progress=False) as recorder:
        recorder.capture(0)
    os.kill(state.pid, signal.SIGKILL)
    time.sleep(0.5)
    own_server.start(bolt_port=state.bolt_port, http_port=state.http_port, progress=False)
    with connect(state.bolt_uri, auth) as graph:
        stored = stored_links(graph, "durable").query("epoch == 0 and src_layer == 1")
    weight = model[2].weight.detach().double().numpy()
    assert len(stored) == 32 * 32
    np.testing.assert_array_equal(stored["w"], weight[stored["dst"], stored["src"]])

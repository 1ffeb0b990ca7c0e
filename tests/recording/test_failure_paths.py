"""Every failure path of recording (issue 14), against the real server: an outage is a proxy the
test cuts (tests/outage.py), so it begins and ends exactly where the test says.

Each test names the item of issue 14 it covers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from cntgraph.core.sampling import Uniform
from cntgraph.errors import ConfigurationError, RecorderError, SpoolError
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace
from cntgraph.recording.recorder import Recorder
from cntgraph.recording.replay import replay
from cntgraph.records.build import build_records, new_layout
from cntgraph.records.spool import save
from cntgraph.store.graph import Graph
from cntgraph.store.writer import Writer, delete_run, epoch_statements, transactions
from tests.conftest import Neo4jUnderTest, complete_epochs
from tests.conftest import delete_run as delete_named_run
from tests.outage import Proxy
from tests.recording.test_recorder import INPUT, mlp, nudge, rid_of

pytestmark = pytest.mark.neo4j

SAMPLE = Uniform(5, seed=6)
LINKS = 5 * 5 + 5 * 5 + 5 * 3  # the stored links of one epoch of mlp() with SAMPLE


@pytest.fixture
def proxy(neo4j_server: Neo4jUnderTest) -> Iterator[Proxy]:
    through = Proxy(neo4j_server.uri)
    yield through
    through.cut()


def recorder(graph: Graph, run: str, spool: Path, **kwargs: object) -> Recorder:
    return Recorder(mlp(), run, INPUT, graph=graph, sample=SAMPLE, spool_dir=spool, retry_after=60, progress=False, **kwargs)


# -- 1. a spool that fails never hangs training and loses nothing it can keep -----------------------
def test_a_spool_that_cannot_be_written_surfaces_at_the_next_capture_and_the_epoch_is_kept(
    graph: Graph, run_name: str, proxy: Proxy, neo4j_server: Neo4jUnderTest, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("the spool folder cannot be made under a file")
    with proxy.graph(neo4j_server.auth) as through:
        rec = recorder(through, run_name, blocker / "spool", queue_size=1)
        rec.capture(0)
        rec.flush()
        proxy.cut()
        rec.capture(1)  # Neo4j away and no spool: kept in memory
        with pytest.raises(RecorderError, match=r"(?s)epoch 1 could not be written to Neo4j \(.*\) nor spooled to .*a-file/spool"):
            rec.flush()
        rec.capture(2)  # the queue (size 1) keeps moving: no hang
        with pytest.raises(RecorderError, match=r"(?s)epoch 2 could not be written to Neo4j .* nor spooled"):
            rec.flush()  # each such epoch is reported once
        rec.flush()
        proxy.restore()
        rec.close()  # written now, the oldest first
    assert complete_epochs(graph, run_name) == {0: LINKS, 1: LINKS, 2: LINKS}


def test_numpy_and_tensor_epochs_are_spooled_while_neo4j_is_away(
    graph: Graph, run_name: str, proxy: Proxy, neo4j_server: Neo4jUnderTest, tmp_path: Path
) -> None:
    with proxy.graph(neo4j_server.auth) as through:
        rec = recorder(through, run_name, tmp_path)
        rec.capture(np.int64(0), step=np.int64(7))
        rec.flush()
        proxy.cut()
        with pytest.warns(RuntimeWarning, match="(?s)epoch 1 .*spooled to"):
            rec.capture(torch.tensor(1), loss=torch.tensor(0.5))
            rec.flush()
        with pytest.raises(RecorderError, match="1 epoch\\(s\\) could not be written"):
            rec.close()
    assert replay(graph, tmp_path, progress=False) == [(run_name, 1)]
    assert complete_epochs(graph, run_name) == {0: LINKS, 1: LINKS}
    assert graph.cypher("MATCH (e:Epoch {run: $run, epoch: 1}) RETURN e.loss AS loss", run=run_name)["loss"][0] == 0.5


# -- 2. epochs survive a process that never calls close() -------------------------------------
SCRIPT = """
import sys, warnings
import cntgraph, torch
from torch import nn
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 6), nn.Tanh(), nn.Linear(6, 3))
recorder = cntgraph.Recorder(model, sys.argv[1], (12,), sample=cntgraph.Uniform(5, seed=6), progress=False)
for epoch in range(3):
    with torch.no_grad():
        model[0].weight.add_(0.01)
    recorder.capture(epoch)
if sys.argv[2] == "raise":
    raise RuntimeError("training failed")
"""


@pytest.mark.parametrize("ending", ["normal", "raise"])
def test_epochs_are_written_when_the_process_ends_without_close(
    graph: Graph, run_name: str, neo4j_server: Neo4jUnderTest, tmp_path: Path, ending: str
) -> None:
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri, "NEO4J_USER": neo4j_server.auth[0],
           "NEO4J_PASSWORD": neo4j_server.auth[1], "CNTGRAPH_HOME": str(tmp_path)}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT), run_name, ending], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == (0 if ending == "normal" else 1), done.stderr
    assert f"the Recorder of run {run_name!r} was not closed" in done.stderr
    assert complete_epochs(graph, run_name) == {0: LINKS, 1: LINKS, 2: LINKS}


# -- 3. capture() after close() ---------------------------------------------------------------
def test_capture_after_close_is_an_error_and_writes_nothing(graph: Graph, run_name: str, tmp_path: Path) -> None:
    rec = recorder(graph, run_name, tmp_path)
    with rec:
        rec.capture(0)
    with pytest.raises(RecorderError, match=r"capture\(1\) after close\(\); nothing was recorded.*if_exists='resume'"):
        rec.capture(1)
    rec.close()  # closing twice is harmless
    assert complete_epochs(graph, run_name) == {0: LINKS}


# -- 4. bad data is refused at capture(), before anything is queued; what Neo4j refuses is set aside
@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"big": 2**64}, "big=18446744073709551616 does not fit Neo4j's 64-bit integers"),
        ({"": 1.0}, "epoch property name '' is not a non-empty string"),
        ({"note": "bad \ud800 text"}, "epoch property note holds '\\\\ud800', which is not valid Unicode"),
        ({"shape": [1, 2]}, "shape=\\[1, 2\\] is a list"),
    ],
)
def test_bad_epoch_properties_are_refused_at_capture(
    graph: Graph, run_name: str, tmp_path: Path, props: dict[str, object], message: str
) -> None:
    with recorder(graph, run_name, tmp_path) as rec:
        with pytest.raises(ConfigurationError, match=message):
            rec.capture(0, **props)
        rec.capture(0, loss=0.25)
    assert complete_epochs(graph, run_name) == {0: LINKS}
    assert list(tmp_path.rglob("*.npz")) == []


def test_an_epoch_neo4j_refuses_is_set_aside_and_the_next_ones_go_on(graph: Graph, run_name: str, tmp_path: Path) -> None:
    rec = recorder(graph, run_name, tmp_path)
    rec.capture(0)
    rec.flush()
    delete_run(graph.runner, rid_of(graph, run_name))  # deleted from another terminal while recording
    rec.capture(1)
    with pytest.raises(RecorderError, match=r"is no longer in Neo4j.*kept in .*refused/.*epoch-000001\.npz.*cntgraph replay FILE"):
        rec.flush()
    rec.capture(2)
    with pytest.raises(RecorderError, match=r"epoch-000002\.npz"):
        rec.close()
    refused = sorted((tmp_path / "refused").glob("*.npz"))
    assert [path.name[-16:] for path in refused] == ["epoch-000001.npz", "epoch-000002.npz"]
    assert list(tmp_path.glob("*.npz")) == []  # nothing left queued behind them
    # the command the message names keeps them, as a run of their own
    kept = f"{run_name}-kept"
    delete_named_run(graph, kept)
    try:
        assert replay(graph, files=refused, as_run=kept, progress=False) == [(kept, 1), (kept, 2)]
        assert complete_epochs(graph, kept) == {1: LINKS, 2: LINKS}
    finally:
        delete_named_run(graph, kept)


def test_replay_moves_a_file_that_can_never_be_written_aside_and_writes_the_others(
    graph: Graph, run_name: str, tmp_path: Path
) -> None:
    model = mlp()
    snapshot = take_snapshot(model, trace(model, INPUT))
    layout = new_layout(run_name, 4242, snapshot, SAMPLE, {}, 64, {})
    bad = save(build_records(layout, snapshot, 0, {"big": 2**64}), tmp_path)  # made without the recorder's checks
    os.utime(bad, (1, 1))  # the oldest: replayed first
    save(build_records(layout, snapshot, 1, {}), tmp_path)
    with pytest.raises(SpoolError, match=r"(?s)1 spooled epoch\(s\) written; 1 could not be.*refused/.*epoch-000000\.npz"):
        replay(graph, tmp_path, progress=False)
    assert complete_epochs(graph, run_name) == {1: LINKS}
    assert [path.name for path in (tmp_path / "refused").iterdir()] == [bad.name]


# -- 5. epoch numbers -----------------------------------------------------------------------
@pytest.mark.parametrize("epoch", [1.5, True, "3", None, -1, 2**63, torch.tensor(0.5)])
def test_an_epoch_that_is_not_a_whole_number_neo4j_stores_is_refused(graph: Graph, run_name: str, tmp_path: Path, epoch: object) -> None:
    with recorder(graph, run_name, tmp_path) as rec:
        with pytest.raises(RecorderError, match=r"epoch must be a whole number from 0 to 2\*\*63 - 1, got .*nothing was recorded"):
            rec.capture(epoch)
    assert graph.query("read/run", name=run_name).empty  # nothing reached the store


# -- 6. two recorders creating one run at once ---------------------------------------------------
def _race(graph: Graph, run: str, tmp_path: Path, if_exists: str) -> list[BaseException | None]:
    """Two recorders with different samples start ``run`` at the same moment, capturing epochs 0-1 and 2-3."""
    together, started = threading.Barrier(2), threading.Barrier(2)
    outcome: list[BaseException | None] = [None, None]

    def one(i: int) -> None:
        model = mlp()
        rec = Recorder(model, run, INPUT, graph=graph, sample=Uniform(5, seed=i), spool_dir=tmp_path / str(i),
                       if_exists=if_exists, progress=False)  # fmt: skip
        try:
            together.wait()
            try:
                rec.start()  # the race
            finally:
                started.wait()  # then epochs 0-1 and 2-3, so that neither goes back behind the other's
            with rec:
                for epoch in (2 * i, 2 * i + 1):
                    nudge(model, epoch)
                    rec.capture(epoch)
        except RecorderError as error:
            outcome[i] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome


def _consistent(graph: Graph, run: str) -> None:
    """One run with one sample: each layer's stored neurons are its sample, each complete epoch holds them all."""
    runs = graph.cypher("MATCH (r:Run {name: $run}) RETURN r.rid AS rid", run=run)
    assert len(runs) == 1
    layers = graph.cypher(
        "MATCH (l:Layer {rid: $rid}) OPTIONAL MATCH (l)-[:HAS_NEURON]->(n) RETURN l.index AS layer, l.sampled AS sampled, "
        "count(n) AS neurons ORDER BY layer",
        rid=int(runs["rid"][0]),
    )
    assert layers["sampled"].tolist() == layers["neurons"].tolist() == [5, 5, 5, 3]


@pytest.mark.parametrize("trial", range(3))
def test_two_recorders_resuming_one_new_run_at_once_share_it_intact(graph: Graph, run_name: str, tmp_path: Path, trial: int) -> None:
    assert _race(graph, run_name, tmp_path, "resume") == [None, None]
    _consistent(graph, run_name)
    assert complete_epochs(graph, run_name) == {0: LINKS, 1: LINKS, 2: LINKS, 3: LINKS}
    assert list(tmp_path.rglob("*.npz")) == []


@pytest.mark.parametrize("trial", range(3))
def test_of_two_recorders_creating_one_run_the_loser_is_told_and_spools_nothing(
    graph: Graph, run_name: str, tmp_path: Path, trial: int
) -> None:
    outcome = _race(graph, run_name, tmp_path, "error")
    lost = [error for error in outcome if error is not None]
    assert len(lost) == 1
    assert "already exists" in str(lost[0]) or "created by another recorder at the same moment" in str(lost[0])
    assert "if_exists='resume'" in str(lost[0])
    _consistent(graph, run_name)
    assert len(complete_epochs(graph, run_name)) == 2
    assert list(tmp_path.rglob("*.npz")) == []


# -- 7. cntgraph replay from another terminal while the recorder runs ---------------------------
def test_a_replay_from_elsewhere_while_recording_does_not_wedge_the_recorder(
    graph: Graph, run_name: str, proxy: Proxy, neo4j_server: Neo4jUnderTest, tmp_path: Path
) -> None:
    with proxy.graph(neo4j_server.auth) as through:
        rec = recorder(through, run_name, tmp_path)
        rec.capture(0)
        rec.flush()
        proxy.cut()
        with pytest.warns(RuntimeWarning, match="spooled"):
            for epoch in (1, 2):
                rec.capture(epoch)
            rec.flush()
        assert replay(graph, tmp_path, progress=False) == [(run_name, 1), (run_name, 2)]  # another terminal
        proxy.restore()
        rec.capture(3)
        rec.close()  # nothing left to report
    assert complete_epochs(graph, run_name) == {0: LINKS, 1: LINKS, 2: LINKS, 3: LINKS}
    assert list(tmp_path.glob("*.npz")) == []


# -- 10. the partial epoch of a killed writer ---------------------------------------------------------
def test_resume_deletes_the_partial_epoch_a_killed_writer_left(graph: Graph, run_name: str, tmp_path: Path) -> None:
    model = mlp()
    with recorder(graph, run_name, tmp_path) as rec:
        rec.capture(0)
    # what a writer killed after its first transaction of epoch 1 leaves: an open epoch and some states
    records = build_records(rec._layout, take_snapshot(model, trace(model, INPUT)), 1, {})  # noqa: SLF001
    writer = Writer(graph.runner, batch_size=10)
    writer.runner.run("write/epoch_begin", rid=records.rid, epoch=1, props={})
    first = next(transactions(epoch_statements(records, 10), 10))
    writer.runner.run_many(first)
    partial = "MATCH (s:NeuronState {rid: $rid, epoch: 1}) RETURN count(s) AS n"
    assert graph.cypher(partial, rid=records.rid)["n"][0] > 0
    with pytest.warns(RuntimeWarning, match=r"incomplete epoch\(s\) \[1\].*deleted now"):
        with recorder(graph, run_name, tmp_path, if_exists="resume") as rec:
            rec.capture(2)
    assert graph.cypher(partial, rid=records.rid)["n"][0] == 0
    assert graph.cypher("MATCH (e:Epoch {rid: $rid}) RETURN collect(e.epoch) AS e", rid=records.rid)["e"][0] == [0, 2]
    assert complete_epochs(graph, run_name) == {0: LINKS, 2: LINKS}


def test_a_transaction_run_again_after_its_commit_stores_each_state_once(graph: Graph, run_name: str, tmp_path: Path) -> None:
    """The driver runs a transaction again when it did not hear back from a commit that happened (the
    server going away at that moment): the states written twice must neither collide nor double. Seen in CI,
    where the collision made an epoch look refused."""
    model = mlp()
    with recorder(graph, run_name, tmp_path) as rec:
        rec.capture(0)
    records = build_records(rec._layout, take_snapshot(model, trace(model, INPUT)), 1, {})  # noqa: SLF001
    graph.runner.run("write/epoch_begin", rid=records.rid, epoch=1, props={})
    (group,) = transactions(epoch_statements(records, 10**6), 10**6)  # a small epoch: one transaction
    graph.runner.run_many(group)  # committed, but the driver did not hear back ...
    graph.runner.run_many(group)  # ... and runs the transaction again
    assert complete_epochs(graph, run_name) == {0: LINKS, 1: LINKS}
    states = graph.cypher("MATCH (s:NeuronState {rid: $rid, epoch: 1}) RETURN count(s) AS n", rid=records.rid)["n"][0]
    assert states == sum(block.unit.size for block in records.neurons)

"""Offline ingest of saved checkpoints: the same graph as live recording, and clear errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from cntgraph.core.sampling import Uniform
from cntgraph.errors import ConfigurationError
from cntgraph.recording.ingest import epoch_numbers, ingest, load_factory
from cntgraph.recording.recorder import Recorder
from cntgraph.store.graph import Graph
from tests.conftest import delete_run, stored_links

INPUT = (20,)


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))


def stored(graph: Graph, run: str) -> dict[str, pd.DataFrame]:
    """Everything a run stores per epoch that ingest must reproduce, in a fixed order."""
    rid = int(graph.query("read/run", name=run)["rid"][0])
    return {
        "neurons": graph.cypher(
            "MATCH (n:Neuron {rid: $rid}) RETURN n.layer AS layer, n.unit AS unit ORDER BY layer, unit", rid=rid
        ),
        "links": stored_links(graph, run),
        "states": graph.cypher(
            "MATCH (s:NeuronState {rid: $rid}) RETURN s.epoch AS epoch, s.layer AS layer, s.unit AS unit, s.s AS s "
            "ORDER BY epoch, layer, unit",
            rid=rid,
        ),
        "epochs": graph.cypher(
            "MATCH (e:Epoch {rid: $rid}) RETURN e.epoch AS epoch, e.complete AS complete, e.checkpoint AS checkpoint "
            "ORDER BY epoch",
            rid=rid,
        ),
    }


@pytest.fixture
def ingested_name(graph: Graph, run_name: str) -> Iterator[str]:
    """A second run name of this test's own, for the ingested run; deleted afterwards."""
    name = f"{run_name}-ingested"
    delete_run(graph, name)
    yield name
    delete_run(graph, name)


def train_and_save(graph: Graph, run: str, folder: Path, epochs: int = 3) -> list[Path]:
    """Train ``mlp()`` recording it live as ``run``; save a state_dict per epoch; return the files."""
    torch.manual_seed(0)
    model = mlp()
    x, y = torch.randn(64, 20), torch.randint(0, 3, (64,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    paths = []
    with Recorder(model, run, INPUT, graph=graph, sample=Uniform(10, seed=1), progress=False) as recorder:
        for epoch in range(epochs):
            for batch in range(0, 64, 16):
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(x[batch : batch + 16]), y[batch : batch + 16])
                loss.backward()
                optimizer.step()
            recorder.capture(epoch, loss=loss)
            paths.append(folder / f"epoch_{epoch}.pt")
            torch.save(model.state_dict(), paths[-1])
    return paths


@pytest.mark.neo4j
def test_ingested_checkpoints_store_the_same_graph_as_live_recording(
    graph: Graph, run_name: str, ingested_name: str, tmp_path: Path
) -> None:
    paths = train_and_save(graph, run_name, tmp_path)
    written = ingest(mlp, INPUT, ingested_name, paths, graph=graph, sample=Uniform(10, seed=1), progress=False)
    assert written == [0, 1, 2]
    live, offline = stored(graph, run_name), stored(graph, ingested_name)
    assert len(live["neurons"]) == 10 + 10 + 8 + 3  # the 20 inputs and 16 hidden units sampled to 10
    assert len(live["links"]) == 3 * (10 * 10 + 10 * 8 + 8 * 3)
    for table in ("neurons", "links", "states"):
        pd.testing.assert_frame_equal(offline[table], live[table], check_exact=True)
    assert offline["epochs"]["complete"].tolist() == [True, True, True]
    assert offline["epochs"]["checkpoint"].tolist() == ["epoch_0.pt", "epoch_1.pt", "epoch_2.pt"]


@pytest.mark.neo4j
def test_wrapped_state_dicts_and_epoch_pattern(graph: Graph, run_name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    state = mlp().state_dict()
    lightning, loop = tmp_path / "model-epoch=3.ckpt", tmp_path / "model-epoch=12.ckpt"
    torch.save({"state_dict": state, "epoch": 3, "global_step": 40}, lightning)
    torch.save({"model_state_dict": state, "optimizer_state_dict": {}}, loop)
    written = ingest(
        mlp, INPUT, run_name, [lightning, loop], graph=graph, epoch_pattern=r"epoch=(\d+)", progress=False
    )
    assert written == [3, 12]
    assert stored(graph, run_name)["epochs"]["epoch"].tolist() == [3, 12]


@pytest.mark.neo4j
def test_a_corrupt_checkpoint_is_named_and_nothing_of_it_is_written(
    graph: Graph, run_name: str, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    good, corrupt, after = tmp_path / "epoch_0.pt", tmp_path / "epoch_1.pt", tmp_path / "epoch_2.pt"
    torch.save(mlp().state_dict(), good)
    corrupt.write_bytes(b"\x80\x02 not a checkpoint" * 8)
    torch.save(mlp().state_dict(), after)
    with pytest.raises(ConfigurationError, match=r"cannot read checkpoint .*epoch_1\.pt .*torch\.save"):
        ingest(mlp, INPUT, run_name, [good, corrupt, after], graph=graph, progress=False)
    epochs = stored(graph, run_name)["epochs"]
    assert epochs["epoch"].tolist() == [0]  # the file before it is written; it and those after are not
    assert graph.query("read/run", name=run_name)["epochs"][0] == 1


@pytest.mark.neo4j
def test_keys_that_do_not_fit_the_model_are_listed(graph: Graph, run_name: str, tmp_path: Path) -> None:
    path = tmp_path / "epoch_0.pt"
    torch.save(mlp().state_dict(), path)
    def smaller() -> nn.Module:  # mlp() without its last layer
        return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3))

    unexpected = r"epoch_0\.pt does not fit .*: unexpected keys \[4\.bias, 4\.weight\]\. Build"
    with pytest.raises(ConfigurationError, match=unexpected):
        ingest(smaller, INPUT, run_name, [path], graph=graph, progress=False)
    assert graph.query("read/run", name=run_name).empty  # nothing reached the store


def test_shapes_and_contents_that_are_not_the_models_are_errors(tmp_path: Path) -> None:
    def wider() -> nn.Module:  # the same keys as mlp(), other shapes
        return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 8), nn.ReLU(), nn.Linear(8, 3))

    path = tmp_path / "epoch_0.pt"
    torch.save(mlp().state_dict(), path)
    with pytest.raises(ConfigurationError, match=r"epoch_0\.pt does not fit .*size mismatch for 0\.weight"):
        ingest(wider, INPUT, "never-written", [path], progress=False)
    torch.save({"weights": [1, 2]}, path)
    with pytest.raises(ConfigurationError, match=r"epoch_0\.pt holds a dict with keys \[weights\], not a state_dict"):
        ingest(mlp, INPUT, "never-written", [path], progress=False)
    with pytest.raises(ConfigurationError, match="returned a str, not a torch.nn.Module"):
        ingest(lambda: "mlp", INPUT, "never-written", [path], progress=False)  # type: ignore[arg-type, return-value]


def test_epoch_numbers_come_from_epochs_pattern_or_order() -> None:
    paths = [Path("ckpt/epoch_2.pt"), Path("ckpt/epoch-10.pt")]
    assert epoch_numbers(paths) == [0, 1]
    assert epoch_numbers(paths, epochs=[5, 6]) == [5, 6]
    assert epoch_numbers(paths, epoch_pattern=r"epoch[_-]?(\d+)") == [2, 10]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epoch_pattern": r"epoch_(\d+)"}, r"no epoch number in the file name 'epoch-10\.pt'"),
        ({"epoch_pattern": r"epoch[_-]?\d+"}, "has 0 groups; it needs exactly one"),
        ({"epoch_pattern": r"epoch(["}, "is not a regular expression"),
        ({"epochs": [4, 4]}, r"epoch-10\.pt \(epoch 4\) comes after epoch_2\.pt \(epoch 4\); epochs must increase"),
        ({"epochs": [1]}, "1 epochs given for 2 checkpoints"),
        ({"epochs": [1.0, 2.0]}, "epochs must be whole numbers"),
        ({"epochs": [1, 2], "epoch_pattern": "(x)"}, "either epochs or epoch_pattern, not both"),
    ],
)
def test_epoch_numbers_that_cannot_be_used_are_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        epoch_numbers([Path("ckpt/epoch_2.pt"), Path("ckpt/epoch-10.pt")], **kwargs)  # type: ignore[arg-type]


def test_files_out_of_epoch_order_are_named() -> None:
    with pytest.raises(ConfigurationError, match=r"epoch_2\.pt \(epoch 2\) comes after epoch_10\.pt \(epoch 10\)"):
        epoch_numbers([Path("epoch_10.pt"), Path("epoch_2.pt")], epoch_pattern=r"epoch_(\d+)")
    with pytest.raises(ConfigurationError, match="no checkpoints given"):
        epoch_numbers([])


def test_load_factory_imports_from_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cntgraph_test_models.py").write_text(
        "from torch import nn\n\nclass Zoo:\n    @staticmethod\n    def make():\n        return nn.Linear(2, 1)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "cntgraph_test_models", raising=False)
    factory = load_factory("cntgraph_test_models:Zoo.make")
    assert isinstance(factory(), nn.Linear)
    assert str(tmp_path) in sys.path
    sys.modules.pop("cntgraph_test_models")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mypkg.models.make_mlp", r"'mypkg.models.make_mlp' is not 'module:function'"),
        ("cntgraph_no_such_module:make", r"cannot import module 'cntgraph_no_such_module' .*Run from the directory"),
        ("json:make_mlp", r"module 'json' has no 'make_mlp'"),
        ("json:__doc__", r"'json:__doc__' is a str, not callable"),
    ],
)
def test_load_factory_errors_name_the_spec(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_factory(spec)


def test_cli_ingest_records_checkpoint_files(
    graph: Graph, run_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], neo4j_server,  # noqa: ANN001
) -> None:
    from cntgraph.cli import main

    (tmp_path / "cli_models.py").write_text(
        "from torch import nn\n\ndef make():\n    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3))\n"
    )
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3))
    files = []
    for epoch in (5, 6):
        torch.save(model.state_dict(), tmp_path / f"epoch_{epoch}.pt")
        files.append(str(tmp_path / f"epoch_{epoch}.pt"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "cli_models", raising=False)
    for name, value in zip(("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"), (neo4j_server.uri, *neo4j_server.auth), strict=True):
        monkeypatch.setenv(name, value)
    code = main(["ingest", "--model", "cli_models:make", "--input-shape", "20", "--run", run_name,
                 "--epoch-pattern", r"epoch_(\d+)", "--sample-k", "8", *files])
    assert code == 0
    assert f"Recorded 2 epoch(s) of run '{run_name}': 5, 6" in capsys.readouterr().out
    assert stored(graph, run_name)["epochs"]["epoch"].tolist() == [5, 6]

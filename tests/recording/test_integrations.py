"""The Lightning and Hugging Face callbacks, on real (tiny) fits into the real Neo4j."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cntgraph.core.sampling import Uniform
from cntgraph.recording.epoch_props import epoch_props
from cntgraph.store.graph import Graph
from tests.conftest import require, stored_links

INPUT = (20,)


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))


def data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(32, 20, generator=generator), torch.randint(0, 3, (32,), generator=generator)


def epochs_of(graph: Graph, run: str, *props: str) -> list[dict[str, Any]]:
    """The complete epochs of ``run`` in order, each with its number and the given properties."""
    rid = int(graph.query("read/run", name=run)["rid"][0])
    frame = graph.cypher(
        "MATCH (e:Epoch {rid: $rid}) WHERE e.complete RETURN e.epoch AS epoch, properties(e) AS props ORDER BY epoch",
        rid=rid,
    )
    return [
        {"epoch": epoch} | {key: stored.get(key) for key in props}
        for epoch, stored in zip(frame["epoch"], frame["props"], strict=True)
    ]


def test_epoch_props_keep_scalars_under_valid_unreserved_names() -> None:
    metrics = {
        "train/loss": torch.tensor(0.25),
        "val acc@1": np.float32(0.5),
        "epoch": 3,
        "links": 1.0,
        "1cycle-lr": 0.1,
        "per_class": torch.tensor([0.1, 0.2]),
        "note": "fine",
        "flag": True,
    }
    assert epoch_props(metrics) == {
        "train_loss": 0.25, "val_acc_1": 0.5, "train_epoch": 3.0, "train_links": 1.0, "_1cycle_lr": 0.1, "flag": 1.0,
    }  # fmt: skip


def test_importing_cntgraph_imports_no_framework() -> None:
    code = (
        "import sys, cntgraph, cntgraph.recording, cntgraph.recording.ingest, cntgraph.recording.epoch_props\n"
        "cntgraph.Recorder\n"
        "print(sorted(m for m in ('lightning', 'pytorch_lightning', 'transformers') if m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


@pytest.mark.parametrize(
    ("module", "blocked", "advice"),
    [
        ("cntgraph.recording.lightning", ("lightning.pytorch", "pytorch_lightning"), "pip install lightning"),
        ("cntgraph.recording.huggingface", ("transformers",), "pip install transformers"),
    ],
)
def test_a_missing_framework_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str, blocked: tuple[str, ...], advice: str
) -> None:
    monkeypatch.delitem(sys.modules, module, raising=False)
    for name in blocked:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import name` fail
    with pytest.raises(ImportError, match=advice):
        __import__(module)


def lightning_module(pl: Any, fail_at_epoch: int | None = None) -> Any:
    class Classifier(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
            if self.current_epoch == fail_at_epoch:
                raise RuntimeError("training broke")
            x, y = batch
            loss = nn.functional.cross_entropy(self(x), y)
            self.log("train/loss", loss, on_step=False, on_epoch=True)
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.5)

    return Classifier()


def lightning_fit(pl: Any, module: Any, callback: Any) -> Any:
    trainer = pl.Trainer(
        max_epochs=2, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[callback],
    )  # fmt: skip
    trainer.fit(module, DataLoader(TensorDataset(*data()), batch_size=16))
    return trainer


@pytest.mark.neo4j
def test_lightning_fit_records_each_epoch_with_its_logged_metrics(graph: Graph, run_name: str) -> None:
    pl = require("lightning.pytorch")
    from cntgraph.recording.lightning import CntgraphCallback

    callback = CntgraphCallback(run_name, INPUT, graph=graph, sample=Uniform(5, seed=1), progress=False)
    trainer = lightning_fit(pl, lightning_module(pl), callback)
    epochs = epochs_of(graph, run_name, "train_loss")
    assert [e["epoch"] for e in epochs] == [0, 1]
    assert all(isinstance(e["train_loss"], float) for e in epochs)
    assert epochs[1]["train_loss"] == pytest.approx(float(trainer.callback_metrics["train/loss"]))
    assert callback.recorder is None  # closed at the end of training


@pytest.mark.neo4j
def test_lightning_failure_still_writes_the_epochs_before_it(graph: Graph, run_name: str) -> None:
    pl = require("lightning.pytorch")
    from cntgraph.recording.lightning import CntgraphCallback

    callback = CntgraphCallback(run_name, INPUT, graph=graph, progress=False)
    with pytest.raises(RuntimeError, match="training broke"):
        lightning_fit(pl, lightning_module(pl, fail_at_epoch=1), callback)
    assert [e["epoch"] for e in epochs_of(graph, run_name)] == [0]
    assert callback.recorder is None


class HuggingFaceMlp(nn.Module):
    """A plain module as the Trainer wants it: keyword inputs, a dict with the loss when given labels."""

    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Any:
        logits = self.net(x)
        if labels is None:
            return logits
        return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}


@pytest.mark.neo4j
def test_trainer_records_each_epoch_with_its_end_of_epoch_logs(graph: Graph, run_name: str, tmp_path: Path) -> None:
    transformers = require("transformers")
    require("accelerate")  # the Trainer needs it
    from cntgraph.recording.huggingface import CntgraphTrainerCallback

    x, y = data()
    rows = [{"x": x[i], "labels": y[i]} for i in range(len(y))]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), num_train_epochs=2, per_device_train_batch_size=16, learning_rate=0.5,
        logging_strategy="epoch", eval_strategy="epoch", save_strategy="no", report_to=[], use_cpu=True,
        disable_tqdm=True,
    )  # fmt: skip
    model = HuggingFaceMlp()
    callback = CntgraphTrainerCallback(run_name, INPUT, graph=graph, sample=Uniform(5, seed=1), progress=False)
    trainer = transformers.Trainer(model, args, train_dataset=rows, eval_dataset=rows, callbacks=[callback])
    trainer.train()

    epochs = epochs_of(graph, run_name, "loss", "eval_loss", "train_epoch", "train_runtime")
    assert [e["epoch"] for e in epochs] == [0, 1]
    logged = trainer.state.log_history
    for stored, hf_epoch in zip(epochs, (1.0, 2.0), strict=True):  # the Trainer counts epochs from 1.0
        for key in ("loss", "eval_loss"):
            assert stored[key] == next(e[key] for e in logged if e.get("epoch") == hf_epoch and key in e)
        assert stored["train_epoch"] == hf_epoch
    assert epochs[0]["train_runtime"] is None and epochs[1]["train_runtime"] > 0  # the summary goes to the last
    link = stored_links(graph, run_name).query("epoch == 1 and src_layer == 1").iloc[0]
    weight = model.net[2].weight.detach().double()[int(link["dst"]), int(link["src"])]
    assert link["w"] == float(weight)  # the weights at the end of training
    assert callback.recorder is None

"""Every Python example of the README runs, in order, against the test server, after the demo has
recorded its runs (as `make demo` does for a reader). The framework examples use a few names the
README leaves to the reader (your LightningModule, your Trainer arguments): the test defines them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cntgraph.store.graph import Graph
from cntgraph.studies.demo import RUNS, run_demo
from tests.conftest import Neo4jUnderTest, delete_run, require

pytestmark = pytest.mark.neo4j

README = Path(__file__).resolve().parents[1] / "README.md"
#: runs the README's examples record
RECORDED = ("mlp-seed1", "mlp-1", "hf-mlp")


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def lightning_names() -> dict[str, Any]:
    """``module`` and ``train_loader`` for the Lightning example: a small 784 -> 10 classifier."""
    pl = require("lightning.pytorch")

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
            loss = nn.functional.cross_entropy(self.net(batch[0]), batch[1])
            self.log("train/loss", loss)
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    data = torch.utils.data.TensorDataset(torch.randn(64, 784), torch.randint(0, 10, (64,)))
    return {"module": Module(), "train_loader": torch.utils.data.DataLoader(data, batch_size=32)}


def huggingface_names(folder: Path) -> dict[str, Any]:
    """``net``, ``args`` and ``data`` for the Hugging Face example: a small 128 -> 4 classifier."""
    transformers = require("transformers")
    require("accelerate")

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(128, 16), nn.ReLU(), nn.Linear(16, 4))

        def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Any:
            logits = self.net(x)
            return logits if labels is None else {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}

    args = transformers.TrainingArguments(
        output_dir=str(folder), num_train_epochs=2, per_device_train_batch_size=16, save_strategy="no",
        report_to=[], use_cpu=True, disable_tqdm=True,
    )  # fmt: skip
    data = [{"x": torch.randn(128), "labels": torch.tensor(i % 4)} for i in range(32)]
    return {"net": Net(), "args": args, "data": data}


@pytest.fixture
def reader(graph: Graph, neo4j_server: Neo4jUnderTest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A reader's machine: NEO4J_* pointing at the test server, the demo recorded, a working folder."""
    for name, value in zip(("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"), (neo4j_server.uri, *neo4j_server.auth), strict=True):
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    for name in (*RECORDED, *(demo.run for demo in RUNS)):
        delete_run(graph, name)
    run_demo(graph, tmp_path / "demo", epochs=20, progress=False)
    yield
    for name in (*RECORDED, *(demo.run for demo in RUNS)):
        delete_run(graph, name)


def test_every_python_example_of_the_readme_runs(reader: None, graph: Graph, tmp_path: Path) -> None:
    blocks = python_blocks()
    assert len(blocks) >= 5
    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in blocks:
        if "cntgraph.recording.lightning" in block:
            namespace |= lightning_names()
        if "cntgraph.recording.huggingface" in block:
            namespace |= huggingface_names(tmp_path / "hf")
        exec(compile(block, f"README.md block {blocks.index(block) + 1}", "exec"), namespace)  # noqa: S102
    runs = graph.runs().set_index("run")
    assert runs.loc["mlp-seed1", "epochs"] == 5
    assert runs.loc["mlp-1", "epochs"] == 5 and runs.loc["hf-mlp", "epochs"] == 2

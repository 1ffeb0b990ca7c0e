"""Write ``EpochRecords`` to Neo4j: batched ``UNWIND`` over columnar parameters, completion last.

An epoch is written as: open it (``complete = false``), clear whatever an earlier write of it left,
create its links, neuron states and layer states, then mark it complete. Readers only see complete
epochs, so a failure half-way leaves nothing visible, and writing the epoch again replaces it.
Needs the driver, never torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from cntgraph.errors import RecorderError
from cntgraph.graph import Graph
from cntgraph.records import EpochRecords, LinkBlock, load
from cntgraph.server.managed import default_home

#: links per transaction (measured in bench/bench_writer.py)
DEFAULT_BATCH = 20_000
_PROGRESS_FROM = 200_000  # show a progress bar for epochs with at least this many links


class Writer:
    """Writes the epochs of runs through one :class:`Graph`.

    Example:
        Writer(graph).write(records)
        65536
    """

    def __init__(self, graph: Graph, *, batch_size: int = DEFAULT_BATCH, progress: bool = True) -> None:
        self.graph = graph
        self.batch_size = batch_size
        self.progress = progress
        self._runs_ready: set[int] = set()

    def write(self, records: EpochRecords) -> int:
        """Write (or rewrite) one epoch; return the number of links stored for it."""
        self.graph.ensure_schema()
        self._ensure_run(records)
        rid, epoch = records.rid, records.epoch
        existed = self.graph.run("write/epoch_begin", rid=rid, epoch=epoch, props=records.epoch_props)[0]["existed"]
        if existed:
            self.graph.run_autocommit("write/epoch_clear_links", rid=rid, epoch=epoch)
            self.graph.run("write/epoch_clear_states", rid=rid, epoch=epoch)
        total = records.link_count
        with tqdm(
            total=total,
            desc=f"{records.run} epoch {records.epoch}",
            unit=" links",
            unit_scale=True,
            leave=False,
            disable=not self.progress or total < _PROGRESS_FROM,
        ) as bar:
            for group in transactions(epoch_statements(records, self.batch_size), self.batch_size):
                results = self.graph.run_many(group)
                for (name, params), rows in zip(group, results, strict=True):
                    if name == "write/links":
                        self._check_links(records, params, rows[0]["links"])
                        bar.update(len(params["lid"]))
        return total

    @staticmethod
    def _check_links(records: EpochRecords, params: dict[str, Any], stored: int) -> None:
        if stored != len(params["lid"]):
            raise RecorderError(
                f"run {records.run!r} epoch {records.epoch}: Neo4j stored {stored} of {len(params['lid'])} "
                f"links of node layer {params['dst_layer']}; some sampled neurons are missing from the store."
            )

    def _ensure_run(self, records: EpochRecords) -> None:
        """Run, Layer and sampled Neuron nodes: written once per run and writer (idempotent)."""
        if records.rid in self._runs_ready:
            return
        stored = self.graph.run("write/run", name=records.run, rid=records.rid, props=records.run_props)[0]["rid"]
        if stored != records.rid:
            raise RecorderError(
                f"run {records.run!r} already exists in Neo4j with another id ({stored}, not {records.rid}): "
                "it was recreated since these records were made. Replay them under a new run name."
            )
        self.graph.run("write/layers", rid=records.rid, layers=records.layers)
        for block in records.neurons:
            self.graph.run("write/neurons", rid=records.rid, layer=block.layer, units=block.unit.tolist())
        self._runs_ready.add(records.rid)


Statement = tuple[str, dict[str, Any]]


def epoch_statements(records: EpochRecords, batch_size: int) -> Iterator[Statement]:
    """The write statements of one epoch after ``write/epoch_begin``, completion marker last.

    Example:
        >>> from cntgraph.records import EpochRecords
        >>> block = LinkBlock(1, np.array([0, 1]), np.array([0, 0]), np.array([0.5, -0.5]))
        >>> records = EpochRecords("run", 7, 0, {}, {}, [], [], [block], [])
        >>> [name for name, _ in epoch_statements(records, batch_size=1)]
        ['write/links', 'write/links', 'write/layer_states', 'write/epoch_complete']
    """
    rid, epoch = records.rid, records.epoch
    for block in records.links:
        for params in link_batches(block, batch_size):
            yield "write/links", {"rid": rid, "epoch": epoch, **params}
    for neurons in records.neurons:
        for start in range(0, neurons.unit.size, batch_size):
            part = slice(start, start + batch_size)
            yield "write/neuron_states", {
                "rid": rid,
                "epoch": epoch,
                "layer": neurons.layer,
                "unit": neurons.unit[part].tolist(),
                "s_in": neurons.s_in[part].tolist(),
                "s_out": neurons.s_out[part].tolist(),
                "s": neurons.s[part].tolist(),
                "bias": [None if np.isnan(b) else b for b in neurons.bias[part].tolist()],
            }
    yield "write/layer_states", {"rid": rid, "epoch": epoch, "states": records.layer_states}
    yield "write/epoch_complete", {"rid": rid, "epoch": epoch, "links": records.link_count}


def transactions(statements: Iterable[Statement], batch_size: int) -> Iterator[list[Statement]]:
    """Group statements, in order, into transactions of about ``batch_size`` rows each.

    A small epoch is one transaction; a large one is a transaction per batch of links, and its
    states and completion marker share the last. Fewer commits: each costs a log flush.

    Example:
        >>> statements = [("write/links", {"lid": [1] * 3}), ("write/links", {"lid": [2] * 3}), ("write/epoch_complete", {})]
        >>> [[len(s[1].get("lid", [0])) for s in group] for group in transactions(statements, batch_size=4)]
        [[3], [3, 1]]
    """
    group: list[Statement] = []
    rows = 0
    for statement in statements:
        size = _rows_of(statement[1])
        if group and rows + size > batch_size:
            yield group
            group, rows = [], 0
        group.append(statement)
        rows += size
    if group:
        yield group


def _rows_of(params: dict[str, Any]) -> int:
    """How many rows a write statement creates: the length of its per-row list, else 1."""
    for key in ("lid", "unit", "states"):
        if key in params:
            return max(1, len(params[key]))
    return 1


def spool_folder() -> Path:
    """Where epochs wait when Neo4j is away: ``$CNTGRAPH_HOME/spool``."""
    return default_home() / "spool"


def replay_file(writer: Writer, path: Path) -> tuple[str, int]:
    """Write one spooled epoch, then delete its file; return its run and epoch.

    The file goes only after the epoch is marked complete, and writing an epoch replaces it, so a
    crash in between replays it again without duplicates: each spooled epoch lands exactly once.
    """
    records = load(path)
    writer.write(records)
    path.unlink()
    return records.run, records.epoch


def replay(graph: Graph, folder: Path | None = None, *, progress: bool = True) -> list[tuple[str, int]]:
    """Write every spooled epoch in ``folder`` (default :func:`spool_folder`), oldest first.

    Returns (run, epoch) of what was written. A damaged file raises SpoolError naming it, after
    the files before it were written; nothing is written from the damaged one.

    Example:
        replay(cntgraph.connect())
        [('mlp-1', 7), ('mlp-1', 8)]
    """
    writer = Writer(graph, progress=progress)
    done = []
    paths = sorted((folder or spool_folder()).glob("*.npz"), key=lambda p: (p.stat().st_mtime, p.name))
    for path in tqdm(paths, desc="Replaying spooled epochs", unit=" epochs", disable=not progress or not paths):
        done.append(replay_file(writer, path))
    return done


def link_batches(block: LinkBlock, batch_size: int) -> Iterator[dict[str, object]]:
    """The columnar parameters of ``write/links`` for successive slices of ``block``.

    Each batch names the distinct source and target units it touches once, and every link by its
    positions in those lists.

    Example:
        >>> block = LinkBlock(1, np.array([0, 2, 0]), np.array([5, 5, 7]), np.array([0.1, 0.2, 0.3]))
        >>> batch = next(link_batches(block, 10))
        >>> batch["src_units"], batch["src_at"], batch["dst_units"], batch["dst_at"]
        ([0, 2], [0, 1, 0], [5, 7], [0, 0, 1])
    """
    lid = block.lid
    for start in range(0, block.w.size, batch_size):
        part = slice(start, start + batch_size)
        src_units, src_at = np.unique(block.src[part], return_inverse=True)
        dst_units, dst_at = np.unique(block.dst[part], return_inverse=True)
        yield {
            "src_layer": block.layer - 1,
            "dst_layer": block.layer,
            "src_units": src_units.tolist(),
            "dst_units": dst_units.tolist(),
            "src_at": src_at.tolist(),
            "dst_at": dst_at.tolist(),
            "lid": lid[part].tolist(),
            "w": block.w[part].tolist(),
        }

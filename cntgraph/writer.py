"""Write ``EpochRecords`` to Neo4j: batched ``UNWIND`` over columnar parameters, completion last.

An epoch is written as: open it (``complete = false``), clear whatever an earlier write of it left,
create its links, neuron states and layer states, then mark it complete. Readers only see complete
epochs, so a failure half-way leaves nothing visible, and writing the epoch again replaces it.
Needs the driver, never torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from cntgraph.errors import RecorderError
from cntgraph.graph import Graph
from cntgraph.records import EpochRecords, LinkBlock, NeuronBlock, load
from cntgraph.server.managed import default_home

#: links per transaction (measured in bench/bench_writer.py)
DEFAULT_BATCH = 50_000
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
        links = self._write_links(records)
        for block in records.neurons:
            self._write_neuron_states(rid, epoch, block)
        self.graph.run("write/layer_states", rid=rid, epoch=epoch, states=records.layer_states)
        self.graph.run("write/epoch_complete", rid=rid, epoch=epoch, links=links)
        return links

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

    def _write_links(self, records: EpochRecords) -> int:
        total = records.link_count
        written = 0
        with tqdm(
            total=total,
            desc=f"{records.run} epoch {records.epoch}",
            unit=" links",
            unit_scale=True,
            leave=False,
            disable=not self.progress or total < _PROGRESS_FROM,
        ) as bar:
            for block in records.links:
                for params in link_batches(block, self.batch_size):
                    stored = self.graph.run("write/links", rid=records.rid, epoch=records.epoch, **params)[0]["links"]
                    if stored != len(params["lid"]):
                        raise RecorderError(
                            f"run {records.run!r} epoch {records.epoch}: Neo4j stored {stored} of "
                            f"{len(params['lid'])} links of layer {block.layer}; some sampled neurons are "
                            "missing from the store."
                        )
                    written += stored
                    bar.update(stored)
        return written

    def _write_neuron_states(self, rid: int, epoch: int, block: NeuronBlock) -> None:
        for start in range(0, block.unit.size, self.batch_size):
            part = slice(start, start + self.batch_size)
            self.graph.run(
                "write/neuron_states",
                rid=rid,
                epoch=epoch,
                layer=block.layer,
                unit=block.unit[part].tolist(),
                s_in=block.s_in[part].tolist(),
                s_out=block.s_out[part].tolist(),
                s=block.s[part].tolist(),
                bias=[None if np.isnan(b) else b for b in block.bias[part].tolist()],
            )


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

"""What one captured epoch stores: plain numpy columns, ready for Neo4j or for the spool on disk.

This module needs neither torch nor the driver: the recorder builds ``EpochRecords`` from a
snapshot, the writer sends them to Neo4j, and when Neo4j is away they are spooled to a compressed
``.npz`` file that ``cntgraph replay`` writes later.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cntgraph.errors import SpoolError

_FORMAT = 1


@dataclass(frozen=True, eq=False)
class LinkBlock:
    """The links between sampled units of node layers ``layer - 1`` and ``layer`` at one epoch."""

    layer: int
    src: np.ndarray
    dst: np.ndarray
    w: np.ndarray


@dataclass(frozen=True, eq=False)
class NeuronBlock:
    """Exact strengths and bias (NaN where there is none) of one node layer's sampled units."""

    layer: int
    unit: np.ndarray
    s_in: np.ndarray
    s_out: np.ndarray
    s: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True, eq=False)
class EpochRecords:
    """Everything one epoch of one run writes; self-contained, so it can be replayed alone.

    ``layers`` describe the node layers (index, name, kind, shape, size, sampled, bin edges);
    ``layer_states`` hold one map of metrics per node layer (fluctuation, summaries, histograms).
    """

    run: str
    rid: int
    epoch: int
    run_props: dict[str, Any]
    epoch_props: dict[str, Any]
    layers: list[dict[str, Any]]
    neurons: list[NeuronBlock]
    links: list[LinkBlock]
    layer_states: list[dict[str, Any]] = field(default_factory=list)

    @property
    def link_count(self) -> int:
        return sum(int(block.w.size) for block in self.links)


def save(records: EpochRecords, folder: Path) -> Path:
    """Write ``records`` to ``folder`` as one compressed file (atomically); return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_safe(records.run)}-{records.rid}-epoch-{records.epoch:06d}.npz"
    arrays: dict[str, np.ndarray] = {}
    for i, block in enumerate(records.neurons):
        for name in ("unit", "s_in", "s_out", "s", "bias"):
            arrays[f"neurons/{i}/{name}"] = getattr(block, name)
    for i, block in enumerate(records.links):
        for name in ("src", "dst", "w"):
            arrays[f"links/{i}/{name}"] = getattr(block, name)
    meta = {
        "format": _FORMAT,
        "run": records.run,
        "rid": records.rid,
        "epoch": records.epoch,
        "run_props": records.run_props,
        "epoch_props": records.epoch_props,
        "layers": records.layers,
        "layer_states": records.layer_states,
        "neuron_layers": [block.layer for block in records.neurons],
        "link_layers": [block.layer for block in records.links],
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    partial = path.with_suffix(".partial")
    with open(partial, "wb") as handle:
        np.savez_compressed(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
    return path


def load(path: Path) -> EpochRecords:
    """Read a spool file written by :func:`save`; SpoolError names the file if it is damaged."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(archive["meta"].tobytes().decode("utf-8"))
            if meta.get("format") != _FORMAT:
                raise SpoolError(f"{path} has spool format {meta.get('format')!r}; this cntgraph reads {_FORMAT}")
            neurons = [
                NeuronBlock(layer, *(archive[f"neurons/{i}/{name}"] for name in ("unit", "s_in", "s_out", "s", "bias")))
                for i, layer in enumerate(meta["neuron_layers"])
            ]
            links = [
                LinkBlock(layer, *(archive[f"links/{i}/{name}"] for name in ("src", "dst", "w")))
                for i, layer in enumerate(meta["link_layers"])
            ]
    except SpoolError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, UnicodeDecodeError) as error:
        raise SpoolError(
            f"spool file {path} is damaged or not a cntgraph spool file ({error}); move it aside "
            "and replay the others. Nothing was written from it."
        ) from error
    return EpochRecords(
        run=meta["run"],
        rid=meta["rid"],
        epoch=meta["epoch"],
        run_props=meta["run_props"],
        epoch_props=meta["epoch_props"],
        layers=meta["layers"],
        neurons=neurons,
        links=links,
        layer_states=meta["layer_states"],
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]

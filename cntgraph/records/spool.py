"""The spool: epochs kept on disk as compressed ``.npz`` files while Neo4j is away.

One file per epoch, written atomically; ``cntgraph replay`` (:mod:`cntgraph.recording.replay`)
writes them to Neo4j later, each exactly once.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from cntgraph.errors import SpoolError
from cntgraph.home import default_home
from cntgraph.records.epoch import EpochRecords, LinkBlock, NeuronBlock

__all__ = ["spool_folder", "save", "load", "spooled"]

_FORMAT = 1


def spool_folder() -> Path:
    """Where epochs wait when Neo4j is away: ``$CNTGRAPH_HOME/spool``."""
    return default_home() / "spool"


#: a link block's arrays; files spooled before ``src_layer`` existed hold chains (its default)
_LINK_COLUMNS = ("src", "dst", "w", "src_layer")


def spooled(folder: Path) -> list[Path]:
    """The spool files in ``folder``, oldest first (the order they are replayed in)."""
    return sorted(folder.glob("*.npz"), key=lambda p: (p.stat().st_mtime, p.name))


def save(records: EpochRecords, folder: Path) -> Path:
    """Write ``records`` to ``folder`` as one compressed file (atomically, readable by its owner
    only); return its path. An OSError (a full disk, a folder that cannot be made) leaves no file."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{_safe(records.run)}-{records.rid}-epoch-{records.epoch:06d}.npz"
    arrays: dict[str, np.ndarray] = {}
    for i, block in enumerate(records.neurons):
        for name in ("unit", "s_in", "s_out", "s", "bias"):
            arrays[f"neurons/{i}/{name}"] = getattr(block, name)
    for i, block in enumerate(records.links):
        for name in _LINK_COLUMNS:
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
    try:
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            np.savez_compressed(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
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
                LinkBlock(layer, **{name: archive[f"links/{i}/{name}"] for name in _LINK_COLUMNS if f"links/{i}/{name}" in archive})
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

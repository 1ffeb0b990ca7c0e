"""Writing spooled epochs to Neo4j: ``cntgraph.replay`` and ``cntgraph replay``.

Any number of processes may replay one spool folder at once (a recorder retrying its own epochs,
``cntgraph replay`` in another terminal): each file is locked while it is written and removed
after, so every spooled epoch is written by one of them, once. A file that can never be written
(damaged, or refused by Neo4j) is moved aside to ``refused/`` so that the files after it go on.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
from pathlib import Path

from tqdm import tqdm

from cntgraph.errors import ConnectionError, SpoolError
from cntgraph.records.spool import load, spool_folder, spooled
from cntgraph.store.graph import Graph
from cntgraph.store.writer import Writer

__all__ = ["replay", "replay_file", "set_aside", "REFUSED"]

#: the subfolder of a spool folder that holds files which could not be written
REFUSED = "refused"


def replay_file(writer: Writer, path: Path, as_run: str | None = None) -> tuple[str, int] | None:
    """Write one spooled epoch, then delete its file; return its run and epoch.

    None when another process is writing the file or has written (and removed) it. ``as_run``
    stores the epoch under another run name. The file goes only after the epoch is marked
    complete, and writing an epoch replaces it, so a crash in between replays it again without
    duplicates: each spooled epoch lands exactly once.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - held open for its lock
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        try:
            if os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino:
                return None
        except FileNotFoundError:  # written and removed by the process that held the lock before us
            return None
        records = load(path)
        if as_run is not None:
            records = dataclasses.replace(records, run=as_run)
        writer.write(records)
        path.unlink()
    return records.run, records.epoch


def set_aside(path: Path) -> Path:
    """Move a spool file that cannot be written to the ``refused/`` folder beside it; return its new path."""
    folder = path.parent / REFUSED
    folder.mkdir(mode=0o700, exist_ok=True)
    moved = folder / path.name
    path.replace(moved)
    return moved


def replay(
    graph: Graph,
    folder: Path | None = None,
    *,
    files: list[Path] | None = None,
    as_run: str | None = None,
    progress: bool = True,
) -> list[tuple[str, int]]:
    """Write every spooled epoch in ``folder`` (default :func:`spool_folder`), oldest first, or
    only ``files``; return (run, epoch) of what was written.

    ``as_run`` writes them as epochs of a run of that name instead of the one they were captured
    for. A file that cannot be written (damaged, or refused by Neo4j) is moved to ``refused/``
    beside it and the others are written; then SpoolError names each such file and why. When
    Neo4j cannot be reached, ConnectionError is raised and the files not yet written stay.

    Example:
        replay(cntgraph.connect())
        [('mlp-1', 7), ('mlp-1', 8)]
    """
    if files is None:
        folder = folder or spool_folder()
        if not folder.is_dir():
            raise SpoolError(f"spool folder {folder} does not exist; pass the folder the recorder named (--spool)")
        files = spooled(folder)
    else:
        missing = [str(path) for path in files if not path.is_file()]
        if missing:
            raise SpoolError(f"no spool file {', '.join(missing)}; pass .npz files the recorder named")
    writer = Writer(graph.runner, progress=progress)
    done, refused = [], []
    for path in tqdm(files, desc="Replaying spooled epochs", unit=" epochs", disable=not progress or not files):
        try:
            written = replay_file(writer, path, as_run)
        except ConnectionError:
            raise
        except Exception as error:  # noqa: BLE001 - damaged or refused: moved aside, the others go on
            refused.append(f"{set_aside(path)}: {error}")
            continue
        if written is not None:
            done.append(written)
    if refused:
        raise SpoolError(
            f"{len(done)} spooled epoch(s) written; {len(refused)} could not be and were moved aside:\n  "
            + "\n  ".join(refused)
            + "\nFix what each names, then replay those files: `cntgraph replay FILE ...`."
        )
    return done

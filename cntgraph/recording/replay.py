"""Writing spooled epochs to Neo4j: ``cntgraph.replay`` and ``cntgraph replay``."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from cntgraph.records.spool import load, spool_folder, spooled
from cntgraph.store.graph import Graph
from cntgraph.store.writer import Writer

__all__ = ["replay", "replay_file"]


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
    writer = Writer(graph.runner, progress=progress)
    done = []
    paths = spooled(folder or spool_folder())
    for path in tqdm(paths, desc="Replaying spooled epochs", unit=" epochs", disable=not progress or not paths):
        done.append(replay_file(writer, path))
    return done

"""Shared helpers of the Neo4j benchmarks: a server of their own, timing, machine and load.

A benchmark either uses a server given by ``--uri``/``--user``/``--password`` (or ``NEO4J_URI``,
``NEO4J_USER``, ``NEO4J_PASSWORD``), or starts a managed server of its own in a fresh instance
folder, on free ports, and stops it at the end, so it never touches another engineer's server.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from cntgraph.server import USER, ManagedServer
from cntgraph.server.connect import connect
from cntgraph.store.graph import Graph

T = TypeVar("T")


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """``--uri``/``--user``/``--password`` (default: NEO4J_* variables, else a server of our own)."""
    parser.add_argument("--uri", default=os.environ.get("NEO4J_URI"), help="use this server (default: NEO4J_URI, else start one)")
    parser.add_argument("--user", default=os.environ.get("NEO4J_USER", "neo4j"))
    parser.add_argument("--password", default=os.environ.get("NEO4J_PASSWORD"))
    parser.add_argument("--heap", default="1g", help="heap of the server we start (default 1g)")
    parser.add_argument("--pagecache", default="512m", help="page cache of the server we start (default 512m)")


@dataclass(frozen=True)
class BenchServer:
    """A connected graph and, when we started it, the managed server behind it."""

    graph: Graph
    server: ManagedServer | None

    @property
    def store_dir(self) -> Path | None:
        """The store folder of database ``neo4j`` (only known for a server we started)."""
        return None if self.server is None else self.server.data_dir / "databases" / "neo4j"

    @property
    def tx_log_dir(self) -> Path | None:
        return None if self.server is None else self.server.data_dir / "transactions" / "neo4j"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def started(server: ManagedServer, args: argparse.Namespace) -> Iterator[Graph]:
    """Start ``server`` on free ports, yield a connected Graph, then stop it (a clean shutdown
    checkpoints the store)."""
    try:
        state, _ = server.start(
            bolt_port=free_port(), http_port=free_port(), heap=args.heap, pagecache=args.pagecache, progress=False
        )
        with connect(state.bolt_uri, (USER, server.password())) as graph:
            yield graph
    finally:
        server.stop()


@contextmanager
def fresh_instance(name: str) -> Iterator[ManagedServer]:
    """A managed server in a new temporary instance folder, removed afterwards (stop it first)."""
    folder = Path(tempfile.mkdtemp(prefix=f"cntgraph-{name}-"))
    try:
        yield ManagedServer(instance=folder / "server")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def bench_server(args: argparse.Namespace, name: str) -> Iterator[BenchServer]:
    """The server named by ``args.uri``, else a fresh managed instance, stopped and removed after."""
    if args.uri:
        if args.password is None:
            raise SystemExit("--uri needs --password (or NEO4J_PASSWORD)")
        with connect(args.uri, (args.user, args.password)) as graph:
            yield BenchServer(graph, None)
        return
    with fresh_instance(name) as server, started(server, args) as graph:
        yield BenchServer(graph, server)


def spread(values: Sequence[float], scale: float = 1.0, unit: str = "", digits: int = 1) -> str:
    """The median of ``values`` and their range, each times ``scale``: "12.0 ms (9.5-30.1)"."""
    med, low, high = (scale * v for v in (statistics.median(values), min(values), max(values)))
    return f"{med:.{digits}f}{unit} ({low:.{digits}f}-{high:.{digits}f})"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> str:
    with open("/proc/meminfo") as meminfo:
        memory_gb = int(meminfo.readline().split()[1]) / 2**20
    return (
        f"{os.cpu_count()} cores, {memory_gb:.0f} GB, no GPU, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}"
    )


def tree_bytes(folder: Path, *, exclude: Path | None = None) -> tuple[int, int]:
    """(apparent bytes, allocated bytes on disk) of every file under ``folder``."""
    apparent = allocated = 0
    for root, _, files in os.walk(folder):
        if exclude is not None and Path(root).is_relative_to(exclude):
            continue
        for file in files:
            try:
                info = os.stat(os.path.join(root, file))
            except FileNotFoundError:
                continue  # rotated away while we walked
            apparent += info.st_size
            allocated += info.st_blocks * 512
    return apparent, allocated


_TICK = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int | str) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (all its threads), and by its
    children once they ended (the recorder's writer process, ended by ``close()``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / _TICK


def _machine_busy() -> float:
    """CPU seconds all cores have spent busy (not idle, not waiting on I/O) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / _TICK


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds spent during one measurement: by us, by our Neo4j JVM, by everything else."""

    wall: float
    python: float
    jvm: float
    others: float

    def describe(self) -> str:
        return (
            f"{self.wall:.1f} s wall; CPU s: python {self.python:.1f}, our Neo4j {self.jvm:.1f}, "
            f"other processes {self.others:.1f} ({self.others / self.wall:.2f} cores)"
        )


class CpuMeter:
    """Measures :class:`CpuUse` between ``start()`` and ``stop()`` (Linux ``/proc``).

    ``jvm_pid`` is our Neo4j server's pid (None for a server we did not start: its CPU then
    counts as "others").
    """

    def __init__(self, jvm_pid: int | None) -> None:
        self.jvm_pid = jvm_pid
        self._start: tuple[float, float, float, float] | None = None

    def _read(self) -> tuple[float, float, float, float]:
        jvm = _process_cpu(self.jvm_pid) if self.jvm_pid is not None else 0.0
        return time.perf_counter(), _process_cpu("self"), jvm, _machine_busy()

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> CpuUse:
        assert self._start is not None, "start() first"
        end = self._read()
        wall, python, jvm, busy = (b - a for a, b in zip(self._start, end, strict=True))
        return CpuUse(wall, python, jvm, max(0.0, busy - python - jvm))


def wait_for_quiet(jvm_pid: int | None = None, *, cores: float = 0.25, window: float = 5.0, limit: float = 600.0) -> CpuUse:
    """Wait (at most ``limit`` s) until other processes use under ``cores`` cores over ``window`` s.

    Returns the last window measured, so callers can report how busy the machine was.
    """
    meter = CpuMeter(jvm_pid)
    deadline = time.monotonic() + limit
    while True:
        meter.start()
        time.sleep(window)
        use = meter.stop()
        if use.others / use.wall < cores or time.monotonic() > deadline:
            return use


def quiet_run(
    work: Callable[[], T], jvm_pid: int | None, *, quiet: float, attempts: int = 3
) -> tuple[T, CpuUse, int]:
    """Run ``work`` on a quiet machine: wait until other processes use under ``quiet`` cores, run
    it, and run it again (at most ``attempts`` times in all) while they used more during it.

    ``work`` must be safe to repeat. Returns its result and CPU use of the least disturbed
    attempt, and how many attempts were discarded. ``quiet=0`` runs it once, without waiting.
    """
    meter = CpuMeter(jvm_pid)
    best: tuple[T, CpuUse] | None = None
    for attempt in range(max(1, attempts)):
        if quiet:
            wait_for_quiet(jvm_pid, cores=quiet)
        meter.start()
        result = work()
        use = meter.stop()
        if best is None or use.others / use.wall < best[1].others / best[1].wall:
            best = (result, use)
        if not quiet or use.others / use.wall < quiet:
            return result, use, attempt
        print(f"    (discarded: other processes used {use.others / use.wall:.2f} cores meanwhile)", flush=True)
    assert best is not None
    return best[0], best[1], attempts


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so ``finally`` blocks stop the servers we started."""
    import signal

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(f"terminated by signal {signum}")

    signal.signal(signal.SIGTERM, _exit)

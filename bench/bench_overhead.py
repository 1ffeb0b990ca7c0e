"""Training overhead of ``Recorder``; prints markdown tables for docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_overhead.py            # starts (and stops) its own Neo4j
    .venv/bin/python bench/bench_overhead.py --modes baseline,captured,captured-nice0,captured-queue2
    .venv/bin/python bench/bench_overhead.py --uri bolt://127.0.0.1:7687 --password ...

A 784-512-512-10 ReLU MLP trained with SGD (lr 0.01, batch 128) on 60k synthetic samples (random
inputs, random labels) for 5 epochs, without capture ("baseline") and with
``Recorder(sample=Uniform(256))`` capturing every epoch with cntgraph's defaults ("captured": the
managed server and the recorder's writer process at nice 19, a queue as deep as 1 GiB of weight
copies allows), and as before the writer process ("captured-in-process": a thread of the training
process builds and writes the records); the experiments "captured-nice0" (our Neo4j JVM at normal
CPU priority), "captured-queue2" (a recorder queue of 2 epochs) and "captured-batch5k" are
optional modes. Modes are run in rounds, the order reversed
every other round, and medians reported. Then each piece of one capture is timed alone,
and one epoch of training is timed beside a busy process at nice 0 and 19.

Wall time "training" is the training loop including every ``capture()`` call; "total" adds
``close()``, which waits for the queued epochs to be written, so it is the time until all
records are in Neo4j. CPU seconds are split by who spent them: the training thread (and torch's
intra-op threads), the recorder's background thread (metrics and driver), our Neo4j JVM, and
other processes on the machine. The machine is shared: every trial waits until other processes
use under ``--quiet`` cores, and is repeated when they used more while it ran.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from common import (
    CpuMeter,
    add_server_arguments,
    bench_server,
    load_average,
    machine,
    quiet_run,
    stop_on_sigterm,
    wait_for_quiet,
)
from torch import nn

from cntgraph.core.sampling import Uniform
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace
from cntgraph.recording.recorder import Recorder
from cntgraph.records.build import build_records, new_layout
from cntgraph.server.managed import DEFAULT_NICE, set_priority
from cntgraph.store.graph import Graph
from cntgraph.store.writer import DEFAULT_BATCH, Writer, delete_run

SAMPLES, FEATURES, CLASSES, BATCH = 60_000, 784, 10, 128


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(FEATURES, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, CLASSES))


def make_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(SAMPLES, FEATURES, generator=generator)
    y = torch.randint(0, CLASSES, (SAMPLES,), generator=generator)
    return x, y


class TimedRecorder(Recorder):
    """A Recorder that also measures its background thread (CPU seconds in metrics vs in writing)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.thread_cpu = 0.0
        self.deliver_cpu = 0.0
        self.deliver_wall = 0.0

    def _work(self) -> None:
        try:
            super()._work()
        finally:
            self.thread_cpu = time.thread_time()

    def _write(self, item: object) -> int | None:
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return super()._write(item)
        finally:
            self.deliver_cpu += time.thread_time() - cpu
            self.deliver_wall += time.perf_counter() - wall


@dataclass
class Trial:
    """One training run: wall times and where the CPU went."""

    label: str
    train: float = 0.0  # training loop, capture() calls included
    total: float = 0.0  # plus close(): everything written
    capture_calls: float = 0.0  # wall time inside capture() on the training thread
    main_cpu: float = 0.0  # CPU of the training thread itself (Python + torch's calling thread)
    recorder_cpu: float = 0.0  # background thread: build_records + writing
    writer_cpu: float = 0.0  # of which in Writer.write (driver packing, waiting excluded)
    writer_wall: float = 0.0
    python_cpu: float = 0.0  # whole Python process (torch's intra-op threads included)
    jvm_cpu: float = 0.0
    others_cpu: float = 0.0
    loss: float = 0.0


def train(
    label: str,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    meter: CpuMeter,
    graph: Graph | None = None,
    sample_k: int = 256,
    queue_size: int | None = None,
    batch_size: int = DEFAULT_BATCH,
    writer_process: bool = True,
) -> Trial:
    """Train a fresh model for ``epochs``; capture every epoch when ``graph`` is given."""
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.Generator().manual_seed(1)
    recorder = None
    spool = Path(tempfile.mkdtemp(prefix="cntgraph-bench-spool-"))  # never the shared default spool
    if graph is not None:
        run = f"bench-overhead-{label}-{time.time_ns()}"
        recorder = TimedRecorder(
            model, run, input_shape=(FEATURES,), graph=graph, sample=Uniform(k=sample_k),
            queue_size=queue_size, batch_size=batch_size, progress=False, spool_dir=spool, writer_process=writer_process,
        )
    trial = Trial(label)
    try:
        meter.start()
        main_cpu = time.thread_time()
        start = time.perf_counter()
        samples = x.shape[0]
        for epoch in range(epochs):
            permutation = torch.randperm(samples, generator=order)
            total_loss = 0.0
            for i in range(0, samples, BATCH):
                index = permutation[i : i + BATCH]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(x[index]), y[index])
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * index.numel()
            trial.loss = total_loss / samples
            if recorder is not None:
                before = time.perf_counter()
                recorder.capture(epoch, loss=trial.loss)
                trial.capture_calls += time.perf_counter() - before
        trial.train = time.perf_counter() - start
        trial.main_cpu = time.thread_time() - main_cpu
        if recorder is not None:
            recorder.close()
            trial.recorder_cpu = recorder.thread_cpu
            trial.writer_cpu = recorder.deliver_cpu
            trial.writer_wall = recorder.deliver_wall
        trial.total = time.perf_counter() - start
        use = meter.stop()
        trial.python_cpu, trial.jvm_cpu, trial.others_cpu = use.python, use.jvm, use.others
        if recorder is not None and graph is not None:  # keep the store the same size for every trial
            rid = recorder._layout.rid  # noqa: SLF001 - bench clean-up
            delete_run(graph.runner, rid)
    finally:
        if recorder is not None and recorder._thread is not None:  # noqa: SLF001 - interrupted: stop the thread
            try:
                recorder.close()
            except Exception:  # noqa: BLE001 - already failing; the spool folder goes below
                pass
        shutil.rmtree(spool, ignore_errors=True)
    return trial


def parts(graph: Graph, jvm: int | None, sample_k: int, repeat: int, quiet: float) -> list[str]:
    """Each piece of one capture alone, on the trained model's shape (medians of ``repeat``)."""
    model = make_model()
    topology = trace(model, (FEATURES,))
    snapshot_s = []
    for _ in range(repeat):
        start = time.perf_counter()
        snapshot = take_snapshot(model, topology)
        snapshot_s.append(time.perf_counter() - start)
    layout = new_layout(f"bench-overhead-parts-{time.time_ns()}", int.from_bytes(os.urandom(7), "big"), snapshot, Uniform(k=sample_k))
    build_s = []
    for _ in range(repeat):
        start = time.perf_counter()
        records = build_records(layout, snapshot, 0, {})
        build_s.append(time.perf_counter() - start)
    writer = Writer(graph.runner, progress=False)
    epochs = iter(range(10**6))
    write_s, write_cpu, jvm_cpu = [], [], []

    def write_one() -> float:
        cpu = time.thread_time()
        writer.write(build_records(layout, snapshot, next(epochs), {}))
        return time.thread_time() - cpu

    for _ in range(repeat):
        cpu, use, _ = quiet_run(write_one, jvm, quiet=quiet)
        write_s.append(use.wall)
        write_cpu.append(cpu)
        jvm_cpu.append(use.jvm)
    delete_run(graph.runner, layout.rid)
    links = records.link_count
    med = statistics.median
    return [
        f"| one capture of Uniform({sample_k}): {links:,} links, median of {repeat} | time |",
        "| --- | --- |",
        f"| `take_snapshot` (training thread) | {med(snapshot_s) * 1e3:.1f} ms |",
        f"| `build_records`: metrics, links (background thread) | {med(build_s) * 1e3:.1f} ms |",
        f"| `Writer.write`, wall | {med(write_s):.2f} s ({links / med(write_s):,.0f} links/s) |",
        f"| `Writer.write`, Python CPU (params, driver packing) | {med(write_cpu):.2f} s |",
        f"| `Writer.write`, Neo4j JVM CPU | {med(jvm_cpu):.2f} s ({med(jvm_cpu) / links * 1e6:.2f} us per link) |",
    ]


BUSY_LOOP = "import os, sys\nos.nice(int(sys.argv[1]))\nwhile True:\n    pass\n"


def contention(x: torch.Tensor, y: torch.Tensor, repeat: int, quiet: float) -> list[str]:
    """One epoch of training alone, and beside one busy process (a stand-in for our Neo4j JVM)
    at nice 0 and at nice 19: what one competing thread costs torch's two OpenMP threads."""
    cases: list[tuple[str, int | None]] = [("alone", None), ("beside a busy process, nice 0", 0),
                                           ("beside a busy process, nice 19", 19)]
    times: dict[str, list[float]] = {label: [] for label, _ in cases}
    meter = CpuMeter(None)
    for r in range(repeat):
        for label, nice in cases if r % 2 == 0 else cases[::-1]:
            if quiet:
                wait_for_quiet(None, cores=quiet)
            busy = None if nice is None else subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(nice)])
            try:
                time.sleep(0.2)
                trial = train(label, x, y, 1, meter)
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
            times[label].append(trial.train)
            print(f"  {label}: {trial.train:.2f} s (python CPU {trial.python_cpu:.1f} s)", flush=True)
    alone = statistics.median(times["alone"])
    rows = [f"| one epoch of training (no capture), median of {repeat} | wall | vs alone |", "| --- | --- | --- |"]
    for label, _ in cases:
        wall = statistics.median(times[label])
        rows.append(f"| {label} | {wall:.2f} s | {wall / alone:.2f}x |")
    return rows


MODES = {
    # name: (capture?, Recorder queue_size (None: its default, by memory), nice of our Neo4j JVM, Recorder batch_size,
    #        Recorder writer_process)
    "baseline": (False, None, DEFAULT_NICE, DEFAULT_BATCH, True),
    "captured": (True, None, DEFAULT_NICE, DEFAULT_BATCH, True),  # cntgraph's defaults
    # experiments: written from a thread of the training process (as before the writer process);
    # our JVM at normal priority; a queue of 2 epochs; smaller batches
    "captured-in-process": (True, None, DEFAULT_NICE, DEFAULT_BATCH, False),
    "captured-nice0": (True, None, 0, DEFAULT_BATCH, True),
    "captured-queue2": (True, 2, DEFAULT_NICE, DEFAULT_BATCH, True),
    "captured-batch5k": (True, None, DEFAULT_NICE, 5_000, True),
}
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_server_arguments(parser)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every mode, order alternating (default 3)")
    parser.add_argument("--k", type=int, default=256, help="Uniform(k) sample (default 256)")
    parser.add_argument(
        "--modes", default="baseline,captured,captured-in-process",
        help=f"comma-separated, of: {'; '.join(MODES)} (default baseline,captured,captured-in-process)"
    )
    parser.add_argument("--quiet", type=float, default=0.3, help="wait until other processes use less than this many "
                        "cores before each trial, and repeat a trial during which they used more; 0: never (default 0.3)")
    parser.add_argument("--attempts", type=int, default=3, help="attempts per trial at most (default 3)")
    args = parser.parse_args()
    stop_on_sigterm()
    modes = [m.strip() for m in args.modes.split(",")]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown modes {unknown}; known: {list(MODES)}")

    torch.set_num_threads(2)
    print(f"Machine: {machine()}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    print(f"Load average before: {load_average()}\n", flush=True)
    x, y = make_data()
    with bench_server(args, "overhead") as bench:
        jvm = bench.server.state().pid if bench.server is not None else None
        meter = CpuMeter(jvm)
        bench.graph.runner.ensure_schema()
        # warm-up: torch kernels, and the JVM's JIT on the write queries
        train("warm-up", x[:12800], y[:12800], 2, meter, bench.graph, args.k)
        trials: dict[str, list[Trial]] = {mode: [] for mode in modes}
        discards = {mode: 0 for mode in modes}
        for round_ in range(args.rounds):
            for mode in modes if round_ % 2 == 0 else modes[::-1]:
                capture, queue_size, nice, batch_size, writer_process = MODES[mode]

                def trial_run(mode: str = mode, capture: bool = capture, queue_size: int | None = queue_size,
                              nice: int = nice, batch_size: int = batch_size, writer_process: bool = writer_process) -> Trial:
                    if jvm is not None:  # a server we started: its priority is ours to set
                        set_priority(jvm, nice)
                    try:
                        return train(mode, x, y, args.epochs, meter, bench.graph if capture else None, args.k,
                                     queue_size, batch_size, writer_process)
                    finally:
                        if jvm is not None:
                            set_priority(jvm, DEFAULT_NICE)

                trial, _, discarded = quiet_run(trial_run, jvm, quiet=args.quiet, attempts=args.attempts)
                discards[mode] += discarded
                trials[mode].append(trial)
                print(
                    f"round {round_} {mode:32s} train {trial.train:6.2f} s total {trial.total:6.2f} s "
                    f"capture() {trial.capture_calls:5.2f} s | CPU s: python {trial.python_cpu:5.1f} "
                    f"(recorder thread {trial.recorder_cpu:4.1f}, writer {trial.writer_cpu:4.1f}) "
                    f"JVM {trial.jvm_cpu:5.1f} others {trial.others_cpu:4.1f} | load {load_average()}",
                    flush=True,
                )
        part_rows = parts(bench.graph, jvm, args.k, 5, args.quiet)
    print("torch beside a busy process")
    contention_rows = contention(x, y, 3, args.quiet)
    print()
    print("\n".join(table(trials, args)))
    print(f"Trials discarded and repeated because other processes used >= {args.quiet} cores meanwhile: {discards}")
    print()
    print("\n".join(part_rows))
    print()
    print("\n".join(contention_rows))
    print(f"\nLoad average after: {load_average()}")


def table(trials: dict[str, list[Trial]], args: argparse.Namespace) -> list[str]:
    modes = list(trials)
    base = modes[0]

    def med(mode: str, name: str) -> float:
        return statistics.median(getattr(t, name) for t in trials[mode])

    def row(title: str, name: str, unit: str = "s", ratio: bool = False, digits: int = 1) -> str:
        cells = [f"{med(m, name):.{digits}f} {unit}" for m in modes]
        if ratio:
            cells += [f"{med(m, name) / med(base, name):.2f}" for m in modes[1:]]
        else:
            cells += [""] * (len(modes) - 1)
        return f"| {title} | " + " | ".join(cells) + " |"

    n = min(len(t) for t in trials.values())
    rows = [
        f"| {args.epochs} epochs, Uniform({args.k}), median of {n} | " + " | ".join(modes) + " | "
        + " | ".join(f"ratio {m}" for m in modes[1:]) + " |",
        "| --- " * (2 * len(modes)) + "|",
        row("wall: training loop (captures included)", "train", ratio=True),
        row("wall: until everything is written (`close()`)", "total", ratio=True),
        row("wall inside `capture()` (snapshot, waiting for the queue)", "capture_calls", digits=2),
        row("CPU: training thread", "main_cpu"),
        row("CPU: Python (torch threads and the writer process included)", "python_cpu"),
        row("CPU: recorder thread (in-process: metrics + writer)", "recorder_cpu"),
        row("CPU: of which in writing (in-process: `Writer.write`)", "writer_cpu"),
        row("CPU: our Neo4j JVM", "jvm_cpu"),
        row("CPU: other processes on the machine", "others_cpu"),
        "",
        "All runs, training/total (s): " + "; ".join(
            f"{m}: " + ", ".join(f"{t.train:.1f}/{t.total:.1f}" for t in trials[m]) for m in modes
        ),
    ]
    return rows


if __name__ == "__main__":
    main()

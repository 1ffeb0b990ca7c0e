"""Recording torchvision resnet18 on CIFAR-sized data; prints markdown tables for docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_capture.py            # starts (and stops) its own Neo4j
    .venv/bin/python bench/bench_capture.py --uri bolt://127.0.0.1:7687 --password ...

(a) How long ``capture()`` blocks training: resnet18 (11.7 M parameters, 3x32x32 input, 10
    classes) with a per-layer ``Uniform(256)`` sample and a queue that never fills, timed call by
    call, interleaved with a plain clone of the model's ``state_dict`` (what any checkpointing
    callback pays), which one goes first alternating. The ratio is per pair.
(b) The training loop: SGD (lr 0.01, batch 64) on synthetic data (random inputs and labels) for
    a few epochs, without capture, with ``capture()`` after every epoch (cntgraph's default: the
    records built and written by the recorder's writer process), and the same written from a thread
    of the training process (``writer_process=False``), in rounds whose order alternates; "loop" is
    the training loop with its captures, "until close" adds ``close()``, which waits until every
    epoch is in Neo4j.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import (
    add_server_arguments,
    bench_server,
    load_average,
    machine,
    spread,
    stop_on_sigterm,
)
from torch import nn
from torchvision.models import resnet18

from cntgraph.core.sampling import Uniform
from cntgraph.recording.recorder import Recorder
from cntgraph.store.graph import Graph
from cntgraph.store.writer import delete_run

SHAPE, CLASSES, BATCH = (3, 32, 32), 10, 64


def capture_blocking(graph: Graph, calls: int) -> list[str]:
    torch.manual_seed(0)
    model = resnet18(num_classes=CLASSES)
    captures, clones = [], []
    recorder = Recorder(model, "bench-capture", SHAPE, graph=graph, sample=Uniform(256), queue_size=calls + 2,
                        if_exists="overwrite", progress=False)  # fmt: skip
    with recorder:
        recorder.start()  # connects and draws the sample, which the first capture would otherwise do: not a steady-state call
        for epoch in range(calls):  # which of the two goes first alternates, so that neither always follows the other
            for first in (("clone", "capture") if epoch % 2 == 0 else ("capture", "clone")):
                start = time.perf_counter()
                if first == "clone":
                    _ = {name: tensor.clone() for name, tensor in model.state_dict().items()}
                    clones.append(time.perf_counter() - start)
                else:
                    recorder.capture(epoch)
                    captures.append(time.perf_counter() - start)
    ratios = [c / s for c, s in zip(captures, clones, strict=True)]
    return [
        f"{calls} calls each, interleaved; load average after: {load_average()}",
        "",
        "| resnet18, 3x32x32 | median (min-max) |",
        "| --- | --- |",
        f"| `state_dict` clone | {spread(clones, 1e3, ' ms')} |",
        f"| `capture()` | {spread(captures, 1e3, ' ms')} |",
        f"| ratio, per pair | **{spread(ratios, unit='x', digits=2)}** |",
    ]


def training_loop(graph: Graph, epochs: int, samples: int, rounds: int) -> list[str]:
    generator = torch.Generator().manual_seed(1)
    x, y = torch.randn(samples, *SHAPE, generator=generator), torch.randint(0, CLASSES, (samples,), generator=generator)
    modes = {"baseline": None, "captured": True, "captured, written in-process": False}  # mode: writer_process
    times: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
    for round_ in range(rounds):
        for mode, writer_process in list(modes.items())[:: 1 if round_ % 2 == 0 else -1]:
            torch.manual_seed(0)
            model = resnet18(num_classes=CLASSES)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
            run = f"bench-loop-{round_}-{len(times[mode])}-{time.time_ns()}"  # a new run: nothing to delete while timed
            recorder = None if writer_process is None else Recorder(
                model, run, SHAPE, graph=graph, sample=Uniform(256), progress=False, writer_process=writer_process
            )
            start = time.perf_counter()
            for epoch in range(epochs):
                model.train()
                for first in range(0, samples, BATCH):
                    optimizer.zero_grad()
                    nn.functional.cross_entropy(model(x[first : first + BATCH]), y[first : first + BATCH]).backward()
                    optimizer.step()
                if recorder is not None:
                    recorder.capture(epoch)
            loop = time.perf_counter() - start
            if recorder is not None:
                recorder.close()
            times[mode].append((loop, time.perf_counter() - start))
            if recorder is not None:  # keep the store the same size for every trial
                delete_run(graph.runner, int(graph.query("read/run", name=run)["rid"][0]))
            print(f"  round {round_} {mode}: loop {loop:.1f} s, until close {times[mode][-1][1]:.1f} s", flush=True)
    rows = [
        f"{epochs} epochs of {samples} samples, {rounds} rounds; load average after: {load_average()}",
        "",
        "| resnet18, 3x32x32 | mode | time | ratio of medians to baseline |",
        "| --- | --- | --- | --- |",
    ]
    for title, part in (("training loop", 0), ("until `close()`", 1)):
        for mode in modes:
            ours = [t[part] for t in times[mode]]
            ratio = statistics.median(ours) / statistics.median([t[part] for t in times["baseline"]])
            rows.append(f"| {title} | {mode} | {spread(ours, unit=' s')} | **{ratio:.3f}x** |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_server_arguments(parser)
    parser.add_argument("--calls", type=int, default=20, help="capture() calls timed in (a) (default 20)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per trial in (b) (default 4)")
    parser.add_argument("--samples", type=int, default=1024, help="training samples per epoch in (b) (default 1024)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both modes in (b) (default 3)")
    args = parser.parse_args()
    stop_on_sigterm()
    print(f"Machine: {machine()}\n")
    with bench_server(args, "capture") as bench:
        print("\n".join(capture_blocking(bench.graph, args.calls)) + "\n", flush=True)
        print("\n".join(training_loop(bench.graph, args.epochs, args.samples, args.rounds)) + "\n", flush=True)


if __name__ == "__main__":
    main()

"""Benchmark the metric core; prints markdown tables for docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_metrics.py

(a) conv strengths of one 64->64 3x3 layer (padding 1) on a 32x32 input: ours vs the reference
    code's six nested Python loops, made exact at the borders (timed once: it takes a while);
(b) strengths of three 4096x4096 float64 Linear layers: ours vs bare numpy W.sum(1), W.sum(0);
(c) how the time grows with MLP width and with conv input size;
(d) layer_links for about 1e6 links between sampled units;
(e) node_strength of torchvision resnet18 / mobilenet_v2 at 3x224x224 beside one batch-1 forward
    pass of the same model (eval, no_grad), with its parts: trace, snapshot, strengths. In each
    round every part runs 5 times back to back (the round keeps their median); the ratio is per round.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from common import machine, spread
from torch import nn

from cntgraph.core.links import layer_links
from cntgraph.core.metrics import layer_strengths
from cntgraph.core.network import Snapshot
from cntgraph.model.metrics import node_strength
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    run()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def snapshot_of(model: nn.Module, input_shape: tuple[int, ...]) -> Snapshot:
    return take_snapshot(model, trace(model, input_shape))


def loop_conv_strengths(
    kernel: np.ndarray, bias: np.ndarray, height: int, width: int, pad: int
) -> tuple[list, list]:
    """The reference code's six nested loops (stride 1, no dilation), skipping links into padding."""
    c_out, c_in, kh, kw = kernel.shape
    k = kernel.tolist()
    s_in = [[[float(bias[co])] * width for _ in range(height)] for co in range(c_out)]
    s_out = [[[0.0] * width for _ in range(height)] for _ in range(c_in)]
    for co in range(c_out):
        for y in range(height):
            for x in range(width):
                for ci in range(c_in):
                    for u in range(kh):
                        p = y - pad + u
                        if not 0 <= p < height:
                            continue
                        for v in range(kw):
                            q = x - pad + v
                            if 0 <= q < width:
                                w = k[co][ci][u][v]
                                s_in[co][y][x] += w
                                s_out[ci][p][q] += w
    return s_in, s_out


def bench_conv_vs_loops(repeat: int) -> list[str]:
    torch.manual_seed(0)
    snapshot = snapshot_of(nn.Conv2d(64, 64, 3, padding=1), (64, 32, 32))
    ours = median_seconds(lambda: layer_strengths(snapshot), repeat)
    start = time.perf_counter()
    loop_in, loop_out = loop_conv_strengths(snapshot.weights[0], snapshot.biases[0], 32, 32, 1)
    loops = time.perf_counter() - start
    strengths = layer_strengths(snapshot)
    diff = max(
        np.abs(strengths[1].s_in - np.ravel(loop_in)).max(),
        np.abs(strengths[0].s_out - np.ravel(loop_out)).max(),
    )
    return [
        "| conv 64->64 3x3, 32x32, padding 1 | time |",
        "| --- | --- |",
        f"| Python loops (exact borders), once | {loops:.1f} s |",
        f"| `layer_strengths`, median of {repeat} | {ours * 1e3:.2f} ms |",
        f"| speed-up | {loops / ours:,.0f}x |",
        f"| max abs difference | {diff:.1e} |",
    ]


def bench_dense_vs_numpy(repeat: int) -> list[str]:
    torch.manual_seed(0)
    model = nn.Sequential(*(nn.Linear(4096, 4096) for _ in range(3)))
    topology = trace(model, (4096,))
    snapshot = take_snapshot(model, topology)
    copy = median_seconds(lambda: take_snapshot(model, topology), repeat)
    ours = median_seconds(lambda: layer_strengths(snapshot), repeat)
    numpy_sums = median_seconds(lambda: [(w.sum(axis=1), w.sum(axis=0)) for w in snapshot.weights], repeat)
    return [
        f"| three 4096x4096 float64 Linear layers, median of {repeat} | time |",
        "| --- | --- |",
        f"| bare numpy `W.sum(1)`, `W.sum(0)` | {numpy_sums * 1e3:.1f} ms |",
        f"| `layer_strengths` | {ours * 1e3:.1f} ms |",
        f"| ours / numpy | {ours / numpy_sums:.2f} |",
        f"| (for scale: `take_snapshot`, float32 model to float64 copies) | {copy * 1e3:.1f} ms |",
    ]


def bench_growth(repeat: int) -> list[str]:
    rows = [
        "| model | units | `layer_strengths` | `node_strength` (DataFrame) |",
        "| --- | --- | --- | --- |",
    ]
    cases = [
        (
            f"MLP 3 x Linear, width {n}",
            lambda n=n: snapshot_of(nn.Sequential(*(nn.Linear(n, n) for _ in range(3))), (n,)),
        )
        for n in (256, 512, 1024, 2048, 4096)
    ]
    cases += [
        (
            f"Conv2d 64->64 3x3 pad 1, {s}x{s} input",
            lambda s=s: snapshot_of(nn.Conv2d(64, 64, 3, padding=1), (64, s, s)),
        )
        for s in (16, 32, 64, 128)
    ]
    for label, make in cases:
        torch.manual_seed(0)
        snapshot = make()
        units = sum(layer.size for layer in snapshot.topology.node_layers)
        strengths = median_seconds(lambda snapshot=snapshot: layer_strengths(snapshot), repeat)
        frame = median_seconds(lambda snapshot=snapshot: node_strength(snapshot), repeat)
        rows.append(f"| {label} | {units:,} | {strengths * 1e3:.2f} ms | {frame * 1e3:.2f} ms |")
    return rows


def bench_links(repeat: int) -> list[str]:
    rng = np.random.default_rng(0)
    rows = [f"| `layer_links`, median of {repeat} | links | time |", "| --- | --- | --- |"]
    torch.manual_seed(0)
    dense = snapshot_of(nn.Linear(4096, 4096), (4096,))
    conv = snapshot_of(nn.Conv2d(64, 64, 3, padding=1), (64, 32, 32))
    cases = [
        (
            "Linear 4096x4096, 1000 x 1000 sampled units",
            dense,
            rng.choice(4096, 1000, replace=False),
            rng.choice(4096, 1000, replace=False),
        ),
        (
            "Conv2d 64->64 3x3 on 32x32, all links into 2000 sampled units",
            conv,
            None,
            rng.choice(65536, 2000, replace=False),
        ),
        (
            "Conv2d 64->64 3x3 on 32x32, 20000 x 20000 sampled units",
            conv,
            rng.choice(65536, 20000, replace=False),
            rng.choice(65536, 20000, replace=False),
        ),
    ]
    for label, snapshot, src, dst in cases:
        links = len(layer_links(snapshot, 1, src, dst)[0])
        seconds = median_seconds(lambda s=snapshot, i=src, o=dst: layer_links(s, 1, i, o), repeat)
        rows.append(f"| {label} | {links:,} | {seconds * 1e3:.1f} ms |")
    return rows


#: back-to-back calls of one part in a round of (e); the round's time is their median
BLOCK = 5


def bench_torchvision(repeat: int) -> list[str]:
    from torchvision.models import mobilenet_v2, resnet18

    shape = (3, 224, 224)
    rows = [
        "| model | forward, batch 1 | node_strength | ratio | trace | snapshot | strengths |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for build in (resnet18, mobilenet_v2):
        model = build().eval()
        x = torch.randn(1, *shape)
        topology = trace(model, shape)
        snapshot = take_snapshot(model, topology)

        def forward(model: nn.Module = model, x: torch.Tensor = x) -> None:
            with torch.no_grad():
                model(x)

        parts = {
            "forward": forward,
            "node_strength": lambda model=model: node_strength(model, shape),
            "trace": lambda model=model: trace(model, shape),
            "snapshot": lambda model=model, topology=topology: take_snapshot(model, topology),
            "strengths": lambda snapshot=snapshot: layer_strengths(snapshot),
        }
        times: dict[str, list[float]] = {name: [] for name in parts}
        for run in parts.values():
            run()  # warm up
        for _ in range(repeat):  # rounds, so that the machine's load falls on all alike
            for name, run in parts.items():  # each part in a block of back-to-back calls, as a loop would call it
                block = []
                for _ in range(BLOCK):
                    start = time.perf_counter()
                    run()
                    block.append(time.perf_counter() - start)
                times[name].append(statistics.median(block))
        ratios = [s / f for s, f in zip(times["node_strength"], times["forward"], strict=True)]

        def cell(name: str) -> str:
            return spread(times[name], 1e3, " ms", digits=0)

        rows.append(
            f"| {build.__name__} | {cell('forward')} | {cell('node_strength')} | **{spread(ratios, unit='x')}** "
            f"| {cell('trace')} | {cell('snapshot')} | {cell('strengths')} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="runs per median (default 20)")
    parser.add_argument("--only", choices=["torchvision"], help="run one section only")
    args = parser.parse_args()
    repeat = args.repeat
    print(f"Machine: {machine()}\n")
    sections = [bench_torchvision] if args.only else [bench_conv_vs_loops, bench_dense_vs_numpy, bench_growth, bench_links, bench_torchvision]
    for section in sections:
        print("\n".join(section(repeat)) + "\n", flush=True)


if __name__ == "__main__":
    main()

"""Query latency; prints markdown tables for docs/BENCHMARKS.md (in-database aggregation: bench_aggregation.py).

    .venv/bin/python bench/bench_queries.py            # starts (and stops) its own Neo4j
    .venv/bin/python bench/bench_queries.py --uri bolt://127.0.0.1:7687 --password ...

(a) ``Graph.link_history`` and ``Graph.neuron_history`` over 100 epochs: a 64-64-32-10 MLP
    recorded in full (6,464 links an epoch, 646,400 in all) by the Recorder, a small nudge of
    every weight between epochs; random links and neurons, timed one call at a time
    (round trip, Cypher and DataFrame), after a warm-up. Targets: p50 <= 10 ms and <= 20 ms.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from common import CpuMeter, add_server_arguments, bench_server, load_average, machine
from torch import nn

from cntgraph.recording.recorder import Recorder
from cntgraph.store import library
from cntgraph.store.graph import Graph

HISTORY_EPOCHS = 100


def record(graph: Graph, run: str, model: nn.Module, input_shape: tuple[int, ...], epochs: int) -> float:
    """Record ``epochs`` epochs in full (nudging every weight between them); return the seconds taken."""
    generator = torch.Generator().manual_seed(1)
    start = time.perf_counter()
    with Recorder(model, run, input_shape, graph=graph, if_exists="overwrite", progress=False) as recorder:
        for epoch in range(epochs):
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.add_(0.01 * torch.randn(parameter.shape, generator=generator))
            recorder.capture(epoch, loss=1.0 / (epoch + 1))
    return time.perf_counter() - start


def latencies(call: Callable[[int], object], calls: int, warmup: int = 20) -> np.ndarray:
    """Milliseconds of ``call(i)`` for i in range(calls), one at a time, after ``warmup`` calls."""
    for i in range(warmup):
        call(i)
    times = []
    for i in range(calls):
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
    return 1000 * np.asarray(times)


def histories(graph: Graph, calls: int, jvm_pid: int | None) -> list[str]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    seconds = record(graph, "bench-history", model, (64,), HISTORY_EPOCHS)
    links = graph.epochs("bench-history")["links"].iloc[0]
    rng = np.random.default_rng(0)
    sizes = [64, 64, 32, 10]
    # (src, dst) neurons of random links; dst doubles as the random neuron
    picks = [
        ((int(layer) - 1, int(rng.integers(sizes[layer - 1]))), (int(layer), int(rng.integers(sizes[layer]))))
        for layer in rng.integers(1, 4, calls + 20)
    ]
    cpu = CpuMeter(jvm_pid)
    cpu.start()
    link = latencies(lambda i: _one_history(graph.link_history("bench-history", *picks[i])), calls)
    neuron = latencies(lambda i: _one_history(graph.neuron_history("bench-history", *picks[i][1])), calls)
    use = cpu.stop()
    (src_layer, src_unit), (dst_layer, dst_unit) = picks[0]
    link_hits = db_hits(graph, "query/link_history", run="bench-history", src_layer=src_layer, dst_layer=dst_layer,
                        src_unit=src_unit, dst_unit=dst_unit)  # fmt: skip
    neuron_hits = db_hits(graph, "query/neuron_history", run="bench-history", layer=dst_layer, unit=dst_unit)
    return [
        f"Recorded {HISTORY_EPOCHS} epochs of a 64-64-32-10 MLP in full ({links:,} links an epoch) in {seconds:.1f} s.",
        f"{calls} calls each, random links/neurons; {use.describe()}; load average after: {load_average()}",
        f"PROFILE of one call: link_history {link_hits} db hits, neuron_history {neuron_hits} db hits",
        "",
        "| query, 100 epochs | p50 | p90 | p99 | target |",
        "| --- | --- | --- | --- | --- |",
        _row("`link_history` (seek on (rid, layer, unit) of the destination, one `w_in` entry per epoch)", link, "p50 <= 10 ms"),
        _row("`neuron_history` (seek on (rid, layer, unit))", neuron, "p50 <= 20 ms"),
    ]


def db_hits(graph: Graph, name: str, **params: object) -> int:
    """Total database hits of library query ``name`` under PROFILE."""
    stack, hits = [graph.runner.driver.execute_query("PROFILE " + library.load(name), params).summary.profile], 0
    while stack:
        op = stack.pop()
        hits += op.get("dbHits", 0)
        stack.extend(op.get("children", []))
    return hits


def _one_history(frame: object) -> None:
    assert len(frame) == HISTORY_EPOCHS, len(frame)  # type: ignore[arg-type]


def _row(what: str, ms: np.ndarray, target: str) -> str:
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return f"| {what} | {p50:.2f} ms | {p90:.2f} ms | {p99:.2f} ms | {target} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--calls", type=int, default=300, help="timed history calls of each kind (default 300)")
    args = parser.parse_args()
    print(f"Machine: {machine()}; load average at start: {load_average()}\n")
    with bench_server(args, "queries") as bench:
        state = bench.server.state() if bench.server is not None else None
        print("\n".join(histories(bench.graph, args.calls, state.pid if state else None)))


if __name__ == "__main__":
    main()

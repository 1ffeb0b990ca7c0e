"""docs/SCALE.md's simulation: 1/1000 of 10^4 runs x 10^2 epochs x 10^5 stored links, on this machine.

    .venv/bin/python bench/bench_scale.py                  # 10 runs x 100 epochs x 101,632 links: 1.0e8 link-epochs
    .venv/bin/python bench/bench_scale.py --runs 2 --epochs 10   # a quick look

Each run is a 784-128-10 MLP stored in full (``Full()``: 101,632 links, 922 neurons), its weights
moved by a small random step every epoch (numpy, no training: the store sees what a recorder
writes), written epoch by epoch with the library's `Writer` into a managed server of its own
(heap 1g, page cache 512m). It reports:

- write throughput per run (links/s), to see whether it falls as the store grows;
- the store's size on disk after the first run and after all of them (clean shutdowns), per link-epoch;
- the latency of the queries a user runs (a neuron's history over all epochs, one epoch's links,
  a run's fluctuation), median of 5, against the first run when the store holds one run and when
  it holds all of them: an index seek does not grow with the store;
- `cntgraph export` of one run to Parquet: time and bytes per link-epoch.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from common import (
    add_server_arguments,
    fresh_instance,
    load_average,
    machine,
    spread,
    started,
    tree_bytes,
)

from cntgraph.core.network import dense_snapshot
from cntgraph.core.sampling import Full
from cntgraph.records.build import build_records, new_layout
from cntgraph.store.graph import Graph
from cntgraph.store.tables import export_run
from cntgraph.store.writer import Writer

WIDTHS = (784, 128, 10)


def write_run(graph: Graph, index: int, epochs: int) -> tuple[int, float]:
    """Write run ``scale-{index}``: (link-epochs, seconds)."""
    rng = np.random.default_rng(index)
    weights = [rng.normal(0, 0.05, (n_out, n_in)) for n_in, n_out in zip(WIDTHS, WIDTHS[1:], strict=False)]
    biases = [np.zeros(n_out) for n_out in WIDTHS[1:]]
    layout = new_layout(f"scale-{index:03d}", int(rng.integers(2**62)), dense_snapshot(weights, biases), Full())
    writer = Writer(graph.runner, progress=False)
    links, began = 0, time.perf_counter()
    for epoch in range(epochs):
        weights = [w + rng.normal(0, 0.002, w.shape) for w in weights]
        records = build_records(layout, dense_snapshot(weights, biases), epoch, {"loss": 1.0 / (epoch + 1)})
        if epoch == 0:
            writer.create_run(records)
        links += writer.write(records)
    writer.summarise(layout.rid)
    return links, time.perf_counter() - began


def query_times(graph: Graph, run: str, epochs: int) -> dict[str, list[float]]:
    """Seconds of each user query, 5 times each."""
    queries = {
        "neuron history (1 neuron, all epochs)": lambda: graph.neuron_history(run, 1, 7),
        "one epoch's links (101,632)": lambda: graph.query("read/epoch_weights", run=run, epoch=epochs // 2),
        "fluctuation (all epochs)": lambda: graph.fluctuation(run),
    }
    times: dict[str, list[float]] = {}
    for name, query in queries.items():
        query()  # warm the page cache and the query cache
        times[name] = []
        for _ in range(5):
            began = time.perf_counter()
            query()
            times[name].append(time.perf_counter() - began)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=100)
    add_server_arguments(parser)  # the heap and page cache of our server (--uri is not used: disk sizes need our own)
    args = parser.parse_args()
    print(f"Machine: {machine()}; load average before: {load_average()}")
    per_run = args.epochs * (WIDTHS[0] * WIDTHS[1] + WIDTHS[1] * WIDTHS[2])
    rates, sizes = [], {}
    with fresh_instance("scale") as server:
        store = server.data_dir / "databases" / "neo4j"
        with started(server, args) as graph:  # one run, then a clean shutdown (a checkpoint) to measure the store
            graph.runner.ensure_schema()
            links, seconds = write_run(graph, 0, args.epochs)
            rates.append(links / seconds)
            print(f"run 0: {links:,} link-epochs in {seconds:.1f} s = {links / seconds:,.0f} links/s", flush=True)
            first_times = query_times(graph, "scale-000", args.epochs)
        sizes["one run"] = (per_run, tree_bytes(store)[1])
        with started(server, args) as graph:
            for index in range(1, args.runs):
                links, seconds = write_run(graph, index, args.epochs)
                rates.append(links / seconds)
                print(f"run {index}: {links:,} link-epochs in {seconds:.1f} s = {links / seconds:,.0f} links/s", flush=True)
            all_times = query_times(graph, "scale-000", args.epochs)
            with tempfile.TemporaryDirectory() as folder:
                began = time.perf_counter()
                paths = export_run(graph, "scale-000", Path(folder))
                exported = time.perf_counter() - began
                parquet = sum(path.stat().st_size for path in paths)
                weights_bytes = (Path(folder) / "link_weights.parquet").stat().st_size
        sizes["all runs"] = (args.runs * per_run, tree_bytes(store)[1])
    print(f"\nload average after: {load_average()}")
    print("\n| measure | value |\n| --- | --- |")
    print(f"| write throughput, per run | {spread(rates, 1e-3, ' k links/s', 0)}; first run {rates[0] / 1e3:,.0f}k, last {rates[-1] / 1e3:,.0f}k |")
    for label, (links, allocated) in sizes.items():
        print(f"| store on disk, {label} ({links:,} link-epochs) | {allocated / 2**30:.2f} GiB = {allocated / links:.1f} bytes per link-epoch |")
    print(f"| export of one run to Parquet ({args.epochs} epochs) | {exported:.1f} s; {parquet / 2**20:.1f} MiB "
          f"({weights_bytes / per_run:.1f} bytes per link-epoch of link_weights) |")
    print("\n| query, on run 0 | store holds 1 run | store holds all runs |\n| --- | --- | --- |")
    for name in first_times:
        print(f"| {name} | {spread(first_times[name], 1e3, ' ms')} | {spread(all_times[name], 1e3, ' ms')} |")
    print(f"\n(medians of 5; write rates: median and range over {args.runs} runs; mean {statistics.mean(rates):,.0f} links/s)")


if __name__ == "__main__":
    main()

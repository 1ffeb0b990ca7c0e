"""In-database aggregation beside numpy and pandas doing the same; prints markdown tables for docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_aggregation.py            # starts (and stops) its own Neo4j
    .venv/bin/python bench/bench_aggregation.py --uri bolt://127.0.0.1:7687 --password ...

(a) ``Graph.aggregate`` of one epoch: a 784-128-10 MLP stored whole (101,632 links, every value
    exact) and a 784-512-512-10 MLP sampled with ``Uniform(256)`` (133,632 stored links; strengths
    and fluctuation estimated with their errors), beside numpy computing the same values from the
    same links held in memory (sums, sums of squares and the estimators of
    ``cntgraph.core.estimators``). The run holds 3 epochs; the timed one is the last.
(b) ``Graph.population`` of 100 runs (64-32-32-10 MLPs in full, 5 epochs each, grouped by their
    accuracy at each epoch in buckets of 0.1): the summary and the divergences in Cypher, beside
    pandas computing the same from the same layer states (``cntgraph.core.groups``), with the time
    to read those states from Neo4j given apart.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from common import add_server_arguments, bench_server, load_average, machine, spread
from torch import nn

from cntgraph.core.estimators import expanded_total, fluctuation_estimate
from cntgraph.core.groups import population_divergences, population_summary
from cntgraph.core.links import layer_links
from cntgraph.core.metrics import layer_strengths
from cntgraph.core.sampling import Full, Sampler, Uniform
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace
from cntgraph.recording.recorder import Recorder
from cntgraph.store.graph import Graph

POPULATION = 100
POPULATION_EPOCHS = 5


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    """Seconds of each of ``repeat`` calls, after one warm-up call."""
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def record(graph: Graph, run: str, model: nn.Module, input_shape: tuple[int, ...], epochs: int, sample: Sampler,
           **props: float) -> None:
    generator = torch.Generator().manual_seed(len(run))
    with Recorder(model, run, input_shape, graph=graph, sample=sample, if_exists="overwrite", progress=False,
                  writer_process=False, props=props) as recorder:
        for epoch in range(epochs):
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.add_(0.01 * torch.randn(parameter.shape, generator=generator))
            recorder.capture(epoch, accuracy=float(np.clip(props.get("base", 0.5) + 0.08 * epoch, 0, 1)))


def numpy_estimates(links: list[tuple[np.ndarray, np.ndarray, np.ndarray]], samples: list[np.ndarray], sizes: list[int],
                    biases: list[np.ndarray], exact: list[np.ndarray]) -> list[tuple[float, float]]:
    """What ``aggregate/epoch.cypher`` computes, in numpy, from links in memory: per stored unit the
    expansion estimate of each part and its variance; per layer the fluctuation estimate."""
    s = [np.ones(samples[0].size)] + [b[u].copy() for b, u in zip(biases, samples[1:], strict=True)]
    variance = [np.zeros(u.size) for u in samples]
    for layer, (src, dst, w) in enumerate(links, start=1):
        for rows, into, other in ((np.searchsorted(samples[layer], dst), layer, layer - 1),
                                  (np.searchsorted(samples[layer - 1], src), layer - 1, layer)):
            total, squares = (np.bincount(rows, values, samples[into].size) for values in (w, w * w))
            value, se = expanded_total(total, squares, samples[other].size, sizes[other])
            s[into] += value
            variance[into] += se**2
    s[-1] += 1.0  # the outputs' s_out
    return [(fluctuation_estimate(e[u], e.size).value, float(np.sqrt(v).max())) for e, u, v in zip(exact, samples, variance, strict=True)]


def one_epoch(graph: Graph, name: str, widths: list[int], sample: Sampler, repeat: int) -> str:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for a, b in zip(widths, widths[1:], strict=False):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    record(graph, name, model, (widths[0],), 3, sample)
    links = int(graph.epochs(name)["links"].iloc[-1])
    db = timed(lambda: graph.aggregate(name, epochs=[2]), repeat)
    frame = graph.aggregate(name, epochs=[2])
    snapshot = take_snapshot(model, trace(model, (widths[0],)))
    stored = graph.cypher("MATCH (n:Neuron {run: $run}) RETURN n.layer AS layer, collect(n.unit) AS units ORDER BY layer", run=name)
    samples = [np.sort(np.asarray(u, dtype=np.int64)) for u in stored["units"]]
    in_memory = [layer_links(snapshot, i, samples[i - 1], samples[i]) for i in range(1, len(widths))]
    exact = [st.s_in + st.s_out for st in layer_strengths(snapshot)]
    biases = [np.asarray(b, dtype=np.float64) for b in snapshot.biases]
    result = numpy_estimates(in_memory, samples, widths, biases, exact)
    mine = timed(lambda: numpy_estimates(in_memory, samples, widths, biases, exact), max(repeat, 50))
    agree = max(abs(a - b[0]) / b[0] for a, b in zip(frame["fluctuation"], result, strict=True))
    kinds = "exact" if set(frame["fluctuation_kind"]) == {"exact"} else "estimates"
    return (f"| {name}: {'-'.join(map(str, widths))}, {sample!r}, {links:,} stored links, {kinds} | "
            f"{spread(db, 1000, ' ms', 0)} | {spread(mine, 1000, ' ms', 2)} | {np.median(db) / np.median(mine):,.0f}x | {agree:.1e} |")


def population(graph: Graph, repeat: int) -> list[str]:
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    for member in range(POPULATION):
        torch.manual_seed(member)
        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))
        record(graph, f"bench-pop-{member:03d}", model, (64,), POPULATION_EPOCHS, Full(), base=float(rng.uniform(0.1, 0.6)))
    recorded = time.perf_counter() - start
    runs, by, width = ["bench-pop-*"], "epoch.accuracy", 0.1
    in_db = timed(lambda: graph.population(runs, by, width), repeat)
    result = graph.population(runs, by, width)
    read = timed(lambda: graph.population_states(runs, by), repeat)
    states = graph.population_states(runs, by)
    in_pandas = timed(lambda: (population_summary(states, width), population_divergences(states, width)), repeat)
    pd.testing.assert_frame_equal(result.summary, population_summary(states, width), check_dtype=False, rtol=1e-9)
    pd.testing.assert_frame_equal(result.divergences, population_divergences(states, width), check_dtype=False, rtol=1e-9)
    return [
        f"{POPULATION} runs of a 64-32-32-10 MLP in full, {POPULATION_EPOCHS} epochs each ({len(states):,} layer states), "
        f"recorded in {recorded:.0f} s; grouped by epoch accuracy in buckets of {width}: {len(result.summary)} summary rows, "
        f"{len(result.divergences)} divergence rows; equal to pandas within rtol 1e-9. Median (range) of {repeat} calls.",
        "",
        "| 100-run population | time |",
        "| --- | --- |",
        f"| `graph.population(...)`: summary and divergences in Cypher | {spread(in_db, 1000, ' ms', 0)} |",
        f"| reading the layer states (`graph.population_states`) | {spread(read, 1000, ' ms', 0)} |",
        f"| pandas on those states (`population_summary` + `population_divergences`) | {spread(in_pandas, 1000, ' ms', 0)} |",
        f"| ratio, Cypher / (read + pandas) | {np.median(in_db) / (np.median(read) + np.median(in_pandas)):.2f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--repeat", type=int, default=7, help="timed calls of each kind (default 7)")
    args = parser.parse_args()
    print(f"Machine: {machine()}; load average at start: {load_average()}\n")
    with bench_server(args, "aggregation") as bench:
        print("| one epoch | `graph.aggregate` (Cypher) | numpy, same values | ratio | largest fluctuation difference |")
        print("| --- | --- | --- | --- | --- |")
        print(one_epoch(bench.graph, "bench-agg-full", [784, 128, 10], Full(), args.repeat))
        print(one_epoch(bench.graph, "bench-agg-sampled", [784, 512, 512, 10], Uniform(256), args.repeat))
        print()
        print("\n".join(population(bench.graph, args.repeat)))
        print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()

"""How often the in-database intervals hold the exact value, over many independent uniform samples.

(a) The fluctuation (`cntgraph.core.estimators.fluctuation_estimate`, Bonett's interval with the
    finite population correction) beside the symmetric delta-method interval it replaced, for
    populations of normal, t(5), lognormal (288 values) and uniform (1,000 values) strengths,
    sampled 16 and 64 at a time, 4,000 times each.
(b) The strength parts (`cntgraph.core.estimators.expanded_total`) of the demo's CNN after 3
    epochs, both ends of each conv layer sampled 64 units at a time, 1,000 times: coverage and the
    mean error over its spread (the draws of tests/core/test_estimators.py).

Run: .venv/bin/python docs/results/interval_coverage.py   (about 20 seconds on 2 cores)
Output: the tables of docs/METRICS.md, "In-database aggregation", on stdout.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from cntgraph.core.estimators import Z95, expanded_total, fluctuation_estimate
from cntgraph.core.links import layer_links
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace
from cntgraph.studies.digits import cnn, load_digits, train
from cntgraph.studies.ensemble import torch_threads


def fluctuation_coverage() -> None:
    rng = np.random.default_rng(0)
    populations = {"normal": rng.normal(size=288), "lognormal": rng.lognormal(size=288),
                   "t(5)": rng.standard_t(5, size=288), "uniform": rng.uniform(size=1000)}
    print("| population | n | Bonett | delta method |\n| --- | --- | --- | --- |")
    for name, values in populations.items():
        truth = values.std()
        for n in (16, 64):
            bonett = delta = 0
            for _ in range(4000):
                estimate = fluctuation_estimate(rng.choice(values, n, replace=False), values.size)
                bonett += estimate.low <= truth <= estimate.high
                delta += estimate.value - Z95 * estimate.se <= truth <= estimate.value + Z95 * estimate.se
            print(f"| {name} | {n} | {bonett / 4000:.1%} | {delta / 4000:.1%} |")


def strength_coverage() -> None:
    torch.manual_seed(0)
    model = cnn(8, 64)
    with torch_threads(1):
        train(model, load_digits(), 3, seed=0)
    snapshot = take_snapshot(model, trace(model, (1, 8, 8)))
    print("\n| conv layer | part | coverage | mean error / its spread |\n| --- | --- | --- | --- |")
    for layer in (1, 2):
        src, dst, w = layer_links(snapshot, layer)
        n_src, n_dst = (node.size for node in snapshot.topology.node_layers[layer - 1 : layer + 1])
        exact = {"in": np.bincount(dst, w, n_dst), "out": np.bincount(src, w, n_src)}
        rng = np.random.default_rng(layer)
        errors: dict[str, list[np.ndarray]] = {"in": [], "out": []}
        for _ in range(1000):
            a = rng.choice(n_src, min(64, n_src), replace=False)
            b = rng.choice(n_dst, 64, replace=False)
            kept = np.isin(src, a) & np.isin(dst, b)
            for part, ends, units, other, size in (("in", dst, b, a, n_src), ("out", src, a, b, n_dst)):
                total = np.bincount(ends[kept], w[kept], max(n_src, n_dst))[units]
                squares = np.bincount(ends[kept], w[kept] ** 2, max(n_src, n_dst))[units]
                value, se = expanded_total(total, squares, other.size, size)
                errors[part].append(np.stack([value - exact[part][units], se]))
        for part, found in errors.items():
            error, se = np.concatenate(found, axis=1)
            spread = error.std()
            ratio = error.mean() / spread if spread > 0 else math.nan  # nan: stored whole, exact
            print(f"| {layer} | {part} | {np.mean(np.abs(error) <= np.maximum(Z95 * se, 1e-12)):.1%} | {ratio:.4f} |")


if __name__ == "__main__":
    fluctuation_coverage()
    strength_coverage()

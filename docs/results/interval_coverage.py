"""How often the in-database intervals hold the exact value, over many independent uniform samples.

(a) The fluctuation (`cntgraph.core.estimators.fluctuation_estimate`, Bonett's interval with the
    finite population correction) beside the symmetric delta-method interval it replaced, for
    populations of normal, t(5), lognormal (288 values) and uniform (1,000 values) strengths,
    sampled 16 and 64 at a time, 4,000 times each.
(b) The strength parts (`cntgraph.core.estimators.expanded_total`) of the demo's CNN after 3
    epochs, both ends of each conv layer sampled 64 units at a time, 1,000 times: coverage and the
    mean error over its spread (`cntgraph.studies.coverage.strength_part_errors`, as
    tests/core/test_estimators.py checks it).

Run: .venv/bin/python docs/results/interval_coverage.py   (about 20 seconds on 2 cores)
Output: the tables of docs/METRICS.md, "In-database aggregation", on stdout.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from cntgraph.core.estimators import Z95, fluctuation_estimate
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace
from cntgraph.studies.coverage import strength_part_errors
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
        for part, (error, se) in strength_part_errors(snapshot, layer, sample=64, draws=1000, seed=layer).items():
            spread = error.std()
            ratio = error.mean() / spread if spread > 0 else math.nan  # nan: stored whole, exact
            print(f"| {layer} | {part} | {np.mean(np.abs(error) <= np.maximum(Z95 * se, 1e-12)):.1%} | {ratio:.4f} |")


if __name__ == "__main__":
    fluctuation_coverage()
    strength_coverage()

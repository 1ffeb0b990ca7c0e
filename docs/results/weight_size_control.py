"""Do node strength and layer fluctuation separate accuracy buckets beyond what weight size explains?

Trains two MLP populations on the digits, one per training protocol (ours, and the reference
code's: batch 16, plain SGD lr 0.01, biases drawn like the weights, 1-5 epochs), each over the
papers' four init families and three scales, with 20 weight-shuffled copies of every network per
epoch (the null model). Writes each population's per-scale figures and tables (``cntgraph
ensemble`` output) under docs/results/<protocol>/, and, per protocol, init scale and node layer,
the Spearman correlation with test accuracy of: the fluctuation, its i.i.d. prediction from the
layer's weight variances (weight size alone), their ratio (fluctuation beyond weight size) and the
z-score against the shuffled copies; plus the correlation of the fluctuation with its prediction.
Each with a 95% bootstrap interval (2,000 resamples of networks). Also the spread of node strength
(the std of s pooled per bucket, as the analysis compares strength distributions) is summarised by
the fluctuation itself, so strength and fluctuation are read together here.

Run: .venv/bin/python docs/results/weight_size_control.py   (about 6 minutes on 2 cores)
Output: docs/results/weight-size-control.csv and the same table on stdout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from cntgraph.studies.ensemble import run_ensemble

OUT = Path(__file__).parent
RUNS = {
    "cntgraph": {"size": 600, "epochs": 20, "seed": 10, "protocol": "cntgraph"},
    "reference": {"size": 600, "epochs": 5, "seed": 11, "protocol": "reference"},
}
PAIRS = {
    "fluctuation": ("accuracy", "fluctuation"),
    "iid": ("accuracy", "iid"),
    "iid_ratio": ("accuracy", "iid_ratio"),
    "z": ("accuracy", "z"),
    "fluctuation~iid": ("fluctuation", "iid"),
}
RESAMPLES = 2000


def correlations(final: pd.DataFrame, rng: np.random.Generator) -> list[dict]:
    """Spearman rho and its bootstrap 95% interval for every pair of `PAIRS`, per layer."""
    rows = []
    for layer, part in final.groupby("layer"):
        n = len(part)
        picks = rng.integers(0, n, size=(RESAMPLES, n))
        for name, (x, y) in PAIRS.items():
            a, b = part[x].to_numpy(), part[y].to_numpy()
            rho = spearmanr(a, b).statistic
            boot = np.array([spearmanr(a[p], b[p]).statistic for p in picks])
            low, high = np.nanquantile(boot, [0.025, 0.975])
            rows.append({"layer": int(layer), "pair": name, "n": n, "rho": rho, "low": low, "high": high})
    return rows


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for protocol, options in RUNS.items():
        result = run_ensemble(**options, bucket_width=0.1, out=OUT / protocol, progress=False)
        members = result.ensemble.members
        final = result.ensemble.final(result.ensemble.fluctuation).merge(members[["member", "scale", "accuracy"]], on="member")
        print(f"{protocol}: {len(members)} networks in {result.seconds:.0f} s, {int(members['diverged'].sum())} diverged")
        for scale, part in final.groupby("scale"):
            rows += [{"protocol": protocol, "scale": scale, **row} for row in correlations(part, rng)]
        rows += [{"protocol": protocol, "scale": "pooled", **row} for row in correlations(final, rng)]
    table = pd.DataFrame(rows)
    table.to_csv(OUT / "weight-size-control.csv", index=False)
    table["rho (95% CI)"] = [f"{r:+.2f} ({lo:+.2f}, {hi:+.2f})" for r, lo, hi in table[["rho", "low", "high"]].itertuples(index=False)]
    wide = table.pivot_table(index=["protocol", "scale", "layer", "n"], columns="pair", values="rho (95% CI)", aggfunc="first")
    print(wide[list(PAIRS)].to_string())


if __name__ == "__main__":
    main()

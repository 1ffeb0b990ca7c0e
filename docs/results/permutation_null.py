"""How large are the lowest-vs-highest bucket divergences of docs/RESULTS.md when accuracy carries no information?

Trains the same ensembles as the `cntgraph ensemble` commands of RESULTS.md (same seeds: the
numbers are identical), keeps the members of the lowest and the highest analysed bucket, shuffles
their accuracies among them (bucket sizes unchanged) and compares the two shuffled buckets again.
Prints, per quantity and layer, the observed divergence and the median and 95th percentile of the
shuffled ones. Run: .venv/bin/python docs/results/permutation_null.py  (about 5 minutes on 2 cores)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from cntgraph.studies.ensemble import analyse, run_ensemble

RUNS = {
    "mlp": {"size": 500, "epochs": 20, "bucket_width": 0.05, "seed": 0},
    "mlp-scale-0.5": {"size": 300, "epochs": 20, "bucket_width": 0.1, "min_members": 10, "seed": 1, "scales": (0.5,)},
    "cnn": {"size": 200, "epochs": 15, "bucket_width": 0.05, "seed": 2, "architecture": "cnn"},
}
ROUNDS = 20


def null_table(name: str, options: dict) -> pd.DataFrame:
    result = run_ensemble(**options, progress=False)
    ensemble, analysis = result.ensemble, result.analysis
    observed = analysis.extremes()
    low, high = observed["bucket_a"].iloc[0], observed["bucket_b"].iloc[0]
    kept = analysis.buckets.loc[analysis.buckets["bucket"].isin([low, high]), "member"]
    part = ensemble.select(kept)
    rng = np.random.default_rng(0)
    rounds = []
    for _ in range(ROUNDS):
        shuffled = replace(part, members=part.members.assign(accuracy=rng.permutation(part.members["accuracy"].to_numpy())))
        rounds.append(analyse(shuffled, options["bucket_width"], min_members=1, progress=False).extremes())
    null = pd.concat(rounds).groupby(["quantity", "layer"], sort=False)["jeffreys"]
    table = observed.set_index(["quantity", "layer"])[["bucket_a", "bucket_b", "jeffreys"]]
    table["null_median"] = null.median()
    table["null_q95"] = null.quantile(0.95)
    return table.reset_index().assign(run=name)


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    for name, options in RUNS.items():
        print(null_table(name, options).to_string(index=False, float_format=lambda x: f"{x:.3f}"), "\n")

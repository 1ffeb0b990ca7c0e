"""How much does fluctuation change between a network's first and last epoch? Numbers of docs/RESULTS.md.

Trains the 500-MLP ensemble of RESULTS.md again (same seed, so the same networks) and prints, per
node layer, the median fluctuation after the first and after the last epoch of the networks of the
lowest and highest buckets, and the median per-network ratio last / first in the highest bucket by
init scale. Run: .venv/bin/python docs/results/trajectory_ratios.py  (about 1.5 minutes on 2 cores)
"""

from __future__ import annotations

from cntgraph.studies.ensemble import run_ensemble

if __name__ == "__main__":
    result = run_ensemble(size=500, epochs=20, bucket_width=0.05, seed=0, progress=False)
    ensemble, buckets = result.ensemble, result.analysis.buckets
    members = ensemble.members.merge(buckets, on="member")
    first = ensemble.fluctuation.query("epoch == 0").merge(buckets, on="member").set_index(["member", "layer"])
    last = ensemble.final(ensemble.fluctuation).merge(buckets, on="member").set_index(["member", "layer"])
    for bucket in (0.05, 0.1, 0.95):
        at = [frame[frame["bucket"] == bucket].groupby("layer")["fluctuation"].median().round(3).tolist() for frame in (first, last)]
        print(f"bucket {bucket}: median after the first epoch {at[0]}, after the last {at[1]}")
    ratio = (last["fluctuation"] / first["fluctuation"]).rename("ratio").reset_index().merge(members, on="member")
    best = ratio[ratio["bucket"] == 0.95]
    print("bucket 0.95, median last / first per network:", best.groupby("layer")["ratio"].median().round(2).tolist())
    for scale, rows in best.groupby("scale"):
        print(f"  scale {scale} ({rows['member'].nunique()} networks):", rows.groupby("layer")["ratio"].median().round(2).tolist())

"""Null models for node strength and layer fluctuation: how much is structure, how much weight size.

A layer's fluctuation (the spread of its units' strengths) grows with the spread of its weights
whatever their arrangement. Two controls separate the two, standard in complex-network analysis:

- **Weight-shuffled null** (`null_model`): the weights of each weighted layer permuted among
  themselves, and its biases among themselves (so every layer keeps its exact weight
  distribution), many times; the observed value is compared with the values of the shuffled
  networks as a z-score and a ratio. Layers whose links the architecture fixes (pooling, residual
  identities) are left as they are.
- **Closed-form i.i.d. prediction** (`iid_fluctuation`): the fluctuation expected if every link's
  weight were an independent draw from its layer's weights (and every bias from its layer's
  biases). A unit with k_in links in from layer L, k_out links out to layer L' and a bias has
  E[s] = k_in mean(W_L) + mean(b_L) + k_out mean(W_L') and
  Var[s] = k_in Var(W_L) + Var(b_L) + k_out Var(W_L') (summed over every layer it touches). No
  two units of a layer share a link, so the expected squared fluctuation of a layer of n units is
  (1 - 1/n) mean Var[s] + the variance of E[s] over its units, and the prediction is its square
  root: for a hidden layer of an MLP, sqrt((1 - 1/n) (n_in Var W_l + Var b_l + n_out Var W_{l+1})).
  It ignores that a convolution's links share weights (and a channel's pixels its bias); the
  strengths fixed at 1 by the boundary convention do not vary.

A ratio near 1 means the arrangement of the weights adds nothing beyond their sizes; the z-score
says how unusual the observed value is among the shuffled networks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cntgraph.checks import whole_number
from cntgraph.core.metrics import layer_strengths, link_sums
from cntgraph.core.network import FIXED_KINDS, Snapshot, dense_snapshot  # noqa: F401 - dense_snapshot: the examples

__all__ = ["NullModel", "null_model", "layer_nulls", "shuffled", "iid_fluctuation", "checked_draws"]


@dataclass(frozen=True)
class NullModel:
    """The observed strengths and fluctuation beside a weight-shuffled null and the i.i.d. prediction.

    - ``layers``: per node layer, ``layer``, ``fluctuation`` (observed), ``null_mean`` and
      ``null_std`` (over the shuffled networks; std with ddof=1), ``z`` = (fluctuation -
      null_mean) / null_std (NaN when the null does not vary), ``ratio`` = fluctuation / null_mean,
      ``iid`` (`iid_fluctuation`) and ``iid_ratio`` = fluctuation / iid;
    - ``units``: per unit, ``layer``, ``unit``, ``s`` (observed node strength), ``null_mean``,
      ``null_std`` and ``z`` of its strength over the shuffled networks;
    - ``draws``: how many shuffled networks, ``seed``: the seed that drew them.
    """

    layers: pd.DataFrame
    units: pd.DataFrame
    draws: int
    seed: int


def shuffled(snapshot: Snapshot, rng: np.random.Generator) -> Snapshot:
    """``snapshot`` with each weighted layer's weights permuted among themselves, and its biases
    among themselves; layers whose weights the architecture fixes (:data:`FIXED_KINDS`) are kept.

    Example (the same values, in another order):
        >>> snap = dense_snapshot([[[1.0, 2.0, 3.0]]], biases=[[0.5]])
        >>> sorted(shuffled(snap, np.random.default_rng(0)).weights[0].ravel().tolist())
        [1.0, 2.0, 3.0]
    """
    weights, biases = [], []
    for layer, weight, bias in zip(snapshot.topology.layers, snapshot.weights, snapshot.biases, strict=True):
        fixed = layer.kind in FIXED_KINDS
        weights.append(weight if fixed else rng.permutation(weight.ravel()).reshape(weight.shape))
        biases.append(bias if fixed or bias is None else rng.permutation(bias.ravel()).reshape(bias.shape))
    return Snapshot(snapshot.topology, tuple(weights), tuple(biases))


def iid_fluctuation(snapshot: Snapshot) -> np.ndarray:
    """The fluctuation of each node layer 0..K predicted if every link's weight were an independent
    draw from its layer's weights (and every bias from its layer's biases): the square root of the
    expected squared fluctuation; see the module's docstring.

    Example (W1 = [[1, 3], [-1, 1]], b1 = [0, 2]: Var W1 = 2, Var b1 = 1; W2 = [[1, 0]]: Var 0.25;
    a hidden unit: Var s = 2 * 2 + 1 + 1 * 0.25, and the layer has 2 units):
        >>> snap = dense_snapshot([[[1.0, 3.0], [-1.0, 1.0]], [[1.0, 0.0]]], biases=[[0.0, 2.0], None])
        >>> iid_fluctuation(snap).round(6).tolist()[1] == round(float(np.sqrt(5.25 / 2)), 6)
        True
    """
    means = layer_strengths(_per_layer(snapshot, np.mean, keep_fixed=True))
    variances = link_sums(_per_layer(snapshot, np.var, keep_fixed=False))  # fixed links do not vary
    return np.array([
        np.sqrt((1 - 1 / mean.s_in.size) * np.mean(var.s_in + var.s_out) + np.var(mean.s_in + mean.s_out))
        for mean, var in zip(means, variances, strict=True)
    ])


def layer_nulls(snapshot: Snapshot, draws: int, seed: int = 0) -> pd.DataFrame:
    """The per-layer table of `null_model` (``NullModel.layers``); with ``draws=0`` only the i.i.d.
    prediction is computed and the shuffled null's columns are NaN.

    Example:
        >>> snap = dense_snapshot([[[1.0, 3.0], [-1.0, 1.0]]], biases=[[0.0, 2.0]])
        >>> table = layer_nulls(snap, draws=0)
        >>> bool(table[["z", "ratio"]].isna().all().all()), bool((table.iid > 0).all())
        (True, True)
    """
    if draws:
        return null_model(snapshot, draws, seed).layers
    fluctuation = np.array([np.std(st.s_in + st.s_out) for st in layer_strengths(snapshot)])
    iid = iid_fluctuation(snapshot)
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame({
            "layer": np.arange(fluctuation.size, dtype=np.int64), "fluctuation": fluctuation,
            "null_mean": np.nan, "null_std": np.nan, "z": np.nan, "ratio": np.nan,
            "iid": iid, "iid_ratio": np.where(iid > 0, fluctuation / iid, np.nan),
        })


def checked_draws(draws: int) -> int:
    """``draws`` if it is 0 (no shuffled null) or a whole number >= 2, else a `ConfigurationError` naming it.

    Example:
        >>> checked_draws(0), checked_draws(20)
        (0, 20)
    """
    if isinstance(draws, (int, np.integer)) and not isinstance(draws, bool) and draws == 0:
        return 0
    return whole_number("null_draws", draws, minimum=2, hint="(or 0: no shuffled null)")


def _per_layer(snapshot: Snapshot, statistic: Callable[[np.ndarray], float], keep_fixed: bool) -> Snapshot:
    """``snapshot`` with each learned layer's weights all set to ``statistic`` of them (its biases
    likewise); the weights of :data:`FIXED_KINDS` layers kept, or set to 0."""
    weights, biases = [], []
    for layer, weight, bias in zip(snapshot.topology.layers, snapshot.weights, snapshot.biases, strict=True):
        fixed = layer.kind in FIXED_KINDS
        weights.append((weight if keep_fixed else np.zeros_like(weight)) if fixed else np.full_like(weight, statistic(weight)))
        biases.append(None if bias is None else np.full_like(bias, statistic(bias)))
    return Snapshot(snapshot.topology, tuple(weights), tuple(biases))


def null_model(snapshot: Snapshot, draws: int = 100, seed: int = 0) -> NullModel:
    """Node strengths and layer fluctuation of ``snapshot`` beside ``draws`` weight-shuffled copies
    (`shuffled`) and the i.i.d. prediction (`iid_fluctuation`). Deterministic given ``seed``.

    Example (one Linear(3, 2): shuffling moves weights between the two output units):
        >>> snap = dense_snapshot([[[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]], biases=[None])
        >>> result = null_model(snap, draws=200, seed=1)
        >>> row = result.layers.iloc[1]
        >>> float(row.fluctuation), bool(row.ratio > 1), bool(row.z > 2)  # all + into one unit, all - into the other
        (3.0, True, True)
    """
    whole_number("draws", draws, minimum=2, hint="(a null model needs a spread)")
    observed = [st.s_in + st.s_out for st in layer_strengths(snapshot)]
    rng = np.random.default_rng(seed)
    fluctuations = np.empty((draws, len(observed)))
    shift = [np.zeros_like(s) for s in observed]  # sums of (s_null - s) and of its square, per unit
    square = [np.zeros_like(s) for s in observed]
    for draw in range(draws):
        for index, st in enumerate(layer_strengths(shuffled(snapshot, rng))):
            difference = st.s_in + st.s_out - observed[index]
            shift[index] += difference
            square[index] += difference * difference
            fluctuations[draw, index] = np.std(st.s_in + st.s_out)
    null_mean, null_std = fluctuations.mean(axis=0), fluctuations.std(axis=0, ddof=1)
    layers = layer_nulls(snapshot, draws=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        layers["null_mean"], layers["null_std"] = null_mean, null_std
        layers["z"] = np.where(null_std > 0, (layers["fluctuation"] - null_mean) / null_std, np.nan)
        layers["ratio"] = np.where(null_mean > 0, layers["fluctuation"] / null_mean, np.nan)
        unit_mean = [s + d / draws for s, d in zip(observed, shift, strict=True)]
        unit_var = [(q - d * d / draws) / (draws - 1) for d, q in zip(shift, square, strict=True)]
        unit_std = [np.sqrt(np.maximum(v, 0.0)) for v in unit_var]
        units = pd.DataFrame({
            "layer": np.repeat(np.arange(len(observed), dtype=np.int64), [s.size for s in observed]),
            "unit": np.concatenate([np.arange(s.size, dtype=np.int64) for s in observed]),
            "s": np.concatenate(observed),
            "null_mean": np.concatenate(unit_mean),
            "null_std": np.concatenate(unit_std),
            "z": np.concatenate([np.where(sd > 0, (s - m) / sd, np.nan) for s, m, sd in zip(observed, unit_mean, unit_std, strict=True)]),
        })
    return NullModel(layers, units, draws, seed)

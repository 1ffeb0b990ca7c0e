"""CNT metrics of a PyTorch model: trace and snapshot it, then compute with :mod:`cntgraph.core.metrics`.

Each function takes a model (with ``input_shape``, per sample) or a
:class:`~cntgraph.core.network.Snapshot`, and returns what the core function of the same name
returns. These are ``cntgraph.node_strength``, ``cntgraph.layer_fluctuation`` and
``cntgraph.link_weights``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from cntgraph.core import individual, metrics, null_models, weighted_measures
from cntgraph.core.activations import activation_summaries
from cntgraph.core.divergence import Estimator
from cntgraph.core.metrics import Bins, LayerParameters, fixed_bins  # noqa: F401 - fixed_bins: the examples
from cntgraph.core.network import Snapshot, require_finite
from cntgraph.errors import ConfigurationError
from cntgraph.model.snapshot import take_snapshot, to_float64
from cntgraph.model.tracing import trace, trace_values, weighted_modules

__all__ = [
    "as_snapshot",
    "node_strength",
    "layer_fluctuation",
    "link_weights",
    "layer_parameters",
    "absolute_strength",
    "disparity",
    "link_assortativity",
    "network_assortativity",
    "null_model",
    "individual_analysis",
    "activation_distributions",
]

ModelOrSnapshot = nn.Module | Snapshot


def as_snapshot(model_or_snapshot: ModelOrSnapshot, input_shape: Sequence[int] | None = None) -> Snapshot:
    """``model_or_snapshot`` as a snapshot: a model is traced on ``input_shape`` and its weights copied.

    Example:
        >>> snap = as_snapshot(nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1)), (3,))
        >>> [node.size for node in snap.topology.node_layers]
        [3, 2, 1]
    """
    if isinstance(model_or_snapshot, Snapshot):
        known = model_or_snapshot.topology.node_layers[0].shape
        if input_shape is not None and tuple(input_shape) != known:
            raise ConfigurationError(f"input_shape {tuple(input_shape)} differs from the snapshot's {known}")
        return model_or_snapshot
    if input_shape is None:
        raise ConfigurationError("input_shape (per sample, e.g. (1, 28, 28)) is needed to read a model")
    return take_snapshot(model_or_snapshot, trace(model_or_snapshot, input_shape))


def node_strength(model_or_snapshot: ModelOrSnapshot, input_shape: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per unit of every node layer: ``layer``, ``unit``, ``s_in``, ``s_out``, ``s``.

    See :func:`cntgraph.core.metrics.node_strength`; a model needs ``input_shape`` (per sample).

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
        >>> node_strength(net, input_shape=(1, 4, 4)).groupby("layer").size().tolist()
        [16, 8, 3]
    """
    return metrics.node_strength(as_snapshot(model_or_snapshot, input_shape))


def layer_fluctuation(model_or_snapshot: ModelOrSnapshot, input_shape: Sequence[int] | None = None) -> pd.DataFrame:
    """Population standard deviation (ddof=0) of node strength ``s`` in every node layer 0..K.

    See :func:`cntgraph.core.metrics.layer_fluctuation`.

    Example:
        >>> net = nn.Linear(2, 1)
        >>> _ = nn.init.constant_(net.weight, 1.0), nn.init.zeros_(net.bias)
        >>> layer_fluctuation(net, input_shape=(2,))["fluctuation"].tolist()
        [0.0, 0.0]
    """
    return metrics.layer_fluctuation(as_snapshot(model_or_snapshot, input_shape))


def link_weights(
    model_or_snapshot: ModelOrSnapshot, bins: Bins = None, input_shape: Sequence[int] | None = None
) -> pd.DataFrame:
    """Distribution of the link weights (all weights and biases of the links into it) of every node layer 1..K.

    See :func:`cntgraph.core.metrics.link_weights`. A snapshot, or a model with ``input_shape``,
    numbers node layers in forward order. A model without ``input_shape`` is not run: it may hold
    only Linear and Conv layers (and wiring), numbered in registration order, which is the forward
    order for ``nn.Sequential`` and for modules that define their layers in the order they call them.

    Example:
        >>> net = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1))
        >>> link_weights(net, bins=fixed_bins(-1, 1, 4))[["layer", "path", "count"]].values.tolist()
        [[1, '0', 8], [2, '2', 3]]
    """
    return metrics.parameter_table(layer_parameters(model_or_snapshot, input_shape), bins)


def layer_parameters(
    model_or_snapshot: ModelOrSnapshot, input_shape: Sequence[int] | None = None
) -> list[LayerParameters]:
    """(node layer index 1..K, name, all weights then biases of the links into it as one flat float64
    array) per node layer.

    Layer order as in `link_weights`: forward order for a snapshot or a model with
    ``input_shape``, registration order for a model without.

    Example:
        >>> [(index, path, values.size) for index, path, values in layer_parameters(nn.Linear(2, 1))]
        [(1, '', 3)]
    """
    if isinstance(model_or_snapshot, nn.Module) and input_shape is None:
        return [
            (index, path, _finite_parameters(path, module))
            for index, (path, module) in enumerate(weighted_modules(model_or_snapshot), start=1)
        ]
    return metrics.layer_parameters(as_snapshot(model_or_snapshot, input_shape))


def absolute_strength(model_or_snapshot: ModelOrSnapshot, input_shape: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per unit: ``layer``, ``unit``, ``abs_s_in``, ``abs_s_out``, ``abs_s``: strengths of ``|w|``.

    See :func:`cntgraph.core.weighted_measures.absolute_strength`.

    Example:
        >>> net = nn.Linear(2, 1)
        >>> _ = nn.init.constant_(net.weight, -1.0), nn.init.zeros_(net.bias)
        >>> absolute_strength(net, input_shape=(2,)).abs_s_in.tolist()
        [1.0, 1.0, 2.0]
    """
    return weighted_measures.absolute_strength(as_snapshot(model_or_snapshot, input_shape))


def disparity(model_or_snapshot: ModelOrSnapshot, input_shape: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per unit: ``layer``, ``unit``, ``k_in``, ``k_out``, ``disparity_in``, ``disparity_out``.

    See :func:`cntgraph.core.weighted_measures.disparity`.

    Example (equal weights over 2 links and a bias: 1/3):
        >>> net = nn.Linear(2, 1)
        >>> _ = nn.init.constant_(net.weight, 0.5), nn.init.constant_(net.bias, 0.5)
        >>> round(float(disparity(net, input_shape=(2,)).disparity_in.iloc[-1]), 6)
        0.333333
    """
    return weighted_measures.disparity(as_snapshot(model_or_snapshot, input_shape))


def link_assortativity(
    model_or_snapshot: ModelOrSnapshot,
    input_shape: Sequence[int] | None = None,
    *,
    absolute: bool = True,
    by_weight: bool = False,
) -> pd.DataFrame:
    """One row per weighted layer: ``layer``, ``path``, ``links``, ``r`` (strength assortativity over its links).

    See :func:`cntgraph.core.weighted_measures.link_assortativity`.

    Example (fully connected layers, each link counted once: 0 up to rounding):
        >>> net = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 2))
        >>> table = link_assortativity(net, input_shape=(3,))
        >>> table[["path", "links"]].values.tolist(), bool((table.r.abs() < 1e-9).all())
        ([['0', 6], ['2', 4]], True)
    """
    return weighted_measures.link_assortativity(as_snapshot(model_or_snapshot, input_shape), absolute, by_weight)


def network_assortativity(
    model_or_snapshot: ModelOrSnapshot,
    input_shape: Sequence[int] | None = None,
    *,
    absolute: bool = True,
    by_weight: bool = False,
) -> float:
    """Strength assortativity over every link of the network. See :func:`link_assortativity`.

    Example:
        >>> net = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 2))
        >>> -1.0 <= network_assortativity(net, input_shape=(3,)) <= 1.0
        True
    """
    return weighted_measures.network_assortativity(as_snapshot(model_or_snapshot, input_shape), absolute, by_weight)


def null_model(
    model_or_snapshot: ModelOrSnapshot, input_shape: Sequence[int] | None = None, *, draws: int = 100, seed: int = 0
) -> null_models.NullModel:
    """Strengths and fluctuation beside a weight-shuffled null (``draws`` shuffles) and the i.i.d. prediction.

    See :func:`cntgraph.core.null_models.null_model`: ``.layers`` (per node layer: ``fluctuation``,
    ``null_mean``, ``null_std``, ``z``, ``ratio``, ``iid``, ``iid_ratio``) and ``.units`` (per unit:
    ``s``, ``null_mean``, ``null_std``, ``z``).

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
        >>> null_model(net, input_shape=(4,), draws=10).layers.columns.tolist()
        ['layer', 'fluctuation', 'null_mean', 'null_std', 'z', 'ratio', 'iid', 'iid_ratio']
    """
    return null_models.null_model(as_snapshot(model_or_snapshot, input_shape), draws, seed)


def individual_analysis(
    model_or_snapshot: ModelOrSnapshot,
    input_shape: Sequence[int] | None = None,
    *,
    bins: int = 32,
    estimator: Estimator = "histogram",
) -> pd.DataFrame:
    """One network's layers against each other: ``quantity`` (weight, strength), ``layer_a``,
    ``layer_b``, ``estimator``, ``bins``, ``jeffreys``, ``jensen_shannon``.

    See :func:`cntgraph.core.individual.individual_analysis`; call it at every epoch to follow it.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
        >>> individual_analysis(net, input_shape=(4,))[["quantity", "layer_a", "layer_b"]].values.tolist()
        [['weight', 1, 2], ['strength', 0, 1], ['strength', 0, 2], ['strength', 1, 2]]
    """
    return individual.individual_analysis(as_snapshot(model_or_snapshot, input_shape), bins, estimator)


def activation_distributions(model: nn.Module, inputs: torch.Tensor, fold_batchnorm: bool = True) -> pd.DataFrame:
    """One row per node layer: ``layer``, then the ``activation_*`` and ``input_strength_*``
    summaries (count, mean, std, min, max, q05..q95) of its units on a batch of ``inputs``.

    See :mod:`cntgraph.core.activations` for what the two quantities are; the model runs once
    on ``inputs`` in eval mode without gradients. The `Recorder` stores the same per epoch when
    given ``data``.

    Example:
        >>> net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
        >>> table = activation_distributions(net, torch.randn(8, 3))
        >>> table["layer"].tolist(), table["activation_count"].tolist(), bool(table["activation_min"][1] >= 0)
        ([0, 1, 2], [24, 16, 8], True)
    """
    values = trace_values(model, inputs, fold_batchnorm)
    summaries = activation_summaries(values.strength, values.activation)
    return pd.DataFrame([{"layer": layer, **summary} for layer, summary in sorted(summaries.items())])


def _finite_parameters(path: str, module: nn.Linear | nn.Conv2d) -> np.ndarray:
    values = np.concatenate([to_float64(p).ravel() for p in (module.weight, module.bias) if p is not None])
    require_finite(path, values)
    return values

"""Data-dependent metrics: what a network's neurons do on a sample of data, as distributions per layer.

The "Perspective" follow-up of the CNT papers (La Malfa et al., "Deep Neural Networks via Complex
Network Theory: a Perspective", IJCAI 2024, arXiv 2404.11172) adds metrics that sample the
training data: Neurons Activation and Neurons Strength. Its methods text was not available to us
(docs/METRICS.md says so); cntgraph computes them as follows, on a batch of inputs x:

- **activation** a_j(x): what unit j passes on to the links out of it (after its activation
  function; the input itself for layer 0; the model's output for the last layer);
- **input-weighted strength** s_j(x) = sum_i w_ij a_i(x) + b_j: its in-strength with every incoming
  link weighted by the activation crossing it (the value its links compute, before its activation
  function). With every a_i = 1 it is the CNT in-strength s_in.

Each is summarised per node layer over all samples and units (`activation_summaries`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cntgraph.core.metrics import summary_stats

__all__ = ["QUANTITIES", "activation_summaries"]

#: the per-layer distributions, by the prefix of their summary keys
QUANTITIES = ("activation", "input_strength")


def activation_summaries(
    strength: Sequence[np.ndarray | None], activation: Sequence[np.ndarray | None]
) -> dict[int, dict[str, float]]:
    """{node layer: ``activation_*`` and ``input_strength_*`` summary statistics}, over every sample
    and unit of arrays (samples, units) per node layer; a layer whose values are None has none of them.

    Example (two samples, one unit: strengths -1 and 3, activations 0 and 3, as after a ReLU):
        >>> summary = activation_summaries([None, np.array([[-1.0], [3.0]])], [None, np.array([[0.0], [3.0]])])
        >>> summary[1]["input_strength_mean"], summary[1]["activation_mean"], summary[1]["activation_count"]
        (1.0, 1.5, 2)
    """
    result: dict[int, dict[str, float]] = {}
    for layer, (s, a) in enumerate(zip(strength, activation, strict=True)):
        for name, values in zip(QUANTITIES, (a, s), strict=True):
            if values is not None and values.size:
                result.setdefault(layer, {}).update({f"{name}_{k}": v for k, v in summary_stats(values).items()})
    return result

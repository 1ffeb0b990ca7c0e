"""Which neurons of each node layer a run stores: drawn once, at the first capture, then kept.

Keeping the same units for every epoch gives each stored link a continuous history. Stored links
are all links between sampled units of node layers that a link joins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from cntgraph.checks import whole_number
from cntgraph.errors import ConfigurationError


class Sampler(Protocol):
    """Chooses the units of one node layer: sorted, unique int64 flat indices.

    A sampler whose units are a uniform draw without replacement (every set of k units equally
    likely) says so with a ``uniform = True`` attribute: in-database aggregation then gives unbiased
    estimates with their errors (docs/METRICS.md); without it, its estimates are labelled biased.
    """

    def choose(self, layer: int, strength: np.ndarray) -> np.ndarray: ...


def is_uniform(sampler: Sampler) -> bool:
    """Whether ``sampler`` draws its units uniformly (its ``uniform`` attribute; False when it has none).

    Example:
        >>> is_uniform(Uniform(8)), is_uniform(Full()), is_uniform(TopStrength(8))
        (True, True, False)
    """
    return bool(getattr(sampler, "uniform", False))


@dataclass(frozen=True)
class Full:
    """Every unit.

    Example:
        >>> Full().choose(0, np.zeros(3)).tolist()
        [0, 1, 2]
    """

    uniform: ClassVar[bool] = True

    def choose(self, layer: int, strength: np.ndarray) -> np.ndarray:
        return np.arange(strength.size, dtype=np.int64)


@dataclass(frozen=True)
class Uniform:
    """``k`` units drawn uniformly without replacement (all when a layer has fewer), reproducibly.

    Example:
        >>> Uniform(2, seed=1).choose(0, np.zeros(10)).tolist() == Uniform(2, seed=1).choose(0, np.zeros(10)).tolist()
        True
    """

    k: int
    seed: int = 0
    uniform: ClassVar[bool] = True

    def __post_init__(self) -> None:
        whole_number("Uniform(k)", self.k)

    def choose(self, layer: int, strength: np.ndarray) -> np.ndarray:
        if strength.size <= self.k:
            return np.arange(strength.size, dtype=np.int64)
        generator = np.random.default_rng([self.seed, layer])
        return np.sort(generator.choice(strength.size, size=self.k, replace=False)).astype(np.int64)


@dataclass(frozen=True)
class TopStrength:
    """The ``k`` units of largest absolute node strength ``|s|`` at the first capture.

    Example:
        >>> TopStrength(2).choose(1, np.array([0.5, -3.0, 1.0, 2.0])).tolist()
        [1, 3]
    """

    k: int

    def __post_init__(self) -> None:
        whole_number("TopStrength(k)", self.k)

    def choose(self, layer: int, strength: np.ndarray) -> np.ndarray:
        if strength.size <= self.k:
            return np.arange(strength.size, dtype=np.int64)
        strongest = np.argsort(-np.abs(strength), kind="stable")[: self.k]
        return np.sort(strongest).astype(np.int64)


def samplers(names: Sequence[str], sample: Sampler, per_layer: Mapping[int | str, Sampler] | None = None) -> list[Sampler]:
    """The sampler of every node layer: ``per_layer[index or name]`` where given, else ``sample``.

    ``names`` are the node layers' names ("input", then module paths).

    Example:
        >>> samplers(["input", "fc"], TopStrength(1), {"input": Full()})
        [Full(), TopStrength(k=1)]
    """
    overrides = dict(per_layer or {})
    chosen = []
    for index, name in enumerate(names):
        by_index, by_name = overrides.pop(index, None), overrides.pop(name, None)  # both keys name the layer
        chosen.append(by_index or by_name or sample)
    if overrides:
        raise ConfigurationError(
            f"per-layer samples name unknown layers {sorted(map(str, overrides))}; node layers are "
            + ", ".join(f"{i} ({n})" for i, n in enumerate(names))
        )
    return chosen


def draw(strengths: Sequence[np.ndarray], chosen: Sequence[Sampler]) -> list[np.ndarray]:
    """The units of every node layer, drawn by its sampler (`samplers`) from the node strength ``s``
    of every unit of each node layer.

    Example:
        >>> s = [np.zeros(4), np.arange(3.0)]
        >>> [u.tolist() for u in draw(s, samplers(["input", "fc"], TopStrength(1), {"input": Full()}))]
        [[0, 1, 2, 3], [2]]
    """
    return [sampler.choose(index, strength) for index, (strength, sampler) in enumerate(zip(strengths, chosen, strict=True))]

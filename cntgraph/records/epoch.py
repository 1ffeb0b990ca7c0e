"""What one captured epoch stores: plain numpy columns, ready for Neo4j or for the spool on disk.

The contract between the recorder and its sinks: :mod:`cntgraph.records.build` makes
``EpochRecords`` from a snapshot, the store's writer sends them to Neo4j, and
:mod:`cntgraph.records.spool` keeps them on disk while Neo4j is away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["EpochRecords", "LinkBlock", "NeuronBlock"]


@dataclass(frozen=True, eq=False)
class LinkBlock:
    """Links into sampled units ``dst`` of node layer ``layer`` at one epoch, from units ``src``
    of node layers ``src_layer`` (one entry per link; by default all ``layer - 1``, a chain)."""

    layer: int
    src: np.ndarray
    dst: np.ndarray
    w: np.ndarray
    src_layer: np.ndarray = None  # type: ignore[assignment]  # filled in by __post_init__

    def __post_init__(self) -> None:
        if self.src_layer is None:
            object.__setattr__(self, "src_layer", np.full(self.src.size, self.layer - 1, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class NeuronBlock:
    """Exact strengths and bias (NaN where there is none) of one node layer's sampled units."""

    layer: int
    unit: np.ndarray
    s_in: np.ndarray
    s_out: np.ndarray
    s: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True, eq=False)
class EpochRecords:
    """Everything one epoch of one run writes; self-contained, so it can be replayed alone.

    ``layers`` describe the node layers (index, name, kind, shape, size, sampled, bin edges);
    ``layer_states`` hold one map of metrics per node layer (fluctuation, summaries, histograms).
    """

    run: str
    rid: int
    epoch: int
    run_props: dict[str, Any]
    epoch_props: dict[str, Any]
    layers: list[dict[str, Any]]
    neurons: list[NeuronBlock]
    links: list[LinkBlock]
    layer_states: list[dict[str, Any]] = field(default_factory=list)

    @property
    def link_count(self) -> int:
        return sum(int(block.w.size) for block in self.links)

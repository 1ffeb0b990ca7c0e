"""Build the records of one epoch from a snapshot: the run's layout (sample, bins), then its columns.

The metrics are exact, computed from the full weights whatever the sample: strengths of every
unit, fluctuation and summaries over all units; only the stored neurons and links are sampled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cntgraph.core.links import stored_links
from cntgraph.core.metrics import (
    fixed_bins,
    histogram,
    layer_parameters,
    layer_strengths,
    per_unit,
    summary_stats,
)
from cntgraph.core.network import Snapshot, Topology
from cntgraph.core.null_models import iid_fluctuation, layer_nulls
from cntgraph.core.sampling import Sampler, draw, is_uniform, samplers
from cntgraph.records.epoch import EpochRecords, LinkBlock, NeuronBlock

__all__ = ["RunLayout", "LayerProps", "new_layout", "layout", "build_records"]

#: per node layer, more properties for its layer state at one epoch (e.g. activation summaries)
LayerProps = Mapping[int, Mapping[str, Any]]


@dataclass(frozen=True, eq=False)
class RunLayout:
    """What stays fixed for a whole run: its id, node layers, sampled units and histogram edges."""

    run: str
    rid: int
    run_props: dict[str, Any]
    samples: list[np.ndarray]
    strength_edges: list[np.ndarray]
    weight_edges: list[np.ndarray | None]  # None for the input layer, which has no weights
    layers: list[dict[str, Any]]
    #: weight-shuffled networks per epoch for the null model stored beside each layer's fluctuation (0: none)
    null_draws: int = 0


def new_layout(
    run: str,
    rid: int,
    snapshot: Snapshot,
    sample: Sampler,
    per_layer: Mapping[int | str, Sampler] | None = None,
    bins: int = 64,
    run_props: Mapping[str, Any] | None = None,
) -> RunLayout:
    """Draw a new run's sample and fix its histogram bins from the first captured snapshot.

    Bins span +-2x the largest absolute value seen at the first capture; later values beyond
    them are counted in the end bins.
    """
    strengths = [st.s_in + st.s_out for st in layer_strengths(snapshot)]
    chosen = samplers([node.name for node in snapshot.topology.node_layers], sample, per_layer)
    samples = draw(strengths, chosen)
    strength_edges = [_symmetric_edges(s, bins) for s in strengths]
    weight_edges: list[np.ndarray | None] = [None]
    weight_edges += [_symmetric_edges(values, bins) for _, _, values in layer_parameters(snapshot)]
    return layout(run, rid, snapshot.topology, samples, strength_edges, weight_edges, run_props, chosen)


def layout(
    run: str,
    rid: int,
    topology: Topology,
    samples: list[np.ndarray],
    strength_edges: list[np.ndarray],
    weight_edges: list[np.ndarray | None],
    run_props: Mapping[str, Any] | None = None,
    chosen: Sequence[Sampler] | None = None,
) -> RunLayout:
    """Assemble a run's layout from its sample and bins (new, or read back to resume a run). With the
    samplers that ``chosen`` the units (a new run), each layer also records ``sample`` (the sampler)
    and ``uniform`` (whether it draws uniformly: what in-database estimates assume)."""
    kinds = ["input"] + [_kind(topology, node.index) for node in topology.node_layers[1:]]
    layers = [
        {
            "index": node.index,
            "name": node.name,
            "kind": kind,
            "inputs": sorted({s for layer in topology.into(node.index) for s in layer.sources}),
            "shape": list(node.shape),
            "size": node.size,
            "sampled": int(units.size),
            "s_edges": s_edges.tolist(),
            "w_edges": None if w_edges is None else w_edges.tolist(),
        }
        for node, kind, units, s_edges, w_edges in zip(
            topology.node_layers, kinds, samples, strength_edges, weight_edges, strict=True
        )
    ]
    if chosen is not None:
        for entry, sampler in zip(layers, chosen, strict=True):
            entry.update(sample=repr(sampler), uniform=is_uniform(sampler))
    return RunLayout(run, rid, dict(run_props or {}), samples, strength_edges, weight_edges, layers)


def build_records(
    layout: RunLayout, snapshot: Snapshot, epoch: int, props: Mapping[str, Any], layer_props: LayerProps | None = None
) -> EpochRecords:
    """The records of one epoch: sampled neurons and links, and every layer's exact metrics.

    Every layer state holds ``fluctuation_iid``, the fluctuation its weights' sizes alone predict
    (:func:`~cntgraph.core.null_models.iid_fluctuation`); with ``layout.null_draws``, also
    ``fluctuation_null_mean``, ``fluctuation_null_std`` and ``fluctuation_z`` over that many
    weight-shuffled networks (seeded by the epoch, so a rewrite stores the same values).
    ``layer_props`` adds properties to the layer states (node layer -> properties), such as the
    activation summaries of :func:`cntgraph.core.activations.activation_summaries`.
    """
    strengths = layer_strengths(snapshot)
    neurons, states = [], []
    for index, (st, units) in enumerate(zip(strengths, layout.samples, strict=True)):
        s = st.s_in + st.s_out
        neurons.append(
            NeuronBlock(index, units, st.s_in[units], st.s_out[units], s[units], _unit_bias(snapshot, index)[units])
        )
        states.append({"layer": index, "fluctuation": float(np.std(s)), **_summary("s", s, layout.strength_edges[index])})
    for index, _, values in layer_parameters(snapshot):
        states[index].update(_summary("w", values, layout.weight_edges[index]))
    _add_null_model(states, snapshot, layout.null_draws, epoch)
    for index, extra in (layer_props or {}).items():
        states[index].update(extra)
    links = []
    for number, layer in enumerate(snapshot.topology.layers, start=1):
        src_layer, src, dst, w = stored_links(snapshot, number, layout.samples)
        links.append(LinkBlock(layer.index, src, dst, w, src_layer))
    return EpochRecords(
        run=layout.run,
        rid=layout.rid,
        epoch=epoch,
        run_props=layout.run_props,
        epoch_props=dict(props),
        layers=layout.layers,
        neurons=neurons,
        links=links,
        layer_states=states,
    )


def _add_null_model(states: list[dict[str, Any]], snapshot: Snapshot, draws: int, epoch: int) -> None:
    """Each layer state's i.i.d. prediction and, with ``draws``, its shuffled null (NaN: no spread).
    Without draws only the prediction is computed: the states already hold the fluctuation."""
    if not draws:
        for state, iid in zip(states, iid_fluctuation(snapshot), strict=True):
            state["fluctuation_iid"] = float(iid)
        return
    for state, row in zip(states, layer_nulls(snapshot, draws, seed=epoch).itertuples(index=False), strict=True):
        state.update(fluctuation_iid=float(row.iid), fluctuation_null_mean=float(row.null_mean),
                     fluctuation_null_std=float(row.null_std), fluctuation_z=float(row.z))


def _summary(prefix: str, values: np.ndarray, edges: np.ndarray | None) -> dict[str, Any]:
    """Summary statistics and a histogram on the run's fixed ``edges``, keys prefixed."""
    assert edges is not None, "a layer with values always has histogram edges"
    counts, _ = histogram(np.clip(values, edges[0], edges[-1]), edges)
    return {f"{prefix}_{k}": v for k, v in summary_stats(values).items()} | {f"{prefix}_hist": counts.tolist()}


def _symmetric_edges(values: np.ndarray, bins: int) -> np.ndarray:
    reach = 2.0 * float(np.max(np.abs(values))) if values.size else 1.0
    return fixed_bins(-reach if reach > 0 else -1.0, reach if reach > 0 else 1.0, bins)


def _unit_bias(snapshot: Snapshot, index: int) -> np.ndarray:
    """The bias of every unit of node layer ``index`` (a Conv2d channel's bias for each of its
    pixels; the sum where several biased layers feed it), NaN where no layer into it has one."""
    size = snapshot.topology.node_layers[index].size
    biases = [
        per_unit(layer, bias)
        for layer, bias in zip(snapshot.topology.layers, snapshot.biases, strict=True)
        if layer.index == index and bias is not None
    ]
    return np.sum(biases, axis=0) if biases else np.full(size, np.nan)


def _kind(topology: Topology, index: int) -> str:
    """The kind of the links into node layer ``index``: "add" for a residual addition's identities."""
    kind = topology.into(index)[0].kind  # one set of links, or one identity set per operand of an addition
    return "add" if kind == "identity" else kind

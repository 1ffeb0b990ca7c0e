"""``Graph``: reading recorded runs back, on top of a :class:`~cntgraph.store.runner.Neo4jRunner`.

Every method runs named queries of ``cypher/query/`` and ``cypher/read/`` through the runner it
was given and returns a pandas DataFrame (or a networkx graph). Neurons are named
``(layer, unit)``: node layer 0 is the input, ``unit`` the flat (C, H, W) index. Only complete
epochs are read. A run that does not exist, an epoch that is not complete, or a neuron or link that
is not stored raises QueryError saying which, and how to list what there is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cntgraph.checks import whole_number
from cntgraph.core.groups import summarize
from cntgraph.errors import QueryError
from cntgraph.store import aggregation, populations
from cntgraph.store.runner import Neo4jRunner

if TYPE_CHECKING:
    import networkx as nx

    from cntgraph.core.divergence import Estimator

__all__ = ["Graph", "Neuron"]

#: a neuron: (node layer, flat unit index)
Neuron = tuple[int, int]

_INTERNAL_EPOCH_KEYS = ["rid", "run", "complete"]
_SHOWN_RUNS = 10


class Graph:
    """The recorded runs in one Neo4j database, read through ``runner``.

    Build it with :func:`cntgraph.connect`; ``close()`` (or leaving a ``with`` block) closes the
    runner, which closes the driver only when it created it.

    Example:
        with cntgraph.connect() as graph:
            graph.runs()
    """

    def __init__(self, runner: Neo4jRunner) -> None:
        self.runner = runner

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Graph({self.runner!r})"

    def close(self) -> None:
        """Close the runner (and its driver, when the runner created it)."""
        self.runner.close()

    @property
    def source(self) -> str:
        """Where the connection settings came from (arguments, environment, managed server)."""
        return self.runner.source

    @property
    def browser_url(self) -> str | None:
        """The Neo4j Browser address of this server, when known."""
        return self.runner.browser_url

    def query(self, name: str, /, **params: Any) -> pd.DataFrame:
        """Run library query ``name`` in a read transaction; return a DataFrame.

        Example:
            graph.query("query/top_movers", run="mlp-1", layer=1, k=5, start=0, end=19)
        """
        return self.runner.query(name, **params)

    def cypher(self, text: str, /, **params: Any) -> pd.DataFrame:
        """Run ad-hoc Cypher in read access mode (a write is refused and changes nothing; so are
        ``LOAD CSV``, procedures other than the schema's, and commands that reach other sessions or
        the server's settings). It is stopped after ``graph.runner.query_timeout`` seconds (60).

        Example:
            graph.cypher("MATCH (n) RETURN labels(n) AS labels, count(*) AS n")
        """
        return self.runner.cypher(text, **params)

    # -- runs and epochs -------------------------------------------------------------------
    def runs(self) -> pd.DataFrame:
        """Every recorded run: ``run``, ``rid``, ``created_at``, ``model``, ``sample``, ``epochs``, ``last_epoch``.

        Example:
            graph.runs()["run"].tolist()
            ['mlp-1', 'mlp-2']
        """
        return self.query("query/runs")

    def epochs(self, run: str) -> pd.DataFrame:
        """The complete epochs of ``run``: ``epoch``, then their properties (``links``, ``loss``, ...).

        Example:
            graph.epochs("mlp-1")[["epoch", "loss"]]
        """
        frame = self.query("query/epochs", run=run)
        if frame.empty:
            self._require_run(run)
            return pd.DataFrame({"epoch": pd.Series(dtype="int64")})
        props = pd.DataFrame.from_records(list(frame["props"])).drop(columns=_INTERNAL_EPOCH_KEYS, errors="ignore")
        return props[["epoch", *sorted(column for column in props if column != "epoch")]]

    def layers(self, run: str) -> pd.DataFrame:
        """The node layers of ``run``: ``layer``, ``name``, ``kind``, ``shape``, ``size``, ``sampled``,
        ``inputs`` (the node layers whose links go into it: ``[]`` for the input, ``[layer - 1]`` in a
        chain, several where a residual addition or a concatenation joins layers), ``sample`` (the
        sampler of its stored units) and ``uniform`` (whether that draws them uniformly; None for
        runs stored before these existed).

        Example:
            graph.layers("mlp-1")["sampled"].tolist()
            [784, 128, 10]
        """
        return self._found(self.query("query/layers", run=run), run, "layers")

    # -- histories -------------------------------------------------------------------------
    def link_history(self, run: str, src: Neuron, dst: Neuron) -> pd.DataFrame:
        """The weight of the stored link ``src -> dst`` at every complete epoch: ``epoch``, ``w``.

        A link joins a unit of any node layer that feeds ``dst``'s (in a chain, the one before
        it; with residual additions and concatenations, several). One seek of the destination's
        NeuronStates on (rid, layer, unit, epoch); the weight is the source's entry of their
        ``w_in`` arrays.

        Example:
            graph.link_history("mlp-1", src=(0, 3), dst=(1, 5))
        """
        (src_layer, src_unit), (dst_layer, dst_unit) = src, dst
        frame = self.query(
            "query/link_history", run=run, src_layer=src_layer, src_unit=src_unit, dst_layer=dst_layer, dst_unit=dst_unit
        )
        return self._found(frame, run, f"stored link {src} -> {dst} (links are stored between sampled neurons only)")

    def neuron_history(self, run: str, layer: int, unit: int) -> pd.DataFrame:
        """Exact strengths of a stored neuron at every complete epoch: ``epoch``, ``s_in``, ``s_out``, ``s``, ``bias``.

        Example:
            graph.neuron_history("mlp-1", layer=1, unit=5)
        """
        frame = self.query("query/neuron_history", run=run, layer=layer, unit=unit)
        return self._found(frame, run, f"stored neuron {(layer, unit)} (only sampled neurons are stored)")

    def fluctuation(self, run: str) -> pd.DataFrame:
        """Exact fluctuation of every node layer at every complete epoch: ``epoch``, ``layer``,
        ``fluctuation``, and its null models (docs/METRICS.md): ``iid`` (the fluctuation the
        weights' sizes alone predict), ``iid_ratio`` and, for runs recorded with ``null_draws``,
        ``null_mean``, ``null_std`` and ``z`` of the weight-shuffled null (NaN otherwise, and
        ``iid`` NaN in runs recorded before it was stored).

        Example:
            graph.fluctuation("mlp-1").pivot(index="epoch", columns="layer", values="fluctuation")
        """
        return self._found(self.query("query/fluctuation", run=run), run, "layer states")

    def activations(self, run: str) -> pd.DataFrame:
        """The distributions of activations and input-weighted strengths on the Recorder's ``data``
        batch, per complete epoch and node layer: ``epoch``, ``layer``, ``activation_*`` and
        ``input_strength_*`` (count, mean, std, min, q05, q50, q95, max; NaN where not recorded).

        Example:
            graph.activations("mlp-1").pivot(index="epoch", columns="layer", values="activation_mean")
        """
        return self._found(self.query("query/activations", run=run), run, "layer states")

    # -- rankings and paths ----------------------------------------------------------------
    def top_movers(self, run: str, layer: int, k: int, start: int, end: int) -> pd.DataFrame:
        """The ``k`` stored neurons of ``layer`` whose ``s`` changed most from epoch ``start`` to ``end``.

        Columns ``unit``, ``s_start``, ``s_end``, ``delta``; sorted by ``|delta|``, largest first.

        Example:
            graph.top_movers("mlp-1", layer=1, k=5, start=0, end=19)
        """
        frame = self.query("query/top_movers", run=run, layer=layer, k=whole_number("k", k, error=QueryError), start=start, end=end)
        return self._found(frame, run, f"stored neurons in layer {layer}", epochs=(start, end))

    def strongest_links(self, run: str, epoch: int, k: int) -> pd.DataFrame:
        """The ``k`` stored links of largest ``|w|`` at ``epoch``.

        Columns ``src_layer``, ``src_unit``, ``dst_layer``, ``dst_unit``, ``w``.

        Example:
            graph.strongest_links("mlp-1", epoch=19, k=10)
        """
        frame = self.query("query/strongest_links", run=run, epoch=epoch, k=whole_number("k", k, error=QueryError))
        return self._found(frame, run, "stored links", epochs=(epoch,))

    def strongest_path(self, run: str, epoch: int, unit: int) -> pd.DataFrame:
        """The path of stored links from input ``unit`` to an output neuron maximising the product of ``|w|``.

        The outputs are the units of the sink node layers (those whose units feed no other: in a
        chain, the last layer). A dynamic programme run in Cypher one node layer at a time, in
        index order (every link comes from a node layer of smaller index; ``query/path_step``):
        the best product to every reached neuron of that layer over its stored links from every
        node layer that feeds it. In a chain the path holds one neuron per node layer; a skip
        link (weight 1) passes node layers by. The product of ``|w|`` is the path's share of the
        network's linear response; ties go to the lowest layer, then unit. Rows ``layer``,
        ``unit``, ``w`` (of the link into the neuron; NaN at the input) and ``score`` (product of
        ``|w|`` so far).

        Example:
            graph.strongest_path("mlp-1", epoch=19, unit=3)["unit"].tolist()
            [3, 17, 4]
        """
        layers = self.layers(run).sort_values("layer")
        self.complete_epochs(run, [epoch])
        sizes = [int(size) for size in layers["size"]]
        inputs = [[int(source) for source in sources] for sources in layers["inputs"]]
        sinks = set(range(len(sizes))) - {source for sources in inputs for source in sources}
        unit = int(unit)
        reached: list[dict[int, float]] = [{unit: 1.0} if 0 <= unit < sizes[0] else {}] + [{} for _ in sizes[1:]]
        steps: dict[int, pd.DataFrame] = {}
        for layer in range(1, len(sizes)):
            if not any(reached[source] for source in inputs[layer]):
                continue
            scores = [
                [reached[source].get(u) for u in range(sizes[source])] if source in inputs[layer] and reached[source] else None
                for source in range(layer)
            ]
            step = self.query("query/path_step", run=run, epoch=epoch, dst_layer=layer, scores=scores)
            if not step.empty:
                steps[layer] = step.set_index("unit")
                reached[layer] = {int(u): float(score) for u, score in zip(step["unit"], step["score"], strict=True)}
        ends = [(-score, layer, u) for layer in sorted(sinks) if layer > 0 for u, score in reached[layer].items()]
        if not ends:
            raise QueryError(
                f"run {run!r} has no stored path from input unit {unit} at epoch {epoch} to an output node layer "
                f"({', '.join(map(str, sorted(sinks)))}); links are stored between sampled neurons only"
            )
        _, layer, end = min(ends)
        return _backtrack((layer, end), unit, steps)

    # -- whole epochs ----------------------------------------------------------------------
    def to_networkx(self, run: str, epoch: int) -> nx.DiGraph:
        """The stored neuron graph of ``epoch``: nodes ``(layer, unit)`` with ``s_in``, ``s_out``, ``s``; edges with ``w``.

        Example:
            g = graph.to_networkx("mlp-1", epoch=19)
            g.nodes[(1, 5)]["s"], g.edges[(0, 3), (1, 5)]["w"]
        """
        import networkx as nx

        nodes = self.query("read/strengths", run=run, epochs=[epoch])
        self._found(nodes, run, "stored neurons", epochs=(epoch,))
        links = self.query("query/epoch_links", run=run, epoch=epoch)
        graph = nx.DiGraph(run=run, epoch=epoch)
        graph.add_nodes_from(
            ((n.layer, n.unit), {"s_in": n.s_in, "s_out": n.s_out, "s": n.s}) for n in nodes.itertuples(index=False)
        )
        graph.add_edges_from(
            ((e.src_layer, e.src_unit), (e.dst_layer, e.dst_unit), {"w": e.w}) for e in links.itertuples(index=False)
        )
        return graph

    def compare(
        self,
        runs: Sequence[str] | Mapping[str, Sequence[str]],
        epoch: int | None = None,
        layer: int | None = None,
        bins: int = 32,
        estimator: Estimator = "histogram",
    ) -> pd.DataFrame:
        """Strength and fluctuation distributions of groups of runs, layer by layer (see
        :func:`~cntgraph.core.groups.summarize`).

        ``runs`` is a list (each run its own group) or a mapping of group names (e.g. accuracy
        buckets) to runs. Each run is read at ``epoch``, or at its last complete epoch when None;
        ``layer`` keeps one node layer. Strengths are the exact ``s`` of the stored neurons
        (every unit of a Full run, a sample otherwise); fluctuation is the exact one. ``bins``:
        the most bins per layer on which groups are compared; ``estimator``: how the densities are
        estimated, ``"histogram"``, ``"kde"`` or the reference code's ``"kde_reference"`` (see
        :func:`~cntgraph.core.divergence.sample_divergences`; the ``estimator`` column names it).

        Example:
            graph.compare({"low": ["a", "b"], "high": ["c", "d"]}, layer=1)
        """
        groups = runs if isinstance(runs, Mapping) else {run: [run] for run in runs}
        read = [self._distributions(run, epoch, group) for group, members in groups.items() for run in members]
        if not read:
            raise QueryError("compare needs at least one run")
        neurons, layers = (pd.concat(frames, ignore_index=True) for frames in zip(*read, strict=True))
        if layer is not None:
            neurons, layers = neurons[neurons["layer"] == layer], layers[layers["layer"] == layer]
            if neurons.empty:
                raise QueryError(f"the compared runs have no stored neurons in node layer {layer}")
        return summarize(neurons, layers, bins, estimator)

    # -- in-database aggregation -----------------------------------------------------------
    def aggregate(self, run: str, epochs: Iterable[int] | None = None) -> pd.DataFrame:
        """Compute node strengths and layer fluctuation in Cypher and compare them with the exact ones.

        ``epochs``: the complete epochs to aggregate (default: all of them). See
        :func:`cntgraph.store.aggregation.aggregate` for the columns and what the values mean.

        Example:
            graph.aggregate("mlp-1", epochs=[19])[["layer", "fluctuation", "fluctuation_error"]]
        """
        return aggregation.aggregate(self.runner, run, self.complete_epochs(run, epochs))

    # -- populations of runs, in-database ------------------------------------------------------
    def population(self, runs: Sequence[str] | str, by: str, width: float = 0.0) -> populations.Population:
        """Group runs by a run or epoch property and compare the groups per epoch and layer, in Cypher.

        ``runs``: run names, a name ending in ``*`` standing for every run it begins; ``by``:
        ``"run.<property>"`` or ``"epoch.<property>"``; ``width`` > 0 buckets numbers. Returns the
        groups' ``summary`` (fluctuation over runs, pooled strengths and weights) and the
        ``divergences`` between their pooled histograms: see
        :func:`cntgraph.store.populations.population`. The same as
        :func:`cntgraph.core.groups.population_summary` on `population_states`.

        Example:
            result = graph.population(["ens-*"], "epoch.accuracy", width=0.1)
            result.summary.query("layer == 1")[["group", "epoch", "runs", "fluctuation_mean"]]
        """
        return populations.population(self.runner, runs, by, width)

    def population_states(self, runs: Sequence[str] | str, by: str) -> pd.DataFrame:
        """The layer states a `population` starts from, with the property ``by`` as ``value``.

        Example:
            states = graph.population_states(["ens-*"], "run.scale")
            cntgraph.core.groups.population_summary(states)
        """
        return populations.population_states(self.runner, runs, by)

    def _distributions(self, run: str, epoch: int | None, group: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Stored neurons' ``s`` and every layer's fluctuation of ``run`` at ``epoch`` (None: its last)."""
        at = epoch if epoch is not None else _some_epochs(run, self._complete_epochs(run))[-1]
        strengths = self._found(self.query("read/strengths", run=run, epochs=[at]), run, "stored neurons", epochs=(at,))
        fluctuation = self.fluctuation(run)
        return (
            strengths.assign(group=group, run=run),
            fluctuation[fluctuation["epoch"] == at].assign(group=group, run=run),
        )

    # -- checks behind the error messages --------------------------------------------------
    def _found(self, frame: pd.DataFrame, run: str, what: str, epochs: Iterable[int] = ()) -> pd.DataFrame:
        """``frame`` if it has rows, else QueryError saying why: no such run, no such epoch, or no ``what``."""
        if not frame.empty:
            return frame
        _checked_epochs(run, list(epochs), _some_epochs(run, self._complete_epochs(run)))
        raise QueryError(f"run {run!r} has no {what}")

    def complete_epochs(self, run: str, wanted: Iterable[int] | None = None) -> list[int]:
        """The complete epochs of ``run``, or ``wanted`` once each is checked to be one of them.

        Raises QueryError for an unknown run, a run with no complete epoch, or a wanted epoch
        that is not recorded and complete.

        Example:
            graph.complete_epochs("mlp-1", [0, 19])
            [0, 19]
        """
        complete = _some_epochs(run, self._complete_epochs(run))
        return complete if wanted is None else _checked_epochs(run, [int(epoch) for epoch in wanted], complete)

    def _complete_epochs(self, run: str) -> list[int]:
        return [int(epoch) for epoch in self.epochs(run)["epoch"]]

    def check_subjects(self, **params: Any) -> None:
        """Raise QueryError naming what query parameters ask for but the store does not hold: the
        ``run``, its complete epochs (``epoch``, ``start``, ``end``), node layers (``layer``,
        ``src_layer``, ``dst_layer``) and units of a named layer (``unit``, ``src_unit``, ``dst_unit``).
        A query about something that is not recorded then says so, instead of returning no rows.

        Example:
            graph.check_subjects(run="mlp-1", epoch=99)
            QueryError: run 'mlp-1' has no complete epoch 99; its complete epochs are 0..19
        """
        run = params.get("run")
        if run is None:
            return
        self._require_run(run)
        wanted = [params[key] for key in ("epoch", "start", "end") if isinstance(params.get(key), int)]
        if wanted:
            self.complete_epochs(run, wanted)
        layers = self.layers(run)
        sizes = dict(zip(layers["layer"].tolist(), layers["size"].tolist(), strict=True))
        for layer_key, unit_key in (("layer", "unit"), ("src_layer", "src_unit"), ("dst_layer", "dst_unit")):
            layer = params.get(layer_key)
            if not isinstance(layer, int):
                continue
            if layer not in sizes:
                raise QueryError(f"run {run!r} has no node layer {layer} (${layer_key}); its node layers are 0..{max(sizes)}")
            unit = params.get(unit_key)
            if isinstance(unit, int) and not 0 <= unit < sizes[layer]:
                raise QueryError(
                    f"node layer {layer} of run {run!r} has no unit {unit} (${unit_key}); its units are 0..{sizes[layer] - 1}"
                )

    def _require_run(self, run: str) -> None:
        if not self.query("read/run", name=run).empty:
            return
        known = self.runs()["run"].tolist()
        shown = ", ".join(map(repr, known[:_SHOWN_RUNS]))
        more = f" and {len(known) - _SHOWN_RUNS} more" if len(known) > _SHOWN_RUNS else ""
        have = f"known runs: {shown}{more}" if known else "it holds no runs yet"
        raise QueryError(f"no run named {run!r} in Neo4j ({self.source}); {have}. `cntgraph runs` lists them.")



def _backtrack(end: Neuron, start: int, steps: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """The best path to neuron ``end`` found by the steps of :meth:`Graph.strongest_path` (each
    indexed by unit, with ``score``, ``via_layer``, ``via_unit``, ``w``), input first."""
    layer, unit = end
    rows = []
    while layer > 0:
        best = steps[layer].loc[unit]
        rows.append({"layer": layer, "unit": unit, "w": float(best["w"]), "score": float(best["score"])})
        layer, unit = int(best["via_layer"]), int(best["via_unit"])
    rows.append({"layer": 0, "unit": start, "w": np.nan, "score": 1.0})
    return pd.DataFrame(rows[::-1])


def _some_epochs(run: str, complete: list[int]) -> list[int]:
    if not complete:
        raise QueryError(f"run {run!r} has no complete epoch yet")
    return complete


def _checked_epochs(run: str, wanted: list[int], complete: list[int]) -> list[int]:
    """``wanted`` once each is one of the ``complete`` epochs of ``run``."""
    missing = [epoch for epoch in wanted if epoch not in complete]
    if missing:
        raise QueryError(
            f"run {run!r} has no complete epoch {', '.join(map(str, missing))}; its complete epochs are "
            f"{_listed(complete)} (`cntgraph query query/epochs --param run=...` lists them)"
        )
    return wanted




def _listed(epochs: list[int]) -> str:
    """``0..99`` for a contiguous run of epochs, else the first few; ``none`` when empty."""
    if not epochs:
        return "none"
    if epochs == list(range(epochs[0], epochs[-1] + 1)):
        return f"{epochs[0]}..{epochs[-1]}"
    return ", ".join(map(str, epochs[:8])) + (", ..." if len(epochs) > 8 else "")

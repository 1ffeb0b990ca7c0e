"""Write ``EpochRecords`` to Neo4j: batched ``UNWIND`` over columnar parameters, completion last.

An epoch is written as: open it (``complete = false``), clear whatever an earlier write of it left,
create its neuron states (with the weights of their stored incoming links as ``w_in`` arrays) and
layer states, then mark it complete. Readers only see complete
epochs, so a failure half-way leaves nothing visible, and writing the epoch again replaces it.
Needs the driver, never torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from tqdm import tqdm

from cntgraph.errors import RecorderError
from cntgraph.records.epoch import EpochRecords, LinkBlock  # noqa: F401 - LinkBlock: the examples
from cntgraph.store.runner import Neo4jRunner

__all__ = ["DEFAULT_BATCH", "Writer", "delete_incomplete_epochs", "delete_run", "epoch_statements", "neuron_statements", "transactions"]

#: link weights per transaction (measured in bench/bench_writer.py)
DEFAULT_BATCH = 100_000
_PROGRESS_FROM = 200_000  # show a progress bar for epochs (and LINK summaries) of at least this many links


class Writer:
    """Writes the epochs of runs through one :class:`~cntgraph.store.runner.Neo4jRunner`.

    Example:
        Writer(graph.runner).write(records)
        65536
    """

    def __init__(
        self, runner: Neo4jRunner, *, batch_size: int = DEFAULT_BATCH, progress: bool = True, created: Iterable[int] = ()
    ) -> None:
        self.runner = runner
        self.batch_size = batch_size
        self.progress = progress
        #: ids of runs whose layout is stored (``created``: known to be, by another writer): not written again
        self._runs_created: set[int] = set(created)
        self._runs_linked: set[int] = set()

    def write(self, records: EpochRecords) -> int:
        """Write (or rewrite) one epoch; return the number of links stored for it.

        Raises RecorderError when the run is not in Neo4j as these records know it (deleted or
        recreated meanwhile), or when another writer changed the epoch while it was written.
        """
        self.runner.ensure_schema()
        self._ensure_run(records)
        rid, epoch = records.rid, records.epoch
        begun = self.runner.run("write/epoch_begin", rid=rid, epoch=epoch, props=records.epoch_props)
        if not begun:
            raise RecorderError(
                f"run {records.run!r} (id {rid}) is no longer in Neo4j: it was deleted while epoch {epoch} was "
                "being written. Nothing of this epoch was stored."
            )
        if begun[0]["existed"]:
            self.runner.run("write/epoch_clear_states", rid=rid, epoch=epoch)
        total = records.link_count
        with self._bar(total, f"{records.run} epoch {records.epoch}") as bar:
            for group in transactions(epoch_statements(records, self.batch_size), self.batch_size):
                results = self.runner.run_many(group)
                for (name, params), rows in zip(group, results, strict=True):
                    if name == "write/neuron_states":
                        self._check_states(records, params, rows[0]["states"])
                        bar.update(_links_of(params))
                    elif name == "write/epoch_complete" and not rows:
                        raise RecorderError(
                            f"run {records.run!r} epoch {epoch}: another writer cleared or deleted this epoch while it "
                            "was being written, so it was not marked complete. Record one run from one process at a time."
                        )
        return total

    def _bar(self, links: int, what: str) -> tqdm:
        """A progress bar over ``links`` links, shown (and cleared when done) where they are many."""
        return tqdm(total=links, desc=what, unit=" links", unit_scale=True, leave=False,
                    disable=not self.progress or links < _PROGRESS_FROM)  # fmt: skip

    @staticmethod
    def _check_states(records: EpochRecords, params: dict[str, Any], stored: int) -> None:
        if stored != len(params["unit"]):
            raise RecorderError(
                f"run {records.run!r} epoch {records.epoch}: Neo4j stored {stored} of {len(params['unit'])} "
                f"neuron states of node layer {params['layer']}; some sampled neurons are missing from the store."
            )

    def create_run(self, records: EpochRecords) -> bool:
        """Create the run of ``records`` with its layout (Layer and sampled Neuron nodes); whether it
        is now stored under their id. Idempotent. Its ``LINK`` relationships come with its first
        epoch (:meth:`write`), so that a recorder creating a run does not wait for them.

        False when another run of that name holds another id: it was created first (by another
        recorder, or again after these records were made); nothing is written then. The layout is
        marked written last, so a recorder resuming the run waits for all of it.
        """
        if records.rid in self._runs_created:
            return True
        stored = self.runner.run("write/run", name=records.run, rid=records.rid, props=records.run_props)[0]
        if stored["rid"] != records.rid:
            return False
        self.runner.run("write/layers", rid=records.rid, layers=records.layers)
        for name, params in neuron_statements(records, self.batch_size):
            self.runner.run(name, **params)
        self.runner.run("write/run_layout_written", rid=records.rid)
        self._runs_created.add(records.rid)
        return True

    def link(self, rid: int) -> None:
        """Write the run's missing ``LINK`` relationships (all of a new run; those a run stored before
        they existed lacks): once per run and writer."""
        if rid not in self._runs_linked:
            self.runner.run_autocommit("write/links", rid=rid)
            self._runs_linked.add(rid)

    def summarise(self, rid: int, run: str | None = None) -> None:
        """Set the summaries of the run's ``LINK`` relationships (first, last, delta, min, max and the
        epochs they cover) from its complete epochs: at a recorder's close, and after a replay.

        A node layer at a time, with a progress bar (named after ``run``) where they are many: on a
        large run this takes a while, as it reads every epoch's weights.
        """
        layers = self.runner.run("write/linked_layers", rid=rid)
        total = sum(int(row["links"]) for row in layers)
        with self._bar(total, f"{run or f'run {rid}'}: LINK summaries") as bar:
            for row in layers:
                self.runner.run_autocommit("write/link_summaries", rid=rid, layer=row["layer"])
                bar.update(int(row["links"]))

    def _ensure_run(self, records: EpochRecords) -> None:
        """Run, Layer and sampled Neuron nodes, and LINKs: written once per run and writer (idempotent)."""
        if self.create_run(records):
            self.link(records.rid)
        else:
            raise RecorderError(
                f"run {records.run!r} epoch {records.epoch}: a different run of that name is in Neo4j now (it was "
                "deleted and recorded again since this epoch was captured), so the epoch was not written. Keep both by "
                f"writing it as a run of its own: `cntgraph replay --as-run NEW_NAME FILE`; or drop the newer run: "
                f"`cntgraph delete {records.run}`, then `cntgraph replay`."
            )


Statement = tuple[str, dict[str, Any]]


def neuron_statements(records: EpochRecords, batch_size: int) -> Iterator[Statement]:
    """The ``write/neurons`` statements of a run's layout: each node layer's stored neurons with the
    source layers and units of their stored links, in slices of at most ``batch_size`` source units (at least
    one neuron each), so that no transaction holds a whole large layer.

    Example:
        >>> from cntgraph.records.epoch import EpochRecords, NeuronBlock
        >>> units = [NeuronBlock(layer, np.array([0, 1]), *np.zeros((4, 2))) for layer in (0, 1)]
        >>> block = LinkBlock(1, np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1]), np.zeros(4))
        >>> records = EpochRecords("run", 7, 0, {}, {}, [], units, [block], [])
        >>> [(p["layer"], p["units"], p["in_layers"], p["in_units"]) for _, p in neuron_statements(records, batch_size=2)]
        [(0, [0, 1], [None, None], [None, None]), (1, [0], [[0, 0]], [[0, 1]]), (1, [1], [[0, 0]], [[0, 1]])]
    """
    for block, incoming in zip(records.neurons, incoming_links(records), strict=True):
        counts = [0 if links is None else links[1].size for links in incoming]
        for part in _slices(counts, batch_size):
            yield "write/neurons", {
                "rid": records.rid,
                "layer": block.layer,
                "units": block.unit[part].tolist(),
                "in_layers": [None if links is None else links[0].tolist() for links in incoming[part]],
                "in_units": [None if links is None else links[1].tolist() for links in incoming[part]],
            }


def epoch_statements(records: EpochRecords, batch_size: int) -> Iterator[Statement]:
    """The write statements of one epoch after ``write/epoch_begin``, completion marker last.

    Neuron states go per node layer in slices of at most ``batch_size`` link weights (and at
    least one neuron each).

    Example:
        >>> from cntgraph.records.epoch import EpochRecords, NeuronBlock
        >>> units = [NeuronBlock(layer, np.array([0, 1]), *np.zeros((4, 2))) for layer in (0, 1)]
        >>> block = LinkBlock(1, np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1]), np.array([0.5, -0.5, 0.25, 0.0]))
        >>> records = EpochRecords("run", 7, 0, {}, {}, [], units, [block], [])
        >>> [(name, params.get("w_in")) for name, params in epoch_statements(records, batch_size=2)][:3]
        [('write/neuron_states', [None, None]), ('write/neuron_states', [[0.5, -0.5]]), ('write/neuron_states', [[0.25, 0.0]])]
    """
    rid, epoch = records.rid, records.epoch
    for neurons, incoming in zip(records.neurons, incoming_links(records), strict=True):
        link_counts = [0 if links is None else links[2].size for links in incoming]
        for part in _slices(link_counts, batch_size):
            yield "write/neuron_states", {
                "rid": rid,
                "epoch": epoch,
                "layer": neurons.layer,
                "unit": neurons.unit[part].tolist(),
                "s_in": neurons.s_in[part].tolist(),
                "s_out": neurons.s_out[part].tolist(),
                "s": neurons.s[part].tolist(),
                "bias": [None if np.isnan(b) else b for b in neurons.bias[part].tolist()],
                "w_in": [None if links is None else links[2].tolist() for links in incoming[part]],
                "w_in_sum": [None if links is None else float(links[2].sum()) for links in incoming[part]],
            }
    yield "write/layer_states", {"rid": rid, "epoch": epoch, "states": records.layer_states}
    states = sum(block.unit.size for block in records.neurons)
    yield "write/epoch_complete", {"rid": rid, "epoch": epoch, "links": records.link_count, "neuron_states": states}


InLinks = tuple[np.ndarray, np.ndarray, np.ndarray] | None  # (source layers, source units, weights) of one neuron's stored links


def incoming_links(records: EpochRecords) -> list[list[InLinks]]:
    """Per node layer and stored neuron, the source layers, source units and weights of its stored
    incoming links, in the order of the records' link blocks (so fixed for a run).

    None for neurons without any (the input layer; a Conv2d unit none of whose sources is stored).

    Example:
        >>> from cntgraph.records.epoch import EpochRecords, NeuronBlock
        >>> units = [NeuronBlock(layer, np.array([0, 1]), *np.zeros((4, 2))) for layer in (0, 1)]
        >>> block = LinkBlock(1, np.array([1]), np.array([1]), np.array([0.5]))
        >>> incoming = incoming_links(EpochRecords("run", 7, 0, {}, {}, [], units, [block], []))
        >>> incoming[0], incoming[1][0], [a.tolist() for a in incoming[1][1]]
        ([None, None], None, [[0], [1], [0.5]])
    """
    by_layer: dict[int, list[LinkBlock]] = {}
    for block in records.links:
        by_layer.setdefault(block.layer, []).append(block)
    result: list[list[InLinks]] = []
    for neurons in records.neurons:
        blocks = by_layer.get(neurons.layer)
        if not blocks:
            result.append([None] * neurons.unit.size)
            continue
        dst, src_layer, src, w = (np.concatenate([getattr(b, name) for b in blocks]) for name in ("dst", "src_layer", "src", "w"))
        order = np.argsort(dst, kind="stable")  # each block is dst-major already: this keeps block order per neuron
        dst, src_layer, src, w = dst[order], src_layer[order], src[order], w[order]
        bounds = np.searchsorted(dst, np.stack([neurons.unit, neurons.unit + 1]))
        result.append([(src_layer[a:b], src[a:b], w[a:b]) if b > a else None for a, b in bounds.T])
    return result


def _slices(link_counts: list[int], batch_size: int) -> Iterator[slice]:
    """Consecutive slices of neurons holding at most ``batch_size`` links (and units) each, at least one neuron.

    Example:
        >>> [(s.start, s.stop) for s in _slices([3, 3, 0, 5], batch_size=4)]
        [(0, 1), (1, 3), (3, 4)]
    """
    start, rows = 0, 0
    for index, count in enumerate(link_counts):
        size = max(count, 1)
        if index > start and rows + size > batch_size:
            yield slice(start, index)
            start, rows = index, 0
        rows += size
    if start < len(link_counts):
        yield slice(start, len(link_counts))


def transactions(statements: Iterable[Statement], batch_size: int) -> Iterator[list[Statement]]:
    """Group statements, in order, into transactions of about ``batch_size`` rows each.

    A small epoch is one transaction; a large one is a transaction per batch of links, and its
    states and completion marker share the last. Fewer commits: each costs a log flush.

    Example:
        >>> statements = [("write/neuron_states", {"unit": [1], "w_in": [[0.5] * 3]}), ("write/neuron_states", {"unit": [2], "w_in": [[0.5] * 3]}), ("write/epoch_complete", {})]
        >>> [[_rows_of(s[1]) for s in group] for group in transactions(statements, batch_size=4)]
        [[3], [3, 1]]
    """
    group: list[Statement] = []
    rows = 0
    for statement in statements:
        size = _rows_of(statement[1])
        if group and rows + size > batch_size:
            yield group
            group, rows = [], 0
        group.append(statement)
        rows += size
    if group:
        yield group


def _rows_of(params: dict[str, Any]) -> int:
    """How many rows a write statement holds: its link weights, else the length of its per-row list, else 1."""
    for key in ("unit", "states"):
        if key in params:
            return max(1, _links_of(params), len(params[key]))
    return 1


def _links_of(params: dict[str, Any]) -> int:
    """The link weights in ``write/neuron_states`` parameters (0 for other statements)."""
    return sum(len(w) for w in params.get("w_in", ()) if w is not None)


def delete_run(runner: Neo4jRunner, rid: int) -> None:
    """Delete everything stored for the run with id ``rid``, in batches: relationships, then nodes.

    Example:
        delete_run(cntgraph.connect().runner, rid=42)
    """
    runner.run_autocommit("write/delete_run_relationships", rid=rid)
    runner.run_autocommit("write/delete_run_nodes", rid=rid)


def delete_incomplete_epochs(runner: Neo4jRunner, rid: int) -> list[int]:
    """Delete the run's incomplete epochs (left by a writer killed half-way) with their states; return their numbers.

    Example:
        delete_incomplete_epochs(cntgraph.connect().runner, rid=42)
        [7]
    """
    return sorted(runner.run("write/delete_incomplete_epochs", rid=rid)[0]["epochs"])

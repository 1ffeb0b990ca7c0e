"""``Recorder``: capture a sampled neuron graph of every epoch of a training run into Neo4j.

The training thread only copies the weights (a snapshot); a background thread computes the
metrics and writes. Training waits on the database only when the bounded queue is full. When
Neo4j is unreachable or a write fails, the epoch is spooled to disk (with a warning saying where)
and written later: by the recorder once Neo4j answers again, on ``close()``, or by
``cntgraph replay``.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from torch import nn

from cntgraph.checks import whole_number
from cntgraph.core.network import Snapshot, Topology
from cntgraph.core.sampling import Sampler, Uniform
from cntgraph.errors import CntgraphError, ConfigurationError, RecorderError
from cntgraph.model.snapshot import (
    LayerCopy,
    copy_parameters,
    snapshot_of,
    take_snapshot,
)
from cntgraph.model.tracing import trace
from cntgraph.recording.replay import replay_file
from cntgraph.records.build import RunLayout, build_records, layout, new_layout
from cntgraph.records.epoch import EpochRecords
from cntgraph.records.spool import save, spool_folder
from cntgraph.server.connect import connect
from cntgraph.store.graph import Graph
from cntgraph.store.writer import DEFAULT_BATCH, Writer, delete_run

IfExists = Literal["error", "resume", "overwrite"]
_STOP = None
#: the sample when none is given: every unit of a layer of up to 1,024 units, 1,024 drawn uniformly
#: of a larger one, so that no default stores a whole large layer (two 4096-unit layers would be
#: 16.8 million links an epoch)
DEFAULT_SAMPLE = Uniform(1024)


class Recorder:
    """Records epochs of ``model`` as run ``run`` (a context manager).

    ``sample`` chooses the stored neurons of each node layer (``per_layer`` overrides it by layer
    index or name; default :data:`DEFAULT_SAMPLE`, ``Full()`` stores every unit); it is drawn
    once, at the first capture, and kept. ``every`` records only epochs
    that are multiples of it. A run name already in the store is an error unless ``if_exists`` is
    ``"resume"`` (continue it with its sample) or ``"overwrite"`` (delete it first). Up to
    ``queue_size`` captured epochs wait for the background writer (default: as many copies of the
    weights as fit in 1 GiB, at least 2); training waits only when the queue is full. Nothing
    touches the database before the first :meth:`capture`. ``fold_batchnorm=False`` keeps every
    BatchNorm as a node layer of its own (see :func:`cntgraph.model.tracing.trace`).

    Example:
        with cntgraph.Recorder(model, "mlp-1", input_shape=(784,), sample=cntgraph.Uniform(256)) as rec:
            for epoch in range(20):
                train_one_epoch(model)
                rec.capture(epoch, loss=loss, accuracy=accuracy)
    """

    def __init__(
        self,
        model: nn.Module,
        run: str,
        input_shape: Sequence[int],
        graph: Graph | None = None,
        sample: Sampler | None = None,
        every: int = 1,
        *,
        per_layer: Mapping[int | str, Sampler] | None = None,
        if_exists: IfExists = "error",
        bins: int = 64,
        queue_size: int | None = None,
        batch_size: int = DEFAULT_BATCH,
        spool_dir: Path | None = None,
        retry_after: float = 5.0,
        progress: bool = True,
        fold_batchnorm: bool = True,
    ) -> None:
        if not isinstance(run, str) or not run.strip():
            raise ConfigurationError(f"run must be a non-empty name, got {run!r}")
        if if_exists not in ("error", "resume", "overwrite"):
            raise ConfigurationError(f"if_exists must be 'error', 'resume' or 'overwrite', got {if_exists!r}")
        whole_number("every", every)
        if queue_size is not None:
            whole_number("queue_size", queue_size, hint="or None (by memory)")
        self.model = model
        self.run = run
        self.input_shape = tuple(input_shape)
        self.sample = sample if sample is not None else DEFAULT_SAMPLE
        self.per_layer = dict(per_layer or {})
        self.every = every
        self.if_exists = if_exists
        self.bins = bins
        self.spool_dir = spool_dir if spool_dir is not None else spool_folder()
        self.retry_after = retry_after
        self.progress = progress
        self._graph = graph
        self._owns_graph = graph is None
        self._batch_size = batch_size
        self._queue_size = queue_size
        self._queue: queue.Queue[tuple[int, dict[str, Any], tuple[LayerCopy | None, ...]] | None] = queue.Queue()  # sized at start
        # an unreadable model is refused here, not later
        self._topology: Topology = trace(model, self.input_shape, fold_batchnorm)
        self._layout: RunLayout | None = None
        self._writer: Writer | None = None
        self._thread: threading.Thread | None = None
        self._last_epoch: int | None = None
        self._errors: list[BaseException] = []
        self._spooled: list[Path] = []
        self._offline_until = 0.0
        self.epochs_written: list[int] = []

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.close()

    # -- the training thread ---------------------------------------------------------------
    def capture(self, epoch: int, **props: Any) -> None:
        """Record ``epoch`` (props such as ``loss=`` and ``accuracy=`` go on the epoch).

        Capturing an epoch again replaces it; epochs may not go back in time. While training waits,
        ``capture()`` only clones the tensors the links are made of (as cheap as cloning them); the
        writer thread makes the float64 snapshot and the records. An error there (a NaN weight, for
        example) is raised by the next ``capture()``, ``flush()`` or ``close()``.
        """
        self._raise_background_error()
        if epoch % self.every:
            return
        topology = self._start_once()
        if self._last_epoch is not None and epoch < self._last_epoch:
            raise RecorderError(
                f"run {self.run!r}: epoch {epoch} captured after epoch {self._last_epoch}; epochs must "
                "not go back (capturing the same epoch again replaces it)."
            )
        copies = copy_parameters(self.model, topology)  # the float64 snapshot is made by the writer thread
        self._last_epoch = epoch
        self._queue.put((epoch, _checked_props(props), copies))

    def flush(self) -> None:
        """Wait until every captured epoch is written (or spooled); raise any error of the writer."""
        if self._thread is not None:
            self._queue.join()
        self._raise_background_error()

    def close(self) -> None:
        """Write what is queued, retry spooled epochs, and raise any error of the writer.

        Raises RecorderError naming the spool files of epochs that could not be written.
        """
        try:
            if self._thread is not None:
                self._queue.put(_STOP)
                self._thread.join()
                self._thread = None
                self._retry_spooled(force=True)
        finally:
            if self._owns_graph and self._graph is not None:
                self._graph.close()
                self._graph = None
        self._raise_background_error()
        if self._spooled:
            raise RecorderError(
                f"run {self.run!r}: {len(self._spooled)} epoch(s) could not be written to Neo4j and are "
                f"spooled in {self.spool_dir}: {', '.join(p.name for p in self._spooled)}. "
                "Write them later with `cntgraph replay`."
            )

    # -- start-up (first capture) ----------------------------------------------------------
    def _start_once(self) -> Topology:
        """At the first capture: connect, settle the run, start the writer thread."""
        topology = self._topology
        if self._writer is not None:
            return topology
        graph = self._connected()
        graph.runner.ensure_schema()
        first = take_snapshot(self.model, topology)
        self._layout = self._resolve_run(graph, first)
        self._queue = queue.Queue(maxsize=self._queue_size or queue_size_for(first))
        self._writer = Writer(graph.runner, batch_size=self._batch_size, progress=self.progress)
        self._thread = threading.Thread(target=self._work, name=f"cntgraph-recorder-{self.run}", daemon=True)
        self._thread.start()
        return topology

    def _connected(self) -> Graph:
        if self._graph is None:
            self._graph = connect()
        return self._graph

    def _resolve_run(self, graph: Graph, snapshot: Snapshot) -> RunLayout:
        existing = graph.query("read/run", name=self.run)
        if existing.empty:
            return self._new_layout(snapshot)
        rid = int(existing["rid"][0])
        if self.if_exists == "error":
            raise RecorderError(
                f"run {self.run!r} already exists ({int(existing['epochs'][0])} complete epochs). Choose another "
                "name, or pass if_exists='resume' to continue it or if_exists='overwrite' to replace it."
            )
        if self.if_exists == "overwrite":
            delete_run(graph.runner, rid)
            return self._new_layout(snapshot)
        last = existing["last_epoch"][0]
        self._last_epoch = None if last is None else int(last)
        return _stored_layout(graph, self.run, rid, snapshot)

    def _new_layout(self, snapshot: Snapshot) -> RunLayout:
        props = {
            "model": type(self.model).__name__,
            "input_shape": list(self.input_shape),
            "sample": repr(self.sample),
            "every": self.every,
        }
        return new_layout(self.run, secrets.randbits(62), snapshot, self.sample, self.per_layer, self.bins, props)

    # -- the background thread -------------------------------------------------------------
    def _work(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            try:
                self._handle(*item)
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def _handle(self, epoch: int, props: dict[str, Any], copies: tuple[LayerCopy | None, ...]) -> None:
        assert self._layout is not None
        try:
            records = build_records(self._layout, snapshot_of(self._topology, copies), epoch, props)
        except BaseException as error:  # noqa: BLE001 - re-raised on the training thread
            self._errors.append(error)
            return
        self._retry_spooled()
        self._deliver(records)

    def _deliver(self, records: EpochRecords) -> None:
        if time.monotonic() < self._offline_until:
            self._spool(records, reason="Neo4j was unreachable moments ago")
            return
        assert self._writer is not None
        try:
            self._writer.write(records)
        except Exception as error:  # noqa: BLE001 - any failed write is spooled, never lost
            self._offline_until = time.monotonic() + self.retry_after
            self._spool(records, reason=str(error))
        else:
            self.epochs_written.append(records.epoch)

    def _spool(self, records: EpochRecords, reason: str) -> None:
        path = save(records, self.spool_dir)
        self._spooled.append(path)
        warnings.warn(
            f"cntgraph: epoch {records.epoch} of run {records.run!r} was not written to Neo4j ({reason}); "
            f"spooled to {path}. It is retried automatically; `cntgraph replay` writes it later.",
            RuntimeWarning,
            stacklevel=2,
        )

    def _retry_spooled(self, force: bool = False) -> None:
        """Write spooled epochs, oldest first, once Neo4j may answer again."""
        assert self._writer is not None
        while self._spooled and (force or time.monotonic() >= self._offline_until):
            path = self._spooled[0]
            try:
                _, epoch = replay_file(self._writer, path)
            except Exception:  # noqa: BLE001 - still unreachable: keep the file, try later
                self._offline_until = time.monotonic() + self.retry_after
                return
            self._spooled.pop(0)
            self.epochs_written.append(epoch)

    def _raise_background_error(self) -> None:
        if self._errors:
            error = self._errors.pop(0)
            if isinstance(error, CntgraphError):
                raise error
            raise RecorderError(f"run {self.run!r}: the recorder's background thread failed: {error!r}") from error


#: weight copies the queue may hold by default, in bytes
QUEUE_MEMORY = 1 << 30


def queue_size_for(snapshot: Snapshot, memory: int = QUEUE_MEMORY) -> int:
    """How many epochs the queue holds by default: as many copies of the weights as fit in ``memory``, at least 2.

    A deep queue lets training run ahead of a slow database (the server runs at low priority and
    catches up), so training waits only when ``memory`` is used up.

    Example:
        >>> from cntgraph.model.tracing import trace
        >>> model = nn.Linear(1000, 1000)  # 1,001,000 parameters, copied as float64: about 8 MB
        >>> queue_size_for(take_snapshot(model, trace(model, (1000,))), memory=64 << 20)
        8
    """
    size = sum(w.nbytes for w in snapshot.weights) + sum(b.nbytes for b in snapshot.biases if b is not None)
    return max(2, memory // max(size, 1))


def _stored_layout(graph: Graph, run: str, rid: int, snapshot: Snapshot) -> RunLayout:
    """The layout of a run being resumed: its stored sample and histogram edges."""
    stored = graph.query("read/samples", rid=rid)
    nodes = snapshot.topology.node_layers
    if len(stored) != len(nodes) or any(int(stored["layer"][i]) != node.index for i, node in enumerate(nodes)):
        raise RecorderError(
            f"run {run!r} was recorded with {len(stored)} node layers and this model has {len(nodes)}; "
            "resume it with the same model, or record a new run."
        )
    samples = [np.asarray(units, dtype=np.int64) for units in stored["units"]]
    for node, units in zip(nodes, samples, strict=True):
        if units.size and units.max() >= node.size:
            raise RecorderError(f"run {run!r}: stored units of layer {node.index} do not fit this model's {node.size} units")
    strength_edges = [np.asarray(edges, dtype=np.float64) for edges in stored["s_edges"]]
    weight_edges = [None if edges is None else np.asarray(edges, dtype=np.float64) for edges in stored["w_edges"]]
    resumed = layout(run, rid, snapshot.topology, samples, strength_edges, weight_edges, {})
    recorded = graph.query("query/layers", run=run)
    for was, now in zip(recorded.to_dict("records"), resumed.layers, strict=True):
        what = {key: (was[key], now[key]) for key in ("name", "kind", "size", "inputs") if _plain(was[key]) != _plain(now[key])}
        if what:
            raise RecorderError(
                f"run {run!r} was recorded with another model: node layer {now['index']} differs in "
                + ", ".join(f"{key} (recorded {a!r}, this model {b!r})" for key, (a, b) in what.items())
                + "; resume it with the same model, or record a new run."
            )
    return resumed


def _plain(value: Any) -> Any:
    """A stored property as Python compares it: lists (from Neo4j, numpy or tuples) as lists of ints."""
    return [int(v) for v in value] if isinstance(value, (list, tuple, np.ndarray)) else value


RESERVED_PROPS = frozenset({"rid", "epoch", "run", "complete", "captured_at", "completed_at", "links"})


def _checked_props(props: dict[str, Any]) -> dict[str, Any]:
    """Epoch properties as Neo4j can store them: numbers, strings and booleans (tensors unwrapped)."""
    checked = {}
    for key, value in props.items():
        if key in RESERVED_PROPS:
            raise ConfigurationError(f"epoch property {key!r} is reserved by cntgraph; rename it (e.g. 'my_{key}')")
        if hasattr(value, "item") and callable(value.item):
            value = value.item()
        if not isinstance(value, (int, float, str, bool)):
            raise ConfigurationError(
                f"epoch property {key}={value!r} is a {type(value).__name__}; use a number, string or boolean"
            )
        checked[key] = value
    return checked

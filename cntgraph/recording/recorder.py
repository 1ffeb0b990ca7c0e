"""``Recorder``: capture a sampled neuron graph of every epoch of a training run into Neo4j.

The training thread only copies the weights; a writer process of its own (at low CPU priority)
makes the float64 snapshot, computes the metrics and writes, fed by a background thread. Training
waits on the database only when the bounded queue is full. When
Neo4j is unreachable or a write fails, the epoch is spooled to disk (with a warning saying where)
and written later: by the recorder once Neo4j answers again, on ``close()``, or by
``cntgraph replay``. What is promised, and how it is tested: docs/RELIABILITY.md.
"""

from __future__ import annotations

import atexit
import dataclasses
import operator
import queue
import secrets
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from cntgraph.checks import whole_number
from cntgraph.core.activations import activation_summaries
from cntgraph.core.network import Snapshot, Topology
from cntgraph.core.null_models import checked_draws
from cntgraph.core.sampling import Sampler, Uniform
from cntgraph.errors import (
    CntgraphError,
    ConfigurationError,
    ConnectionError,
    RecorderError,
)
from cntgraph.model.snapshot import (
    LayerCopy,
    copy_parameters,
    snapshot_of,
    take_snapshot,
)
from cntgraph.model.tracing import trace, trace_values
from cntgraph.recording.replay import REFUSED, replay_file, set_aside
from cntgraph.recording.worker import RecordsWorker, WorkerGone
from cntgraph.records.build import (
    LayerProps,
    RunLayout,
    build_records,
    layout,
    new_layout,
)
from cntgraph.records.epoch import EpochRecords
from cntgraph.records.spool import save, spool_folder
from cntgraph.server.connect import connect
from cntgraph.server.managed import background_nice
from cntgraph.store.graph import Graph
from cntgraph.store.writer import (
    DEFAULT_BATCH,
    Writer,
    delete_incomplete_epochs,
    delete_run,
)

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
    touches the database before the first :meth:`capture` (or :meth:`start`). ``fold_batchnorm=False`` keeps every
    BatchNorm as a node layer of its own (see :func:`cntgraph.model.tracing.trace`).

    The records are built and written by a process of its own at the priority of ``CNTGRAPH_NICE``
    (default 19, the lowest), so that training keeps its cores; on a machine whose cores training
    keeps busy, epochs reach Neo4j when training leaves CPU time, at the latest at :meth:`close`.
    ``writer_process=False`` (also used for a ``Graph`` made from a caller's own driver, which
    another process cannot open) writes from a thread of the training process instead.

    Every epoch's layer states hold the fluctuation the weights' sizes alone predict
    (``fluctuation_iid``); ``null_draws`` (0, or at least 2) also stores a weight-shuffled null of
    that many networks per epoch (``fluctuation_null_mean``, ``_null_std``, ``fluctuation_z``;
    see :func:`cntgraph.core.null_models.null_model`), at the cost of as many strength computations.
    Given ``data`` (a batch of inputs, e.g. 256 training samples), every capture also runs it through
    the model (eval mode, no gradients, in the training process) and stores, per layer, the
    distribution of the neurons' activations and input-weighted strengths on it (``activation_*``,
    ``input_strength_*``; see :mod:`cntgraph.core.activations`). ``props`` (numbers, strings,
    booleans) are stored on the Run node when the run is created, e.g. ``{"scale": 0.5, "lr": 0.01}``,
    so that ``graph.population(..., by="run.scale")`` can group runs by them.

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
        writer_process: bool = True,
        null_draws: int = 0,
        data: torch.Tensor | None = None,
        props: Mapping[str, Any] | None = None,
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
        self.null_draws = checked_draws(null_draws)
        self.props = _checked_props(dict(props or {}), "run")
        self.fold_batchnorm = fold_batchnorm
        if data is not None and (
            not isinstance(data, torch.Tensor) or len(data) == 0 or tuple(data.shape[1:]) != self.input_shape
        ):
            raise ConfigurationError(
                f"data must be a batch of inputs, a tensor of shape (samples, *{self.input_shape}), got "
                f"{tuple(data.shape) if isinstance(data, torch.Tensor) else type(data).__name__}"
            )
        self.data = data
        self.spool_dir = spool_dir if spool_dir is not None else spool_folder()
        self.retry_after = retry_after
        self.progress = progress
        self._graph = graph
        self._owns_graph = graph is None
        self._batch_size = batch_size
        self._queue_size = queue_size
        self._writer_process = writer_process
        self._nice = background_nice()  # a bad CNTGRAPH_NICE is an error now, not in the writer thread
        self._worker: RecordsWorker | None = None
        self._queue: queue.Queue[tuple[int, dict[str, Any], tuple[LayerCopy | None, ...], LayerProps] | None] = queue.Queue()  # sized at start
        # an unreadable model is refused here, not later
        self._topology: Topology = trace(model, self.input_shape, fold_batchnorm)
        self._layout: RunLayout | None = None
        self._writer: Writer | None = None
        self._thread: threading.Thread | None = None
        self._last_epoch: int | None = None
        self._errors: list[BaseException] = []
        self._waiting: list[EpochRecords | Path] = []  # not yet in Neo4j, oldest first: in memory or spooled
        self._offline_until = 0.0
        self._outage = ""
        self._unsaved: set[int] = set()  # epochs the spool could not take, already reported
        self._closed = False
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
        writer process makes the float64 snapshot and the records. An error there (a NaN weight, for
        example) is raised by the next ``capture()``, ``flush()`` or ``close()``.
        """
        if self._closed:
            raise RecorderError(
                f"run {self.run!r}: capture({epoch!r}) after close(); nothing was recorded. Record more epochs with a "
                "new Recorder and if_exists='resume'."
            )
        self._raise_background_error()
        epoch = _checked_epoch(epoch)
        if epoch % self.every:
            return
        props = _checked_props(props)
        topology = self._start_once()
        if self._last_epoch is not None and epoch < self._last_epoch:
            raise RecorderError(
                f"run {self.run!r}: epoch {epoch} captured after epoch {self._last_epoch}; epochs must "
                "not go back (capturing the same epoch again replaces it)."
            )
        copies = copy_parameters(self.model, topology)  # the float64 snapshot is made by the writer thread
        layer_props = self._activations(topology) if self.data is not None else {}
        self._last_epoch = epoch
        self._put((epoch, props, copies, layer_props))

    def start(self) -> Recorder:
        """Connect, settle the run (create it, or resume or overwrite it) and start the writer now,
        instead of at the first :meth:`capture`: a wrong server or a taken run name then fails
        before training begins. The sample is drawn from the model's weights as they are now.

        Example:
            recorder = cntgraph.Recorder(model, "mlp-1", (784,)).start()  # RecorderError now if "mlp-1" exists
        """
        if self._closed:
            raise RecorderError(f"run {self.run!r}: start() after close(); create a new Recorder with if_exists='resume'")
        self._start_once()
        return self

    def _activations(self, topology: Topology) -> LayerProps:
        """The activation summaries of ``data`` (one forward pass, in eval mode, without gradients)."""
        assert self.data is not None
        values = trace_values(self.model, self.data, self.fold_batchnorm)
        if values.topology != topology:
            raise RecorderError(f"run {self.run!r}: the model reads differently on `data` than on its input_shape {self.input_shape}")
        return activation_summaries(values.strength, values.activation)

    def _put(self, item: tuple[int, dict[str, Any], tuple[LayerCopy | None, ...], LayerProps]) -> None:
        """Queue ``item``, waiting while the queue is full, never for a writer thread that is gone."""
        while True:
            try:
                self._queue.put(item, timeout=1.0)
                return
            except queue.Full:
                if self._thread is None or not self._thread.is_alive():
                    raise RecorderError(f"run {self.run!r}: the recorder's writer thread has stopped") from None

    def flush(self) -> None:
        """Wait until every captured epoch is written (or spooled); raise any error of the writer."""
        if self._thread is not None:
            self._queue.join()
        self._raise_background_error()

    def close(self) -> None:
        """Write what is queued, retry spooled epochs, and raise any error of the writer.

        Raises RecorderError naming the spool files of epochs that could not be written. Closing
        twice is harmless; :meth:`capture` after it is an error.
        """
        self._closed = True
        atexit.unregister(self._close_at_exit)
        try:
            if self._thread is not None:
                self._put(_STOP)  # type: ignore[arg-type]
                self._thread.join()
                self._thread = None
                self._drain(closing=True)
                self._summarise()
        finally:
            if self._owns_graph and self._graph is not None:
                self._graph.close()
                self._graph = None
        self._raise_background_error()
        if self._waiting:
            raise RecorderError(
                f"run {self.run!r}: {len(self._waiting)} epoch(s) could not be written to Neo4j and are "
                f"spooled in {self.spool_dir}: {', '.join(p.name for p in self._waiting if isinstance(p, Path))}. "
                "Write them later with `cntgraph replay`."
            )

    def _summarise(self) -> None:
        """Refresh the run's LINK summaries once its epochs are written (an outage leaves them for later)."""
        if not self.epochs_written or self._writer is None or self._layout is None:
            return
        try:
            self._writer.summarise(self._layout.rid, self.run)
        except ConnectionError as error:
            warnings.warn(
                f"cntgraph: the LINK summaries of run {self.run!r} were not refreshed ({error}); "
                f"`cntgraph repair {self.run}` refreshes them.",
                RuntimeWarning,
                stacklevel=3,
            )

    def _close_at_exit(self) -> None:
        """At interpreter exit without :meth:`close`: write (or spool) what is queued, and say so."""
        waiting = self._queue.qsize() + len(self._waiting)
        warnings.warn(
            f"cntgraph: the Recorder of run {self.run!r} was not closed; writing its {waiting} waiting epoch(s) "
            "before Python exits. Use `with Recorder(...) as recorder:` or call recorder.close().",
            RuntimeWarning,
            stacklevel=1,
        )
        try:
            self.close()
        except CntgraphError as error:
            warnings.warn(f"cntgraph: {error}", RuntimeWarning, stacklevel=1)

    # -- start-up (first capture) ----------------------------------------------------------
    def _start_once(self) -> Topology:
        """At the first capture: connect, settle the run (creating it with its layout), start the writer thread."""
        topology = self._topology
        if self._writer is not None:
            return topology
        graph = self._connected()
        graph.runner.ensure_schema()
        first = take_snapshot(self.model, topology)
        writer = Writer(graph.runner, batch_size=self._batch_size, progress=self.progress)
        self._layout = dataclasses.replace(self._resolve_run(graph, writer, first), null_draws=self.null_draws)
        self._queue = queue.Queue(maxsize=self._queue_size or queue_size_for(first))
        self._writer = writer
        self._thread = threading.Thread(target=self._work, name=f"cntgraph-recorder-{self.run}", daemon=True)
        self._thread.start()
        atexit.register(self._close_at_exit)
        return topology

    def _connected(self) -> Graph:
        if self._graph is None:
            self._graph = connect()
        return self._graph

    def _resolve_run(self, graph: Graph, writer: Writer, snapshot: Snapshot) -> RunLayout:
        existing = graph.query("read/run", name=self.run)
        if not existing.empty:
            if self.if_exists == "overwrite":
                delete_run(graph.runner, int(existing["rid"][0]))
            else:
                return self._existing_run(graph, writer, existing, snapshot)
        new = self._new_layout(snapshot)
        if writer.create_run(build_records(new, snapshot, 0, {})):
            return new
        # another recorder created the run between our read and our write: nothing of ours is stored
        if self.if_exists == "resume":
            return self._existing_run(graph, writer, graph.query("read/run", name=self.run), snapshot)
        raise RecorderError(
            f"run {self.run!r} was created by another recorder at the same moment; nothing of this recorder was "
            "written. Record under another name, or pass if_exists='resume' to add epochs to that run."
        )

    def _existing_run(self, graph: Graph, writer: Writer, existing: Any, snapshot: Snapshot) -> RunLayout:
        """The layout to resume an existing run with (after checks), once its layout is written; a run
        stored before ``LINK`` relationships existed gets them."""
        if self.if_exists != "resume":
            raise RecorderError(
                f"run {self.run!r} already exists ({int(existing['epochs'][0])} complete epochs). Choose another "
                "name, or pass if_exists='resume' to continue it or if_exists='overwrite' to replace it."
            )
        existing = self._layout_written(graph, existing)
        rid = int(existing["rid"][0])
        last = existing["last_epoch"][0]
        self._last_epoch = None if last is None or pd.isna(last) else int(last)
        resumed = _stored_layout(graph, self.run, rid, snapshot)
        writer.create_run(build_records(resumed, snapshot, 0, {}))
        if int(existing["incomplete"][0]):
            dropped = delete_incomplete_epochs(graph.runner, rid)
            if dropped:
                warnings.warn(
                    f"cntgraph: run {self.run!r} had incomplete epoch(s) {dropped} (a writer stopped half-way); "
                    "they were never readable and are deleted now.",
                    RuntimeWarning,
                    stacklevel=4,
                )
        return resumed

    def _layout_written(self, graph: Graph, existing: Any) -> Any:
        """``existing`` once its layout is completely written (another recorder may be writing it)."""
        deadline = time.monotonic() + LAYOUT_WAIT
        while not bool(existing["layout_written"][0]):
            if time.monotonic() > deadline:
                raise RecorderError(
                    f"run {self.run!r} has no complete layout after {LAYOUT_WAIT:.0f} s: another recorder is creating "
                    f"it, or one was stopped while it did. Delete it (`cntgraph delete {self.run}`) and record again."
                )
            time.sleep(0.2)
            existing = graph.query("read/run", name=self.run)
        return existing

    def _new_layout(self, snapshot: Snapshot) -> RunLayout:
        props = {
            **self.props,
            "model": type(self.model).__name__,
            "input_shape": list(self.input_shape),
            "sample": repr(self.sample),
            "every": self.every,
        }
        return new_layout(self.run, secrets.randbits(62), snapshot, self.sample, self.per_layer, self.bins, props)

    # -- the background thread -------------------------------------------------------------
    def _work(self) -> None:
        self._started_worker()  # it starts up while the first epoch trains
        while (item := self._queue.get()) is not _STOP:
            try:
                self._handle(*item)
            except BaseException as error:  # noqa: BLE001 - never end the thread: raised by the next capture()/close()
                self._errors.append(error)
            finally:
                self._queue.task_done()
        if self._worker is not None:  # idle now, for the next recorder of this process
            self._worker.release()
            self._worker = None
        self._queue.task_done()

    def _handle(self, epoch: int, props: dict[str, Any], copies: tuple[LayerCopy | None, ...], layer_props: LayerProps) -> None:
        """Write a captured epoch (in the writer process when there is one), or queue its records
        behind the epochs still waiting."""
        worker = self._started_worker()
        try:
            if worker is not None and not self._waiting and time.monotonic() >= self._offline_until:
                unwritten, error = worker.write(epoch, props, copies, layer_props)
                if unwritten is None:
                    self.epochs_written.append(epoch)
                    return
                self._waiting.append(unwritten)
                self._failed(error)
            else:
                self._waiting.append(self._records(worker, epoch, props, copies, layer_props))
        except WorkerGone as gone:
            self._worker_gone(gone)
            self._waiting.append(self._records(None, epoch, props, copies, layer_props))
        self._drain()

    def _records(
        self, worker: RecordsWorker | None, epoch: int, props: dict[str, Any], copies: tuple[LayerCopy | None, ...], layer_props: LayerProps
    ) -> EpochRecords:
        assert self._layout is not None
        if worker is not None:
            return worker.build(epoch, props, copies, layer_props)
        return build_records(self._layout, snapshot_of(self._topology, copies), epoch, props, layer_props)

    def _started_worker(self) -> RecordsWorker | None:
        """The writer process, started on the first epoch (None when writing in this process)."""
        assert self._writer is not None and self._layout is not None
        target = self._writer.runner.target
        if self._worker is None and self._writer_process and target is not None:
            try:
                self._worker = RecordsWorker.acquire(
                    target, self._topology, self._layout, batch_size=self._batch_size, progress=self.progress, nice=self._nice
                )
            except Exception as error:  # noqa: BLE001 - no process here (a platform without pipes to pass): write in this one
                self._worker_gone(error)
        return self._worker

    def _worker_gone(self, error: BaseException) -> None:
        """Write in this process from now on, and say so once."""
        if self._worker is not None:
            self._worker.close()  # ends what is left of it
        self._worker = None
        self._writer_process = False
        warnings.warn(
            f"cntgraph: run {self.run!r}: the recorder's writer process is not available ({error}); its epochs are "
            "written from the training process from now on (nothing is lost; training may slow down).",
            RuntimeWarning,
            stacklevel=2,
        )

    def _drain(self, closing: bool = False) -> None:
        """Write waiting epochs, oldest first, unless Neo4j was unreachable moments ago (on close, regardless);
        keep what is left in the spool.

        An outage stops the writing (the rest waits); an epoch Neo4j refuses is set aside in the
        spool's ``refused/`` folder and its error raised by the next capture() or close(), and the
        epochs after it go on.
        """
        while self._waiting and (closing or time.monotonic() >= self._offline_until):
            try:
                written = self._write(self._waiting[0])
            except Exception as error:  # noqa: BLE001 - an outage stops the writing; a refused epoch is set aside
                if self._failed(error):
                    break
                continue
            self._waiting.pop(0)
            if written is not None:
                self.epochs_written.append(written)
        self._spool_waiting()

    def _failed(self, error: Exception) -> bool:
        """The oldest waiting epoch was not written because of ``error``. An outage (True): it waits, and
        writing stops for ``retry_after`` seconds. Anything else: Neo4j refused it, and it is set aside."""
        if isinstance(error, ConnectionError):
            self._offline_until = time.monotonic() + self.retry_after
            self._outage = str(error)
            return True
        self._refused(self._waiting.pop(0), error)
        return False

    def _write(self, item: EpochRecords | Path) -> int | None:
        """Write one waiting epoch; its number, or None when another process wrote its spool file."""
        assert self._writer is not None
        if isinstance(item, Path):
            replayed = replay_file(self._writer, item)
            return None if replayed is None else replayed[1]
        self._writer.write(item)
        return item.epoch

    def _spool_waiting(self) -> None:
        """Save the waiting epochs still in memory to the spool (each with a warning); one the spool
        cannot take stays in memory, retried, and is reported once."""
        for index, item in enumerate(self._waiting):
            if isinstance(item, Path):
                continue
            try:
                path = save(item, self.spool_dir)
            except OSError as error:
                if item.epoch not in self._unsaved:
                    self._unsaved.add(item.epoch)
                    self._errors.append(
                        RecorderError(
                            f"run {self.run!r}: epoch {item.epoch} could not be written to Neo4j ({self._outage}) nor "
                            f"spooled to {self.spool_dir} ({error}). It is kept in memory and retried; free space or "
                            "fix the folder (spool_dir=) so that it can be saved."
                        )
                    )
                continue
            self._waiting[index] = path
            self._unsaved.discard(item.epoch)
            warnings.warn(
                f"cntgraph: epoch {item.epoch} of run {item.run!r} was not written to Neo4j ({self._outage}); "
                f"spooled to {path}. It is retried automatically; `cntgraph replay` writes it later.",
                RuntimeWarning,
                stacklevel=2,
            )

    def _refused(self, item: EpochRecords | Path, error: Exception) -> None:
        """Keep an epoch that can never be written apart from the spool, and report it."""
        try:
            kept = str(set_aside(item) if isinstance(item, Path) else save(item, self.spool_dir / REFUSED))
        except OSError as saving:
            kept = f"nowhere: it could not be saved either ({saving})"
        what = f"epoch {item.epoch}" if isinstance(item, EpochRecords) else f"the epoch spooled in {item.name}"
        self._errors.append(
            RecorderError(
                f"run {self.run!r}: {what} could not be written to Neo4j ({error}); it is kept in {kept}, "
                "apart from the spool, and the epochs after it go on. Once the cause is fixed: `cntgraph replay FILE`."
            )
        )

    def _raise_background_error(self) -> None:
        if self._errors:
            error = self._errors.pop(0)
            if isinstance(error, CntgraphError):
                raise error
            raise RecorderError(f"run {self.run!r}: the recorder's background thread failed: {error!r}") from error


#: how long a recorder resuming a run waits for another recorder to finish writing its layout, in seconds
LAYOUT_WAIT = 60.0
#: the largest epoch number Neo4j stores (its integers are 64-bit)
MAX_EPOCH = 2**63 - 1

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
#: properties of the Run node that cntgraph sets itself
RESERVED_RUN_PROPS = frozenset({"rid", "name", "created_at", "layout_written", "model", "input_shape", "sample", "every"})


def _checked_epoch(epoch: Any) -> int:
    """``epoch`` as an int once it is a whole number Neo4j can store (0 to 2**63 - 1); else RecorderError naming it.

    Python, numpy and 0-d integer torch values count; booleans, floats and strings do not.

    Example:
        >>> _checked_epoch(np.int64(3))
        3
        >>> _checked_epoch(1.5)
        Traceback (most recent call last):
        ...
        cntgraph.errors.RecorderError: epoch must be a whole number from 0 to 2**63 - 1, got 1.5 (a float); nothing was recorded
    """
    try:
        number = None if isinstance(epoch, (bool, np.bool_)) else operator.index(epoch)
    except TypeError:
        number = None
    if number is None or not 0 <= number <= MAX_EPOCH:
        raise RecorderError(
            f"epoch must be a whole number from 0 to 2**63 - 1, got {epoch!r} (a {type(epoch).__name__}); nothing was recorded"
        )
    return number


def _checked_props(props: dict[str, Any], kind: str = "epoch") -> dict[str, Any]:
    """Epoch (or run) properties as Neo4j stores them: numbers, strings and booleans (0-d tensors and
    numpy scalars unwrapped); anything else is a ConfigurationError naming the property, raised
    before anything is queued.

    Example:
        >>> _checked_props({"loss": np.float32(0.5), "note": "ok"})
        {'loss': 0.5, 'note': 'ok'}
        >>> _checked_props({"big": 2**64})
        Traceback (most recent call last):
        ...
        cntgraph.errors.ConfigurationError: epoch property big=18446744073709551616 does not fit Neo4j's 64-bit integers; pass it as a float or a string
        >>> _checked_props({"model": "mine"}, "run")
        Traceback (most recent call last):
        ...
        cntgraph.errors.ConfigurationError: run property 'model' is reserved by cntgraph; rename it (e.g. 'my_model')
    """
    reserved = RESERVED_PROPS if kind == "epoch" else RESERVED_RUN_PROPS
    checked = {}
    for key, value in props.items():
        if not isinstance(key, str) or not key:
            raise ConfigurationError(f"{kind} property name {key!r} is not a non-empty string; name it (e.g. 'loss')")
        if key in reserved:
            raise ConfigurationError(f"{kind} property {key!r} is reserved by cntgraph; rename it (e.g. 'my_{key}')")
        _encodable(f"{kind} property name {key!r}", key)
        if hasattr(value, "item") and callable(value.item):
            value = value.item()
        if not isinstance(value, (int, float, str, bool)):
            raise ConfigurationError(
                f"{kind} property {key}={value!r} is a {type(value).__name__}; use a number, string or boolean"
            )
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value <= MAX_EPOCH:
            raise ConfigurationError(
                f"{kind} property {key}={value!r} does not fit Neo4j's 64-bit integers; pass it as a float or a string"
            )
        if isinstance(value, str):
            _encodable(f"{kind} property {key}", value)
        checked[key] = value
    return checked


def _encodable(what: str, text: str) -> None:
    """Refuse text that has no UTF-8 form (lone surrogates), which neither Neo4j nor the spool can keep."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ConfigurationError(
            f"{what} holds {text[error.start : error.end]!r}, which is not valid Unicode text; drop or replace it"
        ) from None

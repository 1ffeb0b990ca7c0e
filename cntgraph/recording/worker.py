"""The recorder's writer process: it turns captured weight copies into records and writes them to
Neo4j, so that none of that work (float64 snapshots, metrics, the driver's packing and its network
I/O) holds the training process's interpreter lock or takes a core from training at normal
priority. It runs at the priority of cntgraph's background work (``CNTGRAPH_NICE``, by default
19, the lowest) and uses what training leaves.

The process is ``python -m cntgraph.recording.worker``, started with two pipes, so that it never
imports the training script (as multiprocessing's spawn would). The
:class:`~cntgraph.Recorder`'s background thread sends it one epoch at a time and waits for the
answer; everything that decides what happens to an epoch that is not written (spool it, set it
aside) stays in the recorder, which gets the epoch's records back in that case. When the recorder
closes, its writer process waits, idle, for the next recorder of the same Python process (a
notebook's next run starts at once), and ends with that process.
"""

from __future__ import annotations

import atexit
import io
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch

from cntgraph.core.network import Topology
from cntgraph.errors import RecorderError
from cntgraph.model.snapshot import LayerCopy, snapshot_of
from cntgraph.records.build import LayerProps, RunLayout, build_records
from cntgraph.records.epoch import EpochRecords
from cntgraph.store.runner import Neo4jRunner, Target
from cntgraph.store.writer import Writer


class WorkerGone(Exception):
    """The writer process ended or cannot be reached; the epoch it had is still the caller's."""


class RecordsWorker:
    """A writer process: :meth:`write` builds an epoch's records there and writes them.

    :meth:`acquire` gives one for a run: an idle one of this process's (a recorder before it
    closed) if there is one, else a new one, which imports torch while the first epoch trains;
    :meth:`release` gives it back for the next recorder.

    Example:
        worker = RecordsWorker.acquire(graph.runner.target, topology, layout, batch_size=100_000, progress=False, nice=19)
        unwritten, error = worker.write(3, {"loss": 0.2}, copy_parameters(model, topology))
        worker.release()
    """

    def __init__(self, nice: int) -> None:
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "cntgraph.recording.worker", str(to_child), str(from_child)],
                pass_fds=(to_child, from_child),
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(to_child)
            os.close(from_child)
        _set_nice(self._process.pid, nice)  # at once: importing torch takes a core for about 2 s
        self.nice = nice
        self._send = Connection(from_parent, readable=False)
        self._receive = Connection(to_parent, writable=False)
        self._unanswered = 0  # messages sent whose answers are read before the next request's

    @classmethod
    def acquire(
        cls, target: Target, topology: Topology, layout: RunLayout, *, batch_size: int, progress: bool, nice: int
    ) -> RecordsWorker:
        """A writer process for the run of ``layout`` (an idle one at priority ``nice``, else a new one)."""
        with _IDLE_LOCK:
            idle = next((w for w in _IDLE if w.nice == nice and w._process.poll() is None), None)
            if idle is not None:
                _IDLE.remove(idle)
        worker = idle or cls(nice)
        worker._exchange(("start", target, topology, layout, batch_size, progress), answer=False)
        worker._unanswered += 1
        return worker

    def release(self) -> None:
        """The run is done: the process closes its connection and waits, idle, for the next recorder."""
        try:
            self._request(("end",))
        except WorkerGone:
            self.close()
            return
        with _IDLE_LOCK:
            keep = len(_IDLE) < MAX_IDLE
            if keep:
                _IDLE.append(self)
        if not keep:
            self.close()

    def write(
        self, epoch: int, props: dict[str, Any], copies: Sequence[LayerCopy | None], layer_props: LayerProps | None = None
    ) -> tuple[EpochRecords | None, Exception | None]:
        """Build epoch ``epoch`` from ``copies`` (and ``layer_props``, see `build_records`) and write
        it: ``(None, None)`` once written, else its records and why they were not written. An error in
        building them (a NaN weight) is raised."""
        answer = self._request(("write", epoch, props, tuple(copies), layer_props or {}))
        return (None, None) if answer is None else answer

    def build(
        self, epoch: int, props: dict[str, Any], copies: Sequence[LayerCopy | None], layer_props: LayerProps | None = None
    ) -> EpochRecords:
        """Only build epoch ``epoch``'s records (while earlier epochs wait to be written)."""
        return self._request(("build", epoch, props, tuple(copies), layer_props or {}))

    def close(self) -> None:
        """Let the process finish its work and end (killed if it does not within a minute)."""
        try:
            _send(self._send, None)
        except OSError:
            pass  # already gone
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._send.close()
        self._receive.close()

    def _request(self, message: tuple[Any, ...]) -> Any:
        while self._unanswered:  # the start of the run (a new process: after it imported torch)
            self._unanswered -= 1
            try:
                self._exchange(None, answer=True)
            except WorkerGone:
                raise
            except Exception as error:  # noqa: BLE001 - it could not start the run: the recorder writes it itself
                raise WorkerGone(f"the writer process could not start the run ({error})") from error
        return self._exchange(message, answer=True)

    def _exchange(self, message: tuple[Any, ...] | None, *, answer: bool) -> Any:
        """Send ``message`` (unless None), then read one answer (if ``answer``), raising what the process raised."""
        try:
            if message is not None:
                _send(self._send, message)
            if not answer:
                return None
            kind, value = _receive(self._receive)
        except (OSError, EOFError) as error:
            code = self._process.poll()
            state = "stopped answering" if code is None else f"ended with code {code}"
            raise WorkerGone(f"the writer process {state} ({error!r})") from error
        if kind == "raise":
            raise value
        return value


#: how many idle writer processes wait for a recorder (more recorders at once start more, which then end)
MAX_IDLE = 1
#: writer processes of this process waiting for a recorder (an atexit handler ends them)
_IDLE: list[RecordsWorker] = []
_IDLE_LOCK = threading.Lock()


@atexit.register
def _end_idle() -> None:
    with _IDLE_LOCK:
        for worker in _IDLE:
            worker.close()
        _IDLE.clear()


def _send(connection: Connection, message: Any) -> None:
    """Pickle ``message`` with its arrays (and tensors, as arrays) out of band, so that they are not copied first."""
    buffers: list[pickle.PickleBuffer] = []
    header = _Pickler.dumps(message, buffers)
    connection.send_bytes(len(buffers).to_bytes(4, "little") + header)
    for buffer in buffers:
        connection.send_bytes(buffer.raw())


def _receive(connection: Connection) -> Any:
    first = connection.recv_bytes()
    count = int.from_bytes(first[:4], "little")
    buffers = [bytearray(connection.recv_bytes()) for _ in range(count)]  # writable: tensors are made of them
    return pickle.loads(first[4:], buffers=buffers)


class _Pickler(pickle.Pickler):
    """Sends a CPU tensor as a numpy array (float32 for dtypes numpy lacks, which holds them exactly)."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, torch.Tensor):
            array = obj.numpy() if obj.dtype not in (torch.bfloat16, torch.float16) else obj.float().numpy()
            return torch.from_numpy, (np.ascontiguousarray(array),)
        return NotImplemented

    @classmethod
    def dumps(cls, message: Any, buffers: list[pickle.PickleBuffer]) -> bytes:
        out = io.BytesIO()
        cls(out, protocol=5, buffer_callback=buffers.append).dump(message)
        return out.getvalue()


def _set_nice(pid: int, nice: int) -> None:
    """Give process ``pid`` (one thread yet; later ones inherit it) the CPU priority ``nice``.

    Not :func:`cntgraph.server.managed.set_priority`: that one also sets the nice value of the
    process's autogroup, which this child shares with the training process it would slow down."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    except (AttributeError, OSError):
        pass  # a platform without nice values, or a process already gone (its first request says so)


def _portable(error: BaseException) -> Exception:
    """``error`` if it crosses a pipe intact, else a RecorderError with its text."""
    try:
        copy = pickle.loads(pickle.dumps(error))
        if isinstance(copy, Exception):
            return copy
    except Exception:  # noqa: BLE001 - an exception type pickle cannot rebuild
        pass
    return RecorderError(f"{type(error).__name__}: {error}")


def serve(receive: Connection, send: Connection) -> None:
    """The writer process's loop: one answer for every request, until the recorder closes the pipe."""
    torch.set_num_threads(1)  # the float64 snapshot on one core, not training's
    runner: Neo4jRunner | None = None
    try:
        while (request := _receive(receive)) is not None:
            if request[0] == "start":  # a recorder's run, until "end"
                _, target, topology, layout, batch_size, progress = request
                try:
                    runner = Neo4jRunner.open(target)
                except Exception as error:  # noqa: BLE001 - the recorder writes in its own process then
                    _send(send, ("raise", _portable(error)))
                    continue
                writer = Writer(runner, batch_size=batch_size, progress=progress, created=(layout.rid,))
                _send(send, ("ok", None))
                continue
            if request[0] == "end":
                if runner is not None:
                    runner.close()
                runner = None
                _send(send, ("ok", None))
                continue
            kind, epoch, props, copies, layer_props = request
            try:
                records = build_records(layout, snapshot_of(topology, copies), epoch, props, layer_props)
            except Exception as error:  # noqa: BLE001 - the recorder raises it
                _send(send, ("raise", _portable(error)))
                continue
            if kind == "build":
                _send(send, ("ok", records))
                continue
            try:
                writer.write(records)
            except Exception as error:  # noqa: BLE001 - the recorder spools or sets the epoch aside
                _send(send, ("ok", (records, _portable(error))))
                continue
            _send(send, ("ok", None))
    except EOFError:
        pass  # the recorder's process ended: the epoch in hand was written; it was the last
    finally:
        if runner is not None:
            runner.close()


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))

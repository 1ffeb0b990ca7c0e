"""Record a Hugging Face ``Trainer`` run: ``Trainer(..., callbacks=[CntgraphTrainerCallback("run", (784,))])``.

Needs transformers (``pip install transformers``).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Sequence
from typing import Any

from torch import nn

from cntgraph.core.sampling import Sampler
from cntgraph.errors import ConfigurationError
from cntgraph.recording.epoch_props import epoch_props
from cntgraph.recording.recorder import Recorder
from cntgraph.store.graph import Graph

try:
    from transformers import (
        TrainerCallback,
        TrainerControl,
        TrainerState,
        TrainingArguments,
    )
except ImportError as error:
    raise ImportError("cntgraph's Hugging Face callback needs transformers: pip install transformers") from error

__all__ = ["CntgraphTrainerCallback"]


class CntgraphTrainerCallback(TrainerCallback):
    """Records the model a ``Trainer`` trains as run ``run``, once per training epoch.

    An epoch is numbered from 0 (``ceil(state.epoch) - 1``: the Trainer's ``epoch`` 1.0 is
    epoch 0, and a last epoch cut short keeps its number). Its properties are the latest scalar
    value of each key of the ``state.log_history`` entries logged during it and at its end (names
    made valid by :func:`~cntgraph.recording.epoch_props.epoch_props`; the last epoch also gets the
    Trainer's closing summary such as ``train_runtime``). The Trainer logs and evaluates an epoch
    only after ``on_epoch_end``, and may load its best checkpoint before ``on_train_end``, so the
    callback copies the weights (to a CPU copy of the model) at each epoch's end and records them
    at the next hook. Only the main process records. The other arguments are
    :class:`~cntgraph.recording.recorder.Recorder`'s.

    The Trainer has no hook for a failed training: call :meth:`close` in a ``finally``.

    Example:
        callback = CntgraphTrainerCallback("mlp-1", (784,))
        trainer = Trainer(model, args, train_dataset=data, callbacks=[callback])
        try:
        ...     trainer.train()
        ... finally:
        ...     callback.close()
    """

    def __init__(
        self,
        run: str,
        input_shape: Sequence[int],
        graph: Graph | None = None,
        sample: Sampler | None = None,
        every: int = 1,
        **recorder_kwargs: Any,
    ) -> None:
        #: the Recorder of the model being trained, built when training starts
        self.new_recorder = functools.partial(
            Recorder, run=run, input_shape=input_shape, graph=graph, sample=sample, every=every, **recorder_kwargs
        )
        self.recorder: Recorder | None = None
        self._copy: nn.Module | None = None  # the model's weights at the end of the pending epoch
        self._pending: int | None = None  # the epoch ended but not yet recorded
        self._logged = 0  # log_history entries already given to an epoch

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        if model is None:
            raise ConfigurationError("the Trainer passed no model to CntgraphTrainerCallback; give the Trainer a model")
        if state.is_world_process_zero:
            self._copy = copy.deepcopy(model).cpu()
            self.recorder = self.new_recorder(self._copy)
            self._logged = len(state.log_history)

    def on_epoch_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._record_pending(state)

    def on_epoch_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        if self._copy is not None and model is not None:
            self._copy.load_state_dict(model.state_dict())
            self._pending = max(math.ceil(state.epoch or 0) - 1, 0)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._record_pending(state)
        self.close()

    def close(self) -> None:
        """Write what is queued and close the recorder (:meth:`Recorder.close`); safe to repeat."""
        recorder, self.recorder, self._copy, self._pending = self.recorder, None, None, None
        if recorder is not None:
            recorder.close()

    def _record_pending(self, state: TrainerState) -> None:
        if self.recorder is None or self._pending is None:
            return
        logs = {key: value for entry in state.log_history[self._logged :] for key, value in entry.items()}
        self._logged = len(state.log_history)
        epoch, self._pending = self._pending, None
        self.recorder.capture(epoch, **epoch_props(logs))

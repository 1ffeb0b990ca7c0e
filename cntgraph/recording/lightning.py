"""Record a Lightning training run: ``Trainer(callbacks=[CntgraphCallback("run", (784,))])``.

Needs Lightning (``pip install lightning``; ``pytorch_lightning`` works too).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from cntgraph.core.sampling import Sampler
from cntgraph.recording.epoch_props import epoch_props
from cntgraph.recording.recorder import Recorder
from cntgraph.store.graph import Graph

try:
    import lightning.pytorch as pl
except ImportError:
    try:
        import pytorch_lightning as pl
    except ImportError as error:
        raise ImportError("cntgraph's Lightning callback needs Lightning: pip install lightning") from error

__all__ = ["CntgraphCallback"]


class CntgraphCallback(pl.Callback):
    """Records the LightningModule being fitted as run ``run``, at the end of each training epoch.

    The epoch is ``trainer.current_epoch`` (from 0); its properties are the scalar
    ``trainer.callback_metrics`` (names made valid by
    :func:`~cntgraph.recording.epoch_props.epoch_props`). Only the global-zero process records. The
    other arguments are :class:`~cntgraph.recording.recorder.Recorder`'s.

    Example:
        trainer = pl.Trainer(max_epochs=20, callbacks=[CntgraphCallback("mlp-1", (784,))])
        trainer.fit(module, train_loader)
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
        super().__init__()
        #: the Recorder of the model being trained, built when training starts
        self.new_recorder = functools.partial(
            Recorder, run=run, input_shape=input_shape, graph=graph, sample=sample, every=every, **recorder_kwargs
        )
        self.recorder: Recorder | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            self.recorder = self.new_recorder(pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.recorder is not None:
            self.recorder.capture(trainer.current_epoch, **epoch_props(trainer.callback_metrics))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.close()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.close()

    def close(self) -> None:
        """Write what is queued and close the recorder (:meth:`Recorder.close`); safe to repeat."""
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.close()

"""Record a Lightning training run: ``Trainer(callbacks=[CntgraphCallback("run", (784,))])``.

Needs Lightning (``pip install lightning``; ``pytorch_lightning`` works too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cntgraph.graph import Graph
from cntgraph.integrations.props import epoch_props
from cntgraph.recorder import Recorder
from cntgraph.sampling import Sampler

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
    :func:`~cntgraph.integrations.props.epoch_props`). Only the global-zero process records. The
    other arguments are :class:`~cntgraph.recorder.Recorder`'s.

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
        self.run = run
        self.input_shape = tuple(input_shape)
        self.graph = graph
        self.sample = sample
        self.every = every
        self.recorder_kwargs = recorder_kwargs
        self.recorder: Recorder | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            self.recorder = Recorder(
                pl_module, self.run, self.input_shape, self.graph, self.sample, self.every, **self.recorder_kwargs
            )

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

"""Framework metrics as epoch properties: scalars only, under names the Recorder accepts."""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from typing import Any

from cntgraph.recording.recorder import RESERVED_PROPS

__all__ = ["epoch_props"]

_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")


def epoch_props(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The scalar values of ``metrics`` as floats, keyed by property names.

    Characters other than ``[A-Za-z0-9_]`` become ``_``, names the Recorder reserves get a
    ``train_`` prefix, and a leading digit an ``_``. Non-scalar values are left out; of keys
    that end up equal, the last wins.

    Example:
        >>> epoch_props({"val/loss": 0.5, "epoch": 2, "lr-Adam": 1e-3, "confusion": [[1, 0]], "note": "x"})
        {'val_loss': 0.5, 'train_epoch': 2.0, 'lr_Adam': 0.001}
    """
    props = {}
    for key, value in metrics.items():
        scalar = _scalar(value)
        if scalar is None:
            continue
        name = _NOT_NAME.sub("_", str(key))
        if name in RESERVED_PROPS:
            name = f"train_{name}"
        elif name[:1].isdigit():
            name = f"_{name}"
        props[name] = scalar
    return props


def _scalar(value: Any) -> float | None:
    """``value`` as a float if it is a real number, or a 0-d tensor or array holding one."""
    if isinstance(value, numbers.Real):
        return float(value)
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return _scalar(value.item())
    return None

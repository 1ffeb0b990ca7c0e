"""Argument checks shared by every layer, each written once, with messages that name the argument.

Example:
    >>> whole_number("epochs", 3)
    3
    >>> whole_number("epochs", True)
    Traceback (most recent call last):
    ...
    cntgraph.errors.ConfigurationError: epochs must be a whole number >= 1, got True
"""

from __future__ import annotations

import numpy as np

from cntgraph.errors import CntgraphError, ConfigurationError

__all__ = ["whole_number"]


def whole_number(
    name: str, value: object, minimum: int = 1, *, error: type[CntgraphError] = ConfigurationError, hint: str = ""
) -> int:
    """``value`` as an int once it is a whole number >= ``minimum``; else ``error`` naming ``name``.

    Python and numpy integers count; ``True``/``False``, floats (even 3.0) and strings do not.
    ``hint`` is added to the message (for example what None would mean).

    Example:
        >>> whole_number("k", np.int64(5))
        5
        >>> whole_number("k", 0, hint="or None for all")
        Traceback (most recent call last):
        ...
        cntgraph.errors.ConfigurationError: k must be a whole number >= 1 or None for all, got 0
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and value >= minimum:
        return int(value)
    extra = f" {hint}" if hint else ""
    raise error(f"{name} must be a whole number >= {minimum}{extra}, got {value!r}")

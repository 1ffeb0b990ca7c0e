"""Checking in-database aggregation (:func:`cntgraph.store.aggregation.aggregate`) against the exact metrics.

Per epoch and layer the aggregation reports ``fluctuation_error`` (relative, signed) and
``s_error`` (max ``|db_s - s|`` over the layer's stored neurons, relative to their max ``|s|``).
On a run that stores every unit both are float rounding, far below :data:`RTOL`; on a sampled run
they are the estimation error. These pure functions read that frame; ``cntgraph verify`` prints them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only frames come in: importing pandas here would slow down `cntgraph --help`
    import pandas as pd

__all__ = ["RTOL", "fully_stored", "disagreements", "error_summary"]

#: relative tolerance within which in-database and exact metrics agree on a fully stored run
RTOL = 1e-9


def fully_stored(frame: pd.DataFrame) -> bool:
    """Whether every node layer of the aggregated run stores all its units (a Full() run).

    Example:
        >>> import pandas as pd
        >>> fully_stored(pd.DataFrame({"size": [4, 3], "sampled": [4, 3]}))
        True
    """
    return bool((frame["sampled"] == frame["size"]).all())


def disagreements(frame: pd.DataFrame, rtol: float = RTOL) -> pd.DataFrame:
    """The rows (epoch, layer) whose fluctuation or strengths differ from the exact ones by more than ``rtol``.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"epoch": [0, 0], "layer": [0, 1], "fluctuation_error": [1e-15, -2e-3],
        ...                       "s_error": [0.0, 1e-12]})
        >>> disagreements(frame)["layer"].tolist()
        [1]
    """
    agree = (frame["fluctuation_error"].abs() <= rtol) & (frame["s_error"] <= rtol)  # NaN disagrees
    return frame[~agree]


def error_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per node layer: ``size``, ``sampled``, ``epochs`` and the largest errors over the epochs.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"epoch": [0, 1], "layer": [1, 1], "size": 8, "sampled": 4,
        ...                       "fluctuation_error": [0.1, -0.3], "s_error": [0.2, 0.05]})
        >>> error_summary(frame).to_dict("records")
        [{'layer': 1, 'size': 8, 'sampled': 4, 'epochs': 2, 'max_fluctuation_error': 0.3, 'max_s_error': 0.2}]
    """
    return (
        frame.assign(fluctuation_error=frame["fluctuation_error"].abs())
        .groupby("layer", as_index=False)
        .agg(
            size=("size", "first"),
            sampled=("sampled", "first"),
            epochs=("epoch", "nunique"),
            max_fluctuation_error=("fluctuation_error", "max"),
            max_s_error=("s_error", "max"),
        )
    )

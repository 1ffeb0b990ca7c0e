"""A train/test split held as tensors, from tensors, from torch Datasets, or from a file.

The studies (the demo, the ensemble) train small classifiers on a `Split`: scikit-learn's digits
by default (:func:`cntgraph.studies.digits.load_digits`), or any data of a user's own.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from cntgraph.errors import ConfigurationError

__all__ = ["Split", "as_split", "load_split"]

_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Split:
    """Train and test inputs (float32, one sample per row of the first axis) and integer class labels.

    Example:
        >>> split = as_split((torch.zeros(4, 3), torch.tensor([0, 1, 2, 1]), torch.ones(2, 3), torch.tensor([2, 0])))
        >>> split.input_shape, split.classes
        ((3,), 3)
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one sample, e.g. (1, 8, 8)."""
        return tuple(self.x_train.shape[1:])

    @property
    def classes(self) -> int:
        """The number of classes: the largest label plus one."""
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def as_split(data: Split | Sequence[Any]) -> Split:
    """``data`` as a checked `Split`: a `Split`, four tensors ``(x_train, y_train, x_test, y_test)``,
    or two ``torch.utils.data.Dataset`` of ``(input, label)`` pairs ``(train, test)``, read into
    memory (the studies train small networks on small data).

    Example:
        >>> from torch.utils.data import TensorDataset
        >>> train = TensorDataset(torch.rand(6, 1, 4, 4), torch.tensor([0, 1, 0, 1, 0, 1]))
        >>> as_split((train, TensorDataset(torch.rand(2, 1, 4, 4), torch.tensor([1, 0])))).input_shape
        (1, 4, 4)
    """
    if isinstance(data, Split):
        parts: Sequence[Any] = (data.x_train, data.y_train, data.x_test, data.y_test)
    elif isinstance(data, Sequence) and len(data) == 2 and all(isinstance(d, Dataset) for d in data):
        parts = (*_tensors(data[0], "train"), *_tensors(data[1], "test"))
    elif isinstance(data, Sequence) and len(data) == 4:
        parts = data
    else:
        raise ConfigurationError(
            "data must be a Split, four tensors (x_train, y_train, x_test, y_test) or two torch Datasets (train, test), "
            f"got {type(data).__name__}"
        )
    x_train, y_train, x_test, y_test = (torch.as_tensor(part) for part in parts)
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim < 2 or y.ndim != 1 or len(x) != len(y) or len(y) == 0:
            raise ConfigurationError(
                f"the {name} data needs inputs of shape (N, ...) and N labels (N >= 1), got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        if y.is_floating_point() or bool((y < 0).any()):
            raise ConfigurationError(f"the {name} labels must be class indices 0, 1, 2, ... (integers), got {y.dtype}")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ConfigurationError(f"train and test samples differ in shape: {tuple(x_train.shape[1:])} and {tuple(x_test.shape[1:])}")
    return Split(x_train.float(), y_train.long(), x_test.float(), y_test.long())


def load_split(path: Path) -> Split:
    """A `Split` from a file saved with ``torch.save({"x_train": ..., "y_train": ..., "x_test": ...,
    "y_test": ...}, path)`` (tensors only: it is read with ``weights_only=True``).

    Example:
        split = load_split(Path("my-data.pt"))
    """
    try:
        stored = torch.load(path, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise ConfigurationError(f"cannot read the data file {str(path)!r}: {error}") from error
    if not isinstance(stored, dict) or set(_KEYS) - set(stored):
        raise ConfigurationError(
            f"the data file {str(path)!r} must hold a dict with the tensors {', '.join(_KEYS)} (saved with torch.save)"
        )
    return as_split(tuple(stored[key] for key in _KEYS))


def _tensors(dataset: Dataset, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """All (input, label) pairs of ``dataset``, stacked."""
    try:
        pairs = [dataset[i] for i in range(len(dataset))]  # type: ignore[arg-type]
        return torch.stack([torch.as_tensor(x) for x, _ in pairs]), torch.as_tensor([int(y) for _, y in pairs])
    except (TypeError, ValueError, RuntimeError) as error:
        raise ConfigurationError(f"the {name} Dataset must have a length and give (input, label) pairs: {error}") from error

"""Small, real training runs for the demo and the ensemble: scikit-learn's handwritten digits.

The digits (1,797 images of 8x8 pixels, 10 classes) ship with scikit-learn, so nothing is
downloaded. Models follow the papers' families at a size the data supports: fully connected
networks and small CNNs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from cntgraph.errors import ConfigurationError
from cntgraph.studies.data import Split

#: the digits' split (float32 images (N, 1, 8, 8) in [0, 1] and labels): a `Split`, under its old name
Digits = Split


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> Split:
    """The scikit-learn digits, shuffled with ``seed`` and split.

    Example:
        >>> data = load_digits()
        >>> tuple(data.x_train.shape), tuple(data.x_test.shape)
        ((1438, 1, 8, 8), (359, 1, 8, 8))
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    order = np.random.default_rng(seed).permutation(len(bunch.target))
    images = torch.tensor(bunch.images[order] / 16.0, dtype=torch.float32).unsqueeze(1)
    labels = torch.tensor(bunch.target[order], dtype=torch.long)
    cut = len(labels) - int(round(test_fraction * len(labels)))
    return Split(images[:cut], labels[:cut], images[cut:], labels[cut:])


def mlp(width: int = 32, depth: int = 2, inputs: int = 64, classes: int = 10) -> nn.Sequential:
    """A fully connected network on the flattened input (``inputs`` values, the 8x8 image by
    default): ``depth`` hidden ReLU layers of ``width``, then ``classes`` outputs.

    Example:
        >>> mlp(32, 2)
        Sequential(
          (0): Flatten(start_dim=1, end_dim=-1)
          (1): Linear(in_features=64, out_features=32, bias=True)
          (2): ReLU()
          (3): Linear(in_features=32, out_features=32, bias=True)
          (4): ReLU()
          (5): Linear(in_features=32, out_features=10, bias=True)
        )
    """
    layers: list[nn.Module] = [nn.Flatten()]
    fan_in = inputs
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.ReLU()]
        fan_in = width
    return nn.Sequential(*layers, nn.Linear(fan_in, classes))


def cnn(channels: int = 8, dense: int = 64, input_shape: Sequence[int] = (1, 8, 8), classes: int = 10) -> nn.Sequential:
    """Two 3x3 convolutions (stride 1, no padding) then two dense layers, as in the papers' CNNs,
    for images of ``input_shape`` (C, H, W), at least 5x5.

    Example:
        >>> cnn(4, 16, (3, 10, 10), classes=5)[5]
        Linear(in_features=288, out_features=16, bias=True)
    """
    c, h, w = input_shape
    if h < 5 or w < 5:
        raise ConfigurationError(f"the CNN needs images of at least 5x5 pixels (two 3x3 convolutions), got {h}x{w}")
    return nn.Sequential(
        nn.Conv2d(c, channels, 3),
        nn.ReLU(),
        nn.Conv2d(channels, 2 * channels, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2 * channels * math.prod((h - 4, w - 4)), dense),
        nn.ReLU(),
        nn.Linear(dense, classes),
    )


EpochHook = Callable[[int, float, float], None]


def train(
    model: nn.Module,
    data: Split,
    epochs: int,
    *,
    optimizer: str = "adam",
    lr: float | None = None,
    batch_size: int = 64,
    momentum: float = 0.9,
    seed: int = 0,
    on_epoch: EpochHook | None = None,
) -> list[tuple[float, float]]:
    """Train with cross-entropy; call ``on_epoch(epoch, loss, accuracy)`` after each epoch.

    ``optimizer``: ``"adam"`` (``lr`` default 1e-3) or ``"sgd"`` (``lr`` default 0.05, with
    ``momentum``). Returns (mean training loss, test accuracy) per epoch.
    """
    generator = torch.Generator().manual_seed(seed)
    step = _optimizer(model, optimizer, lr, momentum)
    history = []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(data.y_train), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            step.zero_grad()
            loss = nn.functional.cross_entropy(model(data.x_train[batch]), data.y_train[batch])
            loss.backward()
            step.step()
            total += loss.item() * len(batch)
        history.append((total / len(order), accuracy(model, data)))
        if on_epoch is not None:
            on_epoch(epoch, *history[-1])
    return history


def accuracy(model: nn.Module, data: Split) -> float:
    """Fraction of test images classified correctly."""
    model.eval()
    with torch.no_grad():
        predicted = model(data.x_test).argmax(dim=1)
    return float((predicted == data.y_test).float().mean())


def _optimizer(model: nn.Module, name: str, lr: float | None, momentum: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr or 1e-3)
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr or 0.05, momentum=momentum)
    raise ConfigurationError(f"optimizer must be 'adam' or 'sgd', got {name!r}")

"""Offline ingest: record a run from checkpoints saved during an earlier training.

The model is built once, each checkpoint's ``state_dict`` is loaded into it and captured by a
:class:`~cntgraph.recording.recorder.Recorder`, so an ingested run is stored exactly as a live one would be.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import operator
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from cntgraph.core.sampling import Sampler
from cntgraph.errors import ConfigurationError
from cntgraph.recording.recorder import IfExists, Recorder
from cntgraph.store.graph import Graph

__all__ = ["ingest", "epoch_numbers", "load_factory"]

_WRAPPER_KEYS = ("state_dict", "model_state_dict")  # Lightning, and the usual training-loop dicts
_SHOWN_KEYS = 10


def ingest(
    model_factory: Callable[[], nn.Module],
    input_shape: Sequence[int],
    run: str,
    checkpoints: Sequence[str | Path],
    *,
    graph: Graph | None = None,
    sample: Sampler | None = None,
    per_layer: Mapping[int | str, Sampler] | None = None,
    epochs: Sequence[int] | None = None,
    epoch_pattern: str | None = None,
    if_exists: IfExists = "error",
    progress: bool = True,
) -> list[int]:
    """Record ``checkpoints`` (``torch.save`` files, in epoch order) as the epochs of run ``run``.

    Each file holds a ``state_dict``, or a dict with one under ``'state_dict'`` or
    ``'model_state_dict'``, for the model that ``model_factory()`` builds. Epoch numbers come
    from :func:`epoch_numbers`. The other arguments are :class:`~cntgraph.recording.recorder.Recorder`'s;
    each epoch also gets the property ``checkpoint`` (the file name). Returns the epochs written.

    A file that cannot be read or does not fit the model raises ConfigurationError naming it;
    the epochs before it are written, nothing of it or after it.

    Example:
        files = [Path(f"ckpt/epoch_{e}.pt") for e in (1, 2, 10)]
        ingest(make_mlp, (784,), "mlp-1", files, epoch_pattern=r"epoch_(\\d+)")
        [1, 2, 10]
    """
    paths = [Path(p) for p in checkpoints]
    numbers = epoch_numbers(paths, epochs, epoch_pattern)
    model = model_factory()
    if not isinstance(model, nn.Module):
        raise ConfigurationError(
            f"model factory {model_factory!r} returned a {type(model).__name__}, not a torch.nn.Module; "
            "it must build the model the checkpoints were saved from"
        )
    with Recorder(  # no training to keep the CPU for: written from this process, at normal priority
        model, run, input_shape, graph, sample, per_layer=per_layer, if_exists=if_exists, progress=progress,
        writer_process=False,
    ) as recorder:
        steps = zip(paths, numbers, strict=True)
        for path, epoch in tqdm(steps, total=len(paths), desc=f"Ingesting {run}", unit=" ckpt", disable=not progress):
            _load_into(model, path)
            recorder.capture(epoch, checkpoint=path.name)
    return list(recorder.epochs_written)


def epoch_numbers(
    paths: Sequence[Path], epochs: Sequence[int] | None = None, epoch_pattern: str | None = None
) -> list[int]:
    """The epoch of each checkpoint: ``epochs``, else ``epoch_pattern``'s one group matched in
    each file name, else the file's position (0, 1, 2...). They must increase along ``paths``.

    Example:
        >>> epoch_numbers([Path("run/epoch=4.pt"), Path("run/epoch=9.pt")], epoch_pattern=r"epoch=(\\d+)")
        [4, 9]
    """
    if not paths:
        raise ConfigurationError("no checkpoints given; pass the checkpoint files to ingest, in epoch order")
    if epochs is not None and epoch_pattern is not None:
        raise ConfigurationError("pass either epochs or epoch_pattern, not both")
    if epochs is not None:
        if len(epochs) != len(paths):
            raise ConfigurationError(f"{len(epochs)} epochs given for {len(paths)} checkpoints; give one per file")
        try:
            numbers = [operator.index(epoch) for epoch in epochs]
        except TypeError as error:
            raise ConfigurationError(f"epochs must be whole numbers, got {list(epochs)!r}") from error
    elif epoch_pattern is not None:
        numbers = _matched_epochs(epoch_pattern, paths)
    else:
        numbers = list(range(len(paths)))
    for (before, earlier), (path, epoch) in itertools.pairwise(zip(paths, numbers)):
        if epoch <= earlier:
            raise ConfigurationError(
                f"checkpoint {path.name} (epoch {epoch}) comes after {before.name} (epoch {earlier}); "
                "epochs must increase: pass the files sorted by epoch"
            )
    return numbers


def _matched_epochs(pattern: str, paths: Sequence[Path]) -> list[int]:
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ConfigurationError(f"epoch_pattern {pattern!r} is not a regular expression: {error}") from error
    if compiled.groups != 1:
        raise ConfigurationError(
            f"epoch_pattern {pattern!r} has {compiled.groups} groups; it needs exactly one, around the "
            r"epoch number (e.g. r'epoch[_-]?(\d+)')"
        )
    numbers = []
    for path in paths:
        match = compiled.search(path.name)
        if match is None or not match.group(1).isdigit():
            raise ConfigurationError(
                f"epoch_pattern {pattern!r} finds no epoch number in the file name {path.name!r}; "
                "fix the pattern, or pass epochs= explicitly"
            )
        numbers.append(int(match.group(1)))
    return numbers


def _load_into(model: nn.Module, path: Path) -> None:
    """Load the ``state_dict`` stored in ``path`` into ``model``, or raise naming what is wrong."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for damaged files
        reason = (str(error).strip().splitlines() or [""])[0][:120]
        raise ConfigurationError(
            f"cannot read checkpoint {path} ({type(error).__name__}: {reason}). It must be a "
            "complete torch.save file holding tensors in plain containers; re-save it as "
            "torch.save(model.state_dict(), path), or allow-list its other objects with "
            "torch.serialization.add_safe_globals."
        ) from error
    state = _state_dict(loaded, path)
    expected = model.state_dict().keys()
    missing, unexpected = sorted(expected - state.keys()), sorted(state.keys() - expected)
    if missing or unexpected:
        named = (("missing", missing), ("unexpected", unexpected))
        found = [f"{what} keys {_listed(keys)}" for what, keys in named if keys]
        raise ConfigurationError(
            f"checkpoint {path} does not fit the model built by the factory: {' and '.join(found)}. "
            "Build the model the checkpoint was saved from."
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as error:  # shapes that differ from the model's
        reason = " ".join(str(error).split())
        raise ConfigurationError(f"checkpoint {path} does not fit the model built by the factory: {reason}") from error


def _state_dict(loaded: object, path: Path) -> Mapping[str, torch.Tensor]:
    """The state dict in a loaded checkpoint: itself, or the one under a wrapper key."""
    if isinstance(loaded, Mapping):
        state = next((loaded[key] for key in _WRAPPER_KEYS if isinstance(loaded.get(key), Mapping)), loaded)
        if all(isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state.items()):
            return state
        described = f"a dict with keys {_listed(sorted(map(str, loaded)))}"
    else:
        described = f"a {type(loaded).__name__}"
    raise ConfigurationError(
        f"checkpoint {path} holds {described}, not a state_dict; save model.state_dict(), or a dict "
        f"holding it under {' or '.join(map(repr, _WRAPPER_KEYS))}"
    )


def _listed(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:_SHOWN_KEYS])
    return f"[{shown}, and {len(keys) - _SHOWN_KEYS} more]" if len(keys) > _SHOWN_KEYS else f"[{shown}]"


def load_factory(spec: str) -> Callable[[], nn.Module]:
    """The callable named by ``"package.module:name"`` (``name`` may be dotted, e.g. ``Net.build``).

    Like ``python -m``, the current directory is put on ``sys.path`` first, so a ``models.py``
    next to you is ``"models:make_mlp"``.

    Example:
        >>> load_factory("collections:OrderedDict")
        <class 'collections.OrderedDict'>
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"model factory {spec!r} is not 'module:function' (e.g. 'mypkg.models:make_mlp')")
    here = os.getcwd()
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - whatever importing the user's module raised
        raise ConfigurationError(
            f"cannot import module {module_name!r} of model factory {spec!r}: {error!r}. Run from the "
            "directory that holds it (name it without '.py'), or install its package."
        ) from error
    try:
        factory = functools.reduce(getattr, attribute.split("."), module)
    except AttributeError as error:
        raise ConfigurationError(f"module {module_name!r} has no {attribute!r} (model factory {spec!r})") from error
    if not callable(factory):
        raise ConfigurationError(
            f"model factory {spec!r} is a {type(factory).__name__}, not callable; name a function or class "
            "that builds the model"
        )
    return factory

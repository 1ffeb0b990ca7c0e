"""Runs as files for ``neo4j-admin database import full``: bulk loading into a new store.

The live `Writer` adds epochs to a running server, transaction by transaction. For very large
loads (many exported runs into a new store), ``neo4j-admin database import full`` builds the
store files directly, offline. `write_import_files` turns the tables of one or more runs
(:mod:`cntgraph.store.tables`) into its CSV files, with the same nodes, properties and
relationships the `Writer` stores (``LINK`` relationships with their summaries included), and
returns the tool's arguments. The import *replaces* the database it loads into; cntgraph's indexes
and constraints are created at the next connection (``ensure_schema``).

    cntgraph export RUN --out tables/RUN          # for each run
    cntgraph neo4j import tables/*                # the managed server: stop, import, start
    neo4j-admin database import full $(cat files/arguments.txt) --overwrite-destination neo4j  # any other server
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cntgraph.errors import ConfigurationError

__all__ = ["write_import_files"]

#: the array delimiter of neo4j-admin's CSV files (its default)
ARRAY_DELIMITER = ";"


def write_import_files(runs: Sequence[dict[str, pd.DataFrame]], out: Path) -> list[str]:
    """Write the ``neo4j-admin database import full`` files of ``runs`` (tables as
    `cntgraph.store.tables.run_tables` gives them) into ``out``; return the tool's arguments
    (also written to ``out/arguments.txt``). Run names must differ.

    Example:
        arguments = write_import_files([read_tables(Path("tables/demo-mlp"))], Path("import"))
    """
    names = [str(tables["run"]["name"][0]) for tables in runs]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"runs imported together need different names, got {names}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[pd.DataFrame]] = {}
    for tables in runs:
        for kind, frame in _files(tables, secrets.randbits(62)).items():
            files.setdefault(kind, []).append(frame)
    arguments = []
    for kind, frames in files.items():
        path = out / f"{kind}.csv"
        _write_csv(pd.concat(frames, ignore_index=True), path)
        flag = "--relationships" if kind.isupper() or kind.startswith("HAS_") else "--nodes"
        arguments.append(f"{flag}={path}")
    arguments += [f"--array-delimiter={ARRAY_DELIMITER}", "--skip-bad-relationships=false"]
    (out / "arguments.txt").write_text("\n".join(arguments) + "\n", encoding="utf-8")
    return arguments


def _files(tables: dict[str, pd.DataFrame], rid: int) -> dict[str, pd.DataFrame]:
    """The node and relationship frames of one run, columns named as neo4j-admin's headers want."""
    run = str(tables["run"]["name"][0])
    layers, epochs, neurons = tables["layers"], tables["epochs"], tables["neurons"]
    states, layer_states, weights = tables["neuron_states"], tables["layer_states"], tables["link_weights"]
    neuron_id = lambda layer, unit: [f"{rid}:{a}:{b}" for a, b in zip(layer, unit, strict=True)]  # noqa: E731
    run_props = {k: v for k, v in tables["run"].iloc[0].items() if k != "name" and not _missing(v)}
    links = weights.groupby(["src_layer", "src_unit", "dst_layer", "dst_unit", "i"], sort=False)
    ordered = weights.sort_values("epoch")
    summaries = ordered.groupby(["src_layer", "src_unit", "dst_layer", "dst_unit", "i"], sort=False)["w"]
    first, last = summaries.first(), summaries.last()
    epoch_range = ordered.groupby(["src_layer", "src_unit", "dst_layer", "dst_unit", "i"], sort=False)["epoch"]
    link_keys = first.index.to_frame(index=False)
    return {
        "runs": pd.DataFrame([{":ID(Run)": str(rid), "name": run, "rid": rid, "layout_written": True, **run_props, ":LABEL": "Run"}]),
        "layers": layers.assign(**{":ID(Layer)": [f"{rid}:{i}" for i in layers["index"]], "rid": rid, "run": run, ":LABEL": "Layer"}),
        "neurons": neurons.assign(**{
            ":ID(Neuron)": neuron_id(neurons["layer"], neurons["unit"]), "rid": rid, "run": run,
            "linked": neurons["in_units"].map(lambda units: True if _is_list(units) else None),
            ":LABEL": [f"Neuron;L{layer}" for layer in neurons["layer"]],
        }),
        "epochs": epochs.assign(**{
            ":ID(Epoch)": [f"{rid}:{e}" for e in epochs["epoch"]], "rid": rid, "run": run, "complete": True,
            "links": epochs["epoch"].map(weights.groupby("epoch").size()).fillna(0).astype(np.int64), ":LABEL": "Epoch",
        }),
        "neuron_states": states.assign(**{
            ":ID(NeuronState)": [f"{rid}:{a}:{b}:{e}" for a, b, e in zip(states["layer"], states["unit"], states["epoch"], strict=True)],
            "rid": rid, "w_in": (w_in := _w_in(states, weights)),
            "w_in_sum": [np.nan if w is None else float(np.sum(w)) for w in w_in], ":LABEL": "NeuronState",
        }),
        "layer_states": layer_states.assign(**{
            ":ID(LayerState)": [f"{rid}:{a}:{e}" for a, e in zip(layer_states["layer"], layer_states["epoch"], strict=True)],
            "rid": rid, ":LABEL": "LayerState",
        }),
        "HAS_LAYER": pd.DataFrame({":START_ID(Run)": str(rid), ":END_ID(Layer)": [f"{rid}:{i}" for i in layers["index"]], ":TYPE": "HAS_LAYER"}),
        "HAS_NEURON": pd.DataFrame({":START_ID(Layer)": [f"{rid}:{layer}" for layer in neurons["layer"]],
                                    ":END_ID(Neuron)": neuron_id(neurons["layer"], neurons["unit"]), ":TYPE": "HAS_NEURON"}),
        "HAS_EPOCH": pd.DataFrame({":START_ID(Run)": str(rid), ":END_ID(Epoch)": [f"{rid}:{e}" for e in epochs["epoch"]], ":TYPE": "HAS_EPOCH"}),
        "HAS_STATE_neuron": pd.DataFrame({
            ":START_ID(Neuron)": neuron_id(states["layer"], states["unit"]),
            ":END_ID(NeuronState)": [f"{rid}:{a}:{b}:{e}" for a, b, e in zip(states["layer"], states["unit"], states["epoch"], strict=True)],
            ":TYPE": "HAS_STATE",
        }),
        "HAS_STATE_layer": pd.DataFrame({
            ":START_ID(Layer)": [f"{rid}:{a}" for a in layer_states["layer"]],
            ":END_ID(LayerState)": [f"{rid}:{a}:{e}" for a, e in zip(layer_states["layer"], layer_states["epoch"], strict=True)],
            ":TYPE": "HAS_STATE",
        }),
        "LINK": pd.DataFrame({
            ":START_ID(Neuron)": neuron_id(link_keys["src_layer"], link_keys["src_unit"]),
            ":END_ID(Neuron)": neuron_id(link_keys["dst_layer"], link_keys["dst_unit"]),
            "i": link_keys["i"].to_numpy(), "first": first.to_numpy(), "last": last.to_numpy(),
            "delta": last.to_numpy() - first.to_numpy(), "min": summaries.min().to_numpy(), "max": summaries.max().to_numpy(),
            "first_epoch": epoch_range.first().to_numpy(), "last_epoch": epoch_range.last().to_numpy(),
            "epochs": links.size().to_numpy(), ":TYPE": "LINK",
        }),
    }


def _w_in(states: pd.DataFrame, weights: pd.DataFrame) -> list[list[float] | None]:
    """Each neuron state's incoming weights, in link order (None: no stored incoming link)."""
    arrays = {key: part.sort_values("i")["w"].tolist()
              for key, part in weights.groupby(["epoch", "dst_layer", "dst_unit"], sort=False)}
    return [arrays.get((e, a, b)) for e, a, b in zip(states["epoch"], states["layer"], states["unit"], strict=True)]


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as a neo4j-admin CSV: a typed header (``rid:long``, ``w_in:double[]``...), arrays joined by ``;``."""
    header, columns = [], {}
    for column in frame.columns:
        values = frame[column]
        kind = _type(values)
        header.append(column if ":" in column or kind == "string" else f"{column}:{kind}")
        if kind.endswith("[]"):
            values = values.map(_array_text)
        elif kind == "boolean":
            values = values.map(lambda v: None if _missing(v) else str(bool(v)).lower())
        elif kind == "long":  # as Python ints in an object column, or pandas writes 8.0
            values = pd.Series([None if _missing(v) else int(v) for v in values], index=values.index, dtype=object)
        columns[column] = values
    pd.DataFrame(columns).to_csv(path, index=False, header=header)


def _type(values: pd.Series) -> str:
    """neo4j-admin's type of a column: long, double, boolean, string, or an array of one (a
    summary's ``*_count`` is a long even where missing values made pandas hold it as floats)."""
    present = [v for v in values if not _missing(v)]
    if str(values.name).endswith("_count") and present:
        return "long"
    if not present:
        return "string"
    sample = present[0]
    if _is_list(sample):
        items = [x for v in present for x in v]
        return ("double" if any(isinstance(x, (float, np.floating)) for x in items) else "long") + "[]"
    if isinstance(sample, (bool, np.bool_)):
        return "boolean"
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in present):
        return "long"
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in present):
        return "double"
    return "string"


def _array_text(value: Any) -> Any:
    return ARRAY_DELIMITER.join(repr(float(x)) if isinstance(x, (float, np.floating)) else str(x) for x in value) if _is_list(value) else None


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))

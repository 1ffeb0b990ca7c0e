"""A run as tables, out of Neo4j and back in: Parquet (or CSV) files that DuckDB, pandas or Spark read.

`export_run` writes one file per table into a folder; `import_run` reads such a folder and
writes the run into a store through the same `Writer` the Recorder uses, epoch by epoch, so the
imported run answers every query as the exported one did.

The tables (``.parquet``, or ``.csv`` with list columns as JSON text):

- ``run``: one row, the run's ``name`` and its properties (model, input shape, sample, ...);
- ``layers``: one row per node layer: ``index``, ``name``, ``kind``, ``inputs``, ``shape``,
  ``size``, ``sampled``, ``sample`` and ``uniform`` (its sampler, and whether that draws units
  uniformly; empty for runs stored before they existed), ``s_edges``, ``w_edges`` (the histogram
  bins fixed for the run);
- ``epochs``: one row per complete epoch: ``epoch`` and its properties (loss, accuracy, ...);
- ``neurons``: the stored neurons: ``layer``, ``unit``, ``in_layers``, ``in_units`` (the sources
  of their stored incoming links, in link order);
- ``links``: one row per stored link: ``src_layer``, ``src_unit``, ``dst_layer``, ``dst_unit``,
  ``i`` (its position among the destination's incoming links);
- ``neuron_states``: ``epoch``, ``layer``, ``unit``, ``s_in``, ``s_out``, ``s``, ``bias``;
- ``link_weights``: ``epoch``, ``src_layer``, ``src_unit``, ``dst_layer``, ``dst_unit``, ``i``, ``w``;
- ``layer_states``: ``epoch``, ``layer`` and every metric of the layer at that epoch
  (fluctuation, summaries, histograms, null models, activation summaries).

In CSV files a list (a histogram, a shape) is written as JSON text, ``[1, 2]``, and read back as a list.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from cntgraph.errors import ConfigurationError, QueryError
from cntgraph.records.epoch import EpochRecords, LinkBlock, NeuronBlock
from cntgraph.store.graph import Graph
from cntgraph.store.writer import Writer

__all__ = ["TABLES", "FORMATS", "export_run", "import_run", "run_tables", "read_tables"]

Format = Literal["parquet", "csv"]
FORMATS: tuple[Format, ...] = ("parquet", "csv")
TABLES = ("run", "layers", "epochs", "neurons", "links", "neuron_states", "link_weights", "layer_states")
#: properties cntgraph sets itself, which an import sets anew
_RUN_KEYS = {"name", "rid", "created_at", "layout_written"}
_EPOCH_KEYS = {"rid", "epoch", "run", "complete", "captured_at", "completed_at", "links"}
_STATE_KEYS = {"rid", "layer", "epoch", "run"}


def export_run(graph: Graph, run: str, out: Path, format: Format = "parquet") -> list[Path]:  # noqa: A002 - the CLI's name
    """Write ``run``'s tables (see the module's docstring) into folder ``out``; return their paths.

    Example:
        export_run(graph, "demo-mlp", Path("demo-mlp-tables"))  # then: duckdb.sql("FROM 'demo-mlp-tables/link_weights.parquet'")
    """
    if format not in FORMATS:
        raise ConfigurationError(f"format must be one of {list(FORMATS)}, got {format!r}")
    tables = run_tables(graph, run)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return [_write(frame, out / f"{name}.{format}", format) for name, frame in tables.items()]


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """The tables `export_run` wrote into ``folder`` (Parquet or CSV).

    Example:
        read_tables(Path("demo-mlp-tables"))["link_weights"].groupby("epoch")["w"].std()
    """
    return {table: _read(Path(folder), table) for table in TABLES}


def run_tables(graph: Graph, run: str) -> dict[str, pd.DataFrame]:
    """``run``'s tables (see the module's docstring), read from ``graph``.

    Example:
        run_tables(graph, "demo-mlp")["layer_states"][["epoch", "layer", "fluctuation"]]
    """
    epochs = graph.complete_epochs(run)  # QueryError naming the run when it is not stored
    stored = graph.query("read/export_run", run=run)
    props = {k: _plain(v) for k, v in stored["props"][0].items() if k not in _RUN_KEYS}
    layers = graph.query("query/layers", run=run).merge(
        graph.query("read/samples", rid=int(stored["rid"][0]))[["layer", "s_edges", "w_edges"]], on="layer"
    ).rename(columns={"layer": "index"})
    epoch_rows = graph.query("query/epochs", run=run)
    states, weights = [], []
    for epoch in epochs:
        rows = graph.query("read/export_neuron_states", run=run, epoch=epoch)
        states.append(rows.assign(epoch=epoch))
        weights.append(_link_rows(rows).assign(epoch=epoch))
    first = states[0]
    neurons = first[["layer", "unit", "in_layers", "in_units"]]
    layer_states = graph.query("read/export_layer_states", run=run)
    tables = {
        "run": pd.DataFrame([{"name": run, **props}]),
        "layers": layers[["index", "name", "kind", "inputs", "shape", "size", "sampled", "sample", "uniform", "s_edges", "w_edges"]],
        "epochs": pd.DataFrame([{"epoch": int(e), **{k: _plain(v) for k, v in p.items() if k not in _EPOCH_KEYS}}
                                for e, p in zip(epoch_rows["epoch"], epoch_rows["props"], strict=True)]),
        "neurons": neurons,
        "links": _link_rows(first)[["src_layer", "src_unit", "dst_layer", "dst_unit", "i"]],
        "neuron_states": pd.concat(states, ignore_index=True)[["epoch", "layer", "unit", "s_in", "s_out", "s", "bias"]],
        "link_weights": pd.concat(weights, ignore_index=True)[["epoch", "src_layer", "src_unit", "dst_layer", "dst_unit", "i", "w"]],
        "layer_states": pd.DataFrame([
            {"epoch": int(e), "layer": int(layer), **{k: _plain(v) for k, v in p.items() if k not in _STATE_KEYS}}
            for e, layer, p in layer_states[["epoch", "layer", "props"]].itertuples(index=False)
        ]),
    }
    return tables


def import_run(graph: Graph, folder: Path, name: str | None = None, progress: bool = False) -> str:
    """Write the run exported into ``folder`` into ``graph``, as ``name`` (default: its exported
    name); return the name. A run of that name already stored is an error (delete it, or choose
    another name): nothing is written then.

    Example:
        import_run(graph, Path("demo-mlp-tables"), name="demo-mlp-copy")
    """
    tables = read_tables(folder)
    run = name if name is not None else str(tables["run"]["name"][0])
    if not graph.query("read/run", name=run).empty:
        raise QueryError(f"a run named {run!r} is already stored; delete it (`cntgraph delete {run}`) or import under another name")
    run_props = {k: _native(v) for k, v in tables["run"].iloc[0].items() if k != "name" and not _missing(v)}
    layers = [{k: _native(v) for k, v in row.items() if not _missing(v)} for row in tables["layers"].to_dict("records")]
    rid = secrets.randbits(62)
    writer = Writer(graph.runner, progress=progress)
    graph.runner.ensure_schema()
    for epoch_row in tables["epochs"].to_dict("records"):
        epoch = int(epoch_row.pop("epoch"))
        records = EpochRecords(
            run=run,
            rid=rid,
            epoch=epoch,
            run_props=run_props,
            epoch_props={k: _native(v) for k, v in epoch_row.items() if not _missing(v)},
            layers=layers,
            neurons=_neuron_blocks(tables["neuron_states"], epoch, [layer["index"] for layer in layers]),
            links=_link_blocks(tables["link_weights"], epoch),
            layer_states=[
                {"layer": int(row.pop("layer")), **{k: _native(v) for k, v in row.items() if k != "epoch" and not _missing(v)}}
                for row in tables["layer_states"][tables["layer_states"]["epoch"] == epoch].to_dict("records")
            ],
        )
        if not writer.create_run(records):
            raise QueryError(f"a run named {run!r} was created by someone else while importing; nothing more was written")
        writer.write(records)
    writer.summarise(rid)
    return run


def _link_rows(states: pd.DataFrame) -> pd.DataFrame:
    """One row per stored link of the neuron-state rows: sources, destination, position ``i``, weight."""
    rows = states[states["in_units"].notna()]
    counts = rows["in_units"].map(len).to_numpy()
    return pd.DataFrame({
        "src_layer": np.concatenate([np.asarray(v, dtype=np.int64) for v in rows["in_layers"]]) if len(rows) else np.empty(0, np.int64),
        "src_unit": np.concatenate([np.asarray(v, dtype=np.int64) for v in rows["in_units"]]) if len(rows) else np.empty(0, np.int64),
        "dst_layer": np.repeat(rows["layer"].to_numpy(dtype=np.int64), counts),
        "dst_unit": np.repeat(rows["unit"].to_numpy(dtype=np.int64), counts),
        "i": np.concatenate([np.arange(n, dtype=np.int64) for n in counts]) if len(rows) else np.empty(0, np.int64),
        "w": np.concatenate([np.asarray(v, dtype=np.float64) for v in rows["w_in"]]) if len(rows) else np.empty(0),
    })


def _neuron_blocks(states: pd.DataFrame, epoch: int, layers: list[int]) -> list[NeuronBlock]:
    at = states[states["epoch"] == epoch].sort_values(["layer", "unit"])
    blocks = []
    for layer in layers:
        part = at[at["layer"] == layer]
        columns = [part[c].to_numpy(dtype=np.float64) for c in ("s_in", "s_out", "s", "bias")]
        blocks.append(NeuronBlock(int(layer), part["unit"].to_numpy(dtype=np.int64), *columns))
    return blocks


def _link_blocks(weights: pd.DataFrame, epoch: int) -> list[LinkBlock]:
    """One block per destination node layer, its links in destination then position order."""
    at = weights[weights["epoch"] == epoch].sort_values(["dst_layer", "dst_unit", "i"])
    return [
        LinkBlock(int(layer), part["src_unit"].to_numpy(dtype=np.int64), part["dst_unit"].to_numpy(dtype=np.int64),
                  part["w"].to_numpy(dtype=np.float64), part["src_layer"].to_numpy(dtype=np.int64))
        for layer, part in at.groupby("dst_layer")
    ]


def _write(frame: pd.DataFrame, path: Path, format: Format) -> Path:  # noqa: A002
    if format == "parquet":
        frame.to_parquet(path, index=False)
    else:  # list cells as JSON text
        lists = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, (list, np.ndarray))).any()]
        frame.assign(**{c: frame[c].map(_json) for c in lists}).to_csv(path, index=False)
    return path


def _read(folder: Path, table: str) -> pd.DataFrame:
    readers: dict[str, Callable[[Path], pd.DataFrame]] = {"parquet": pd.read_parquet, "csv": pd.read_csv}
    for suffix, reader in readers.items():
        path = folder / f"{table}.{suffix}"
        if path.exists():
            frame = reader(path)
            if suffix == "csv":  # the JSON text of list cells back to lists
                for column in [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c]) or frame[c].dtype == object]:
                    frame[column] = frame[column].map(lambda v: json.loads(v) if isinstance(v, str) and v.startswith("[") else v).astype(object)
            return frame
    raise ConfigurationError(
        f"{str(folder)!r} has no {table}.parquet or {table}.csv: import a folder written by `cntgraph export`"
    )


def _plain(value: Any) -> Any:
    """A stored property as a table cell: Neo4j dates as ISO text, everything else as it is."""
    return value.iso_format() if hasattr(value, "iso_format") else value


def _native(value: Any) -> Any:
    """A table cell as a Neo4j property: numpy scalars and arrays as Python numbers and lists."""
    if isinstance(value, np.ndarray):
        return [_native(v) for v in value.tolist()]
    if isinstance(value, list):
        return [_native(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _json(value: Any) -> Any:
    return json.dumps(_native(value)) if isinstance(value, (list, np.ndarray)) else value

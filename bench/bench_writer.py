"""Write throughput and disk use of ``cntgraph.store.writer.Writer``; prints markdown tables for docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_writer.py               # starts (and stops) its own Neo4j servers
    .venv/bin/python bench/bench_writer.py --uri bolt://127.0.0.1:7687 --password ...   # no disk section

The records are one epoch of a 784-512-512-10 MLP with ``Full()`` sampling: 1,818 neurons and
668,672 links (784x512 + 512x512 + 512x10), built by ``capture.new_layout`` and ``build_records``.

(a) ``Writer.write`` at several batch sizes: one run per batch size, epochs written round-robin
    across the runs so that each sees the same store growth; epoch 0 includes creating the run
    (Run, Layer and Neuron nodes) and, for the first run, the JVM's JIT warm-up;
(b) peers on the same links (layer 1: 784 x 512), all writing one epoch of them: a naive writer
    (one auto-commit transaction per link, a LINK relationship each, timed on a few thousand
    links), the usual ``UNWIND $rows`` of maps with a ``MATCH`` of both endpoints per row, the
    layout cntgraph had until 2026-11-21 (a LINK relationship per link and epoch, columnar
    ``UNWIND``, a range index on (rid, epoch, lid)), and ours (``write/neuron_states``: one
    NeuronState per neuron and epoch holding its incoming weights as the array ``w_in``);
(c) bytes on disk per link-epoch, ours and the previous layout, each in a fresh server: store growth from N more epochs, measured
    after clean shutdowns (which checkpoint; Community has no ``db.checkpoint()``), split by store file and index, and the transaction log volume written;
(d) the LINK relationships (one per stored link, once per run): creating them, epochs written to a
    run with them and to one without (the layout before them), round-robin, and their summaries.

CPU seconds of our Neo4j JVM (from /proc) and its garbage-collection time (jstat) are reported
next to wall times, and so is the CPU other processes used meanwhile.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from common import (
    BenchServer,
    CpuUse,
    add_server_arguments,
    bench_server,
    fresh_instance,
    load_average,
    machine,
    median,
    quiet_run,
    started,
    stop_on_sigterm,
    tree_bytes,
)
from torch import nn

from cntgraph.core.network import Snapshot
from cntgraph.core.sampling import Full
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace
from cntgraph.records.build import RunLayout, build_records, new_layout
from cntgraph.records.epoch import EpochRecords, LinkBlock
from cntgraph.store.graph import Graph
from cntgraph.store.writer import (
    Writer,
    delete_run,
    epoch_statements,
    transactions,
)

WIDTHS = (784, 512, 512, 10)

# Bench-only Cypher: peers and alternatives to compare with, not library queries.
NAIVE_LINK = """
MATCH (a:Neuron {rid: $rid, layer: $src_layer, unit: $src}), (b:Neuron {rid: $rid, layer: $dst_layer, unit: $dst})
CREATE (a)-[:LINK {rid: $rid, epoch: $epoch, lid: $lid, w: $w}]->(b)
"""
ROW_LINKS = """
UNWIND $rows AS row
MATCH (a:Neuron {rid: $rid, layer: $src_layer, unit: row.src})
MATCH (b:Neuron {rid: $rid, layer: $dst_layer, unit: row.dst})
CREATE (a)-[:LINK {rid: $rid, epoch: $epoch, lid: row.lid, w: row.w}]->(b)
RETURN count(*) AS links
"""
PREVIOUS_LINKS = """
CALL () {
  UNWIND range(0, size($src_units) - 1) AS j
  MATCH (a:Neuron {rid: $rid, layer: $src_layer, unit: $src_units[j]})
  WITH a ORDER BY j
  RETURN collect(a) AS sources
}
CALL () {
  UNWIND range(0, size($dst_units) - 1) AS j
  MATCH (b:Neuron {rid: $rid, layer: $dst_layer, unit: $dst_units[j]})
  WITH b ORDER BY j
  RETURN collect(b) AS targets
}
UNWIND range(0, size($lid) - 1) AS i
WITH sources[$src_at[i]] AS a, targets[$dst_at[i]] AS b, i
CREATE (a)-[:LINK {rid: $rid, epoch: $epoch, lid: $lid[i], w: $w[i]}]->(b)
RETURN count(*) AS links
"""
PEER_BATCH = 20_000  # rows per transaction in (b), for every writer: the best of the previous layout
PREVIOUS_INDEX = "CREATE INDEX bench_link_epoch_lid IF NOT EXISTS FOR ()-[w:LINK]-() ON (w.rid, w.epoch, w.lid)"


# -- records ---------------------------------------------------------------------------------
def mlp_snapshot(seed: int = 0) -> Snapshot:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for n_in, n_out in zip(WIDTHS, WIDTHS[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    return take_snapshot(model, trace(model, (WIDTHS[0],)))


def run_layout(snapshot: Snapshot, name: str) -> RunLayout:
    rid = int.from_bytes(os.urandom(7), "big")
    return new_layout(f"{name}-{time.time_ns()}", rid, snapshot, Full())


def records_of(layout: RunLayout, snapshot: Snapshot, epoch: int) -> EpochRecords:
    return build_records(layout, snapshot, epoch, {"loss": 0.0})


# -- measuring -------------------------------------------------------------------------------
def gc_seconds(pid: int | None) -> float:
    """Total GC time of JVM ``pid`` so far (jstat's GCT), NaN when unknown."""
    if pid is None or shutil.which("jstat") is None:
        return float("nan")
    out = subprocess.run(["jstat", "-gcutil", str(pid)], capture_output=True, text=True, check=False).stdout.split()
    try:
        return float(out[-1])  # a header line, then the values: GCT is the last column
    except (IndexError, ValueError):
        return float("nan")


class Measure:
    """Wall time and CPU split of one call on a quiet machine (see ``common.quiet_run``), and the
    JVM's GC time around it (read with jstat outside the timed window; it includes any discarded
    attempt)."""

    def __init__(self, bench: BenchServer, quiet: float) -> None:
        self.pid = bench.server.state().pid if bench.server is not None else None
        self.quiet = quiet
        self.discarded = 0

    def __call__(self, work: Callable[[], object]) -> tuple[CpuUse, float]:
        gc = gc_seconds(self.pid)
        _, use, discarded = quiet_run(work, self.pid, quiet=self.quiet)
        self.discarded += discarded
        return use, gc_seconds(self.pid) - gc


def link_ids(block: LinkBlock) -> np.ndarray:
    """The link ids of cntgraph's previous layout: ``dst_layer << 48 | src << 24 | dst``."""
    return (np.int64(block.layer) << 48) | (block.src << 24) | block.dst


def previous_batches(block: LinkBlock, batch_size: int) -> Iterator[dict[str, object]]:
    """The columnar parameters of the previous layout's link writes, ``batch_size`` links each."""
    lid = link_ids(block)
    for start in range(0, block.w.size, batch_size):
        part = slice(start, start + batch_size)
        src_units, src_at = np.unique(block.src[part], return_inverse=True)
        dst_units, dst_at = np.unique(block.dst[part], return_inverse=True)
        yield {
            "src_layer": block.layer - 1, "dst_layer": block.layer,
            "src_units": src_units.tolist(), "dst_units": dst_units.tolist(),
            "src_at": src_at.tolist(), "dst_at": dst_at.tolist(), "lid": lid[part].tolist(), "w": block.w[part].tolist(),
        }


# -- (a) Writer.write at several batch sizes --------------------------------------------------
def bench_batch_sizes(bench: BenchServer, snapshot: Snapshot, sizes: list[int], epochs: int, quiet: float) -> list[str]:
    measure = Measure(bench, quiet)
    layouts = {size: run_layout(snapshot, f"bench-writer-b{size}") for size in sizes}
    writers = {size: Writer(bench.graph.runner, batch_size=size, progress=False) for size in sizes}
    results: dict[int, list[tuple[CpuUse, float]]] = {size: [] for size in sizes}
    next_epoch = {size: 0 for size in sizes}
    links = records_of(layouts[sizes[0]], snapshot, 0).link_count
    for round_ in range(epochs):
        for size in sizes:

            def write(size: int = size) -> None:  # a new epoch at every attempt
                writers[size].write(records_of(layouts[size], snapshot, next_epoch[size]))
                next_epoch[size] += 1

            use, gc = measure(write)
            results[size].append((use, gc))
            print(
                f"  batch {size:>7,} round {round_} (epoch {next_epoch[size] - 1}): {links / use.wall:8,.0f} links/s  {use.describe()}; "
                f"JVM GC {gc:.1f} s; load {load_average()}",
                flush=True,
            )
    rows = [
        f"| batch size | epoch 0 (run created; JIT warm-up) | median of epochs 1-{epochs - 1} | "
        "Neo4j CPU per link | of which GC (wall) | others' CPU during (cores) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for size in sizes:
        first, rest = results[size][0][0], [use for use, _ in results[size][1:]]
        wall = median([u.wall for u in rest])
        rows.append(
            f"| {size:,} | {first.wall:.1f} s = {links / first.wall:,.0f} links/s | {wall:.1f} s = "
            f"**{links / wall:,.0f} links/s** | {median([u.jvm for u in rest]) / links * 1e6:.2f} us | "
            f"{median([gc for _, gc in results[size][1:]]):.1f} s | "
            f"{median([u.others / u.wall for u in rest]):.2f} |"
        )
    rows.append("")
    rows.append(f"Each epoch: {links:,} links, 1,818 neuron states, 4 layer states; `Writer.write` end to end. "
                f"Measurements discarded and repeated because other processes used >= {quiet} cores meanwhile: "
                f"{measure.discarded}.")
    return rows


# -- (b) peers -------------------------------------------------------------------------------
def bench_peers(bench: BenchServer, snapshot: Snapshot, naive_links: int, repeat: int, quiet: float) -> list[str]:
    measure = Measure(bench, quiet)
    bench.graph.runner.driver.execute_query(PREVIOUS_INDEX)
    bench.graph.runner.driver.execute_query("CALL db.awaitIndexes(300)")
    layout = run_layout(snapshot, "bench-writer-peers")
    writer = Writer(bench.graph.runner, progress=False)
    writer.write(records_of(layout, snapshot, 0))  # the run's nodes, and a warm JIT
    records = records_of(layout, snapshot, 1)
    block = records.links[0]  # 784 x 512 = 401,408 links of layer 1
    graph, driver, rid = bench.graph, bench.graph.runner.driver, layout.rid
    epoch = iter(range(1000, 10**6))

    def naive(e: int) -> None:
        lid = link_ids(block)
        for i in range(naive_links):
            driver.execute_query(
                NAIVE_LINK, routing_="w",
                parameters_=dict(rid=rid, epoch=e, src_layer=0, dst_layer=1, src=int(block.src[i]),
                                 dst=int(block.dst[i]), lid=int(lid[i]), w=float(block.w[i])),
            )

    def rows_unwind(e: int) -> None:
        lid = link_ids(block)
        for start in range(0, block.w.size, PEER_BATCH):
            part = slice(start, start + PEER_BATCH)
            rows = [
                {"src": s, "dst": d, "lid": i, "w": w}
                for s, d, i, w in zip(block.src[part].tolist(), block.dst[part].tolist(), lid[part].tolist(), block.w[part].tolist())
            ]
            driver.execute_query(ROW_LINKS, routing_="w",
                                 parameters_=dict(rid=rid, epoch=e, src_layer=0, dst_layer=1, rows=rows))

    def previous(e: int) -> None:
        for params in previous_batches(block, PEER_BATCH):
            driver.execute_query(PREVIOUS_LINKS, routing_="w", parameters_=dict(rid=rid, epoch=e, **params))

    def ours(e: int) -> None:
        layer_1 = [(name, {**params, "epoch": e}) for name, params in epoch_statements(records, PEER_BATCH)
                   if name == "write/neuron_states" and params["layer"] == 1]
        for group in transactions(layer_1, PEER_BATCH):
            graph.runner.run_many(group)

    cases = [
        (f"naive: one transaction per link (`MATCH` both, `CREATE` a LINK), {naive_links:,} links", naive, naive_links),
        (f"`UNWIND $rows` of maps, `MATCH` both endpoints per row, a LINK each, {PEER_BATCH:,} per tx", rows_unwind, block.w.size),
        (f"cntgraph until 2026-11-21: columnar, a LINK per link and epoch, index (rid, epoch, lid), {PEER_BATCH:,} per tx",
         previous, block.w.size),
        (f"ours: a NeuronState per neuron and epoch with `w_in` (512 arrays of 784), {PEER_BATCH:,} weights per tx",
         ours, block.w.size),
    ]
    times: dict[str, list[CpuUse]] = {label: [] for label, _, _ in cases}
    for r in range(repeat):
        for label, work, n in cases if r % 2 == 0 else cases[::-1]:
            use, _ = measure(lambda work=work: work(next(epoch)))
            times[label].append(use)
            print(f"  {label}: {n / use.wall:,.0f} links/s  {use.describe()}", flush=True)
    delete_run(graph.runner, layout.rid)  # the peers' LINK relationships too
    ours_speed = block.w.size / median([u.wall for u in times[cases[-1][0]]])
    rows = [f"| writer (links of layer 1: 784 x 512 = {block.w.size:,}), median of {repeat} | links/s | Neo4j CPU per link | ours is faster by |",
            "| --- | --- | --- | --- |"]
    for label, _, n in cases:
        wall = median([u.wall for u in times[label]])
        jvm = median([u.jvm for u in times[label]])
        rows.append(f"| {label} | {n / wall:,.0f} | {jvm / n * 1e6:.2f} us | {ours_speed / (n / wall):.1f}x |")
    rows.append("")
    rows.append(f"Measurements discarded and repeated because other processes used >= {quiet} cores meanwhile: "
                f"{measure.discarded}.")
    return rows


# -- (c) bytes on disk ------------------------------------------------------------------------
def tx_log_positions(folder: Path) -> dict[int, int]:
    """Bytes written to each transaction log file (the current one is preallocated with zeros)."""
    files = sorted(folder.glob("neostore.transaction.db.*"), key=lambda p: int(p.suffix[1:]))
    written = {}
    for i, path in enumerate(files):
        size = path.stat().st_size
        written[int(path.suffix[1:])] = _last_nonzero(path, size) if i == len(files) - 1 else size
    return written


def _last_nonzero(path: Path, size: int, chunk: int = 1 << 23) -> int:
    with open(path, "rb") as handle:
        end = size
        while end > 0:
            start = max(0, end - chunk)
            handle.seek(start)
            data = np.frombuffer(handle.read(end - start), dtype=np.uint8)
            nonzero = np.flatnonzero(data)
            if nonzero.size:
                return start + int(nonzero[-1]) + 1
            end = start
    return 0


def tx_log_growth(before: dict[int, int], after: dict[int, int]) -> int:
    return sum(size - before.get(version, 0) for version, size in after.items() if version >= min(before, default=0))


def store_parts(store: Path, index_names: dict[str, str]) -> dict[str, tuple[int, int]]:
    """(bytes in use, file size) of each part of the store folder: record stores and indexes.

    Neo4j grows its files in large preallocated steps filled with zeros, so "in use" is measured
    up to each file's last non-zero byte; the file size is what ``ls`` shows.
    """
    parts: dict[str, list[int]] = {}
    for path in store.rglob("*"):
        if not path.is_file():
            continue
        size = path.stat().st_size
        rel = path.relative_to(store)
        if rel.parts[0] == "schema" and len(rel.parts) >= 4:
            key = f"index {index_names.get(rel.parts[3], rel.parts[2] + '/' + rel.parts[3])}"
        elif path.name.startswith("neostore.relationshipstore"):
            key = "relationship store"
        elif path.name.startswith("neostore.propertystore"):
            key = "property stores"
        elif path.name.startswith("neostore.nodestore"):
            key = "node store"
        else:
            key = "other store files"
        total = parts.setdefault(key, [0, 0])
        total[0] += _last_nonzero(path, size)
        total[1] += size
    return {key: (used, size) for key, (used, size) in parts.items()}


class PreviousWriter:
    """cntgraph's previous layout, for the disk comparison: the same neuron and layer states
    without ``w_in``, and a LINK relationship per link and epoch (index (rid, epoch, lid))."""

    def __init__(self, graph: Graph) -> None:
        graph.runner.driver.execute_query(PREVIOUS_INDEX)
        graph.runner.driver.execute_query("CALL db.awaitIndexes(300)")
        self.graph, self.states = graph, Writer(graph.runner, progress=False)

    def write(self, records: EpochRecords) -> int:
        self.states.write(dataclasses.replace(records, links=[]))
        for block in records.links:
            for params in previous_batches(block, PEER_BATCH):
                self.graph.runner.driver.execute_query(
                    PREVIOUS_LINKS, routing_="w", parameters_=dict(rid=records.rid, epoch=records.epoch, **params)
                )
        return records.link_count


def bench_disk(args: argparse.Namespace, snapshot: Snapshot, epochs: int, layout_name: str) -> tuple[list[str], float]:
    """Store growth from N epochs, each side of a clean shutdown (Community has no db.checkpoint()).

    ``layout_name`` is "ours" (``Writer``) or "previous" (:class:`PreviousWriter`). Returns the
    table and the store's bytes per link-epoch.
    """
    make_writer: Callable[[Graph], Writer | PreviousWriter] = (
        (lambda graph: Writer(graph.runner, progress=False)) if layout_name == "ours" else PreviousWriter
    )
    with fresh_instance(f"writer-disk-{layout_name}") as server:
        store = server.data_dir / "databases" / "neo4j"
        tx_logs = server.data_dir / "transactions" / "neo4j"
        layout = run_layout(snapshot, "bench-writer-disk")
        with started(server, args) as graph:
            graph.runner.ensure_schema()
            links = make_writer(graph).write(records_of(layout, snapshot, 0))  # run, layers, neurons, epoch 0
            indexes, _, _ = graph.runner.driver.execute_query("SHOW INDEXES YIELD id, name, type, entityType")
            names = {
                str(row["id"]): f"{row['entityType'].lower()} lookup (built in)" if row["type"] == "LOOKUP" else row["name"]
                for row in indexes
            }
            store_format = graph.runner.driver.execute_query("SHOW DATABASE neo4j YIELD store")[0][0]["store"]
        before = store_parts(store, names)
        tx_written = 0
        with started(server, args) as graph:
            writer = make_writer(graph)
            for epoch in range(1, epochs + 1):
                positions = tx_log_positions(tx_logs)
                writer.write(records_of(layout, snapshot, epoch))
                tx_written += tx_log_growth(positions, tx_log_positions(tx_logs))
        after = store_parts(store, names)
        tx_apparent, tx_allocated = tree_bytes(tx_logs)
    link_epochs = links * epochs
    rows = [
        f"| {layout_name} layout: part of the store, growth over {epochs} epochs = {link_epochs:,} link-epochs "
        "| bytes per link-epoch, in use | file size growth |",
        "| --- | --- | --- |",
    ]
    total = [0, 0]
    for key in sorted(set(before) | set(after), key=lambda k: -(after.get(k, (0, 0))[0] - before.get(k, (0, 0))[0])):
        grow = [after.get(key, (0, 0))[i] - before.get(key, (0, 0))[i] for i in (0, 1)]
        total = [total[0] + grow[0], total[1] + grow[1]]
        if grow[0] or grow[1]:
            rows.append(f"| {key} | {grow[0] / link_epochs:.1f} | {grow[1] / link_epochs:.1f} |")
    rows.append(f"| **store, total** (`data/databases/neo4j`) | **{total[0] / link_epochs:.1f}** | {total[1] / link_epochs:.1f} |")
    rows.append(f"| transaction log volume written (`data/transactions/neo4j`) | {tx_written / link_epochs:.1f} | |")
    rows.append("")
    rows.append(
        f"Store format: {store_format}. Transaction log folder after the run: {tx_apparent / 2**20:,.0f} MiB "
        f"(allocated {tx_allocated / 2**20:,.0f} MiB); it is bounded by the retention policy, not by the "
        "number of epochs."
    )
    return rows, total[0] / link_epochs


# -- (d) LINK relationships ---------------------------------------------------------------------
def layout_without_links(writer: Writer, records: EpochRecords) -> None:
    """Write a run's layout as cntgraph did before LINK relationships: Run, Layer and Neuron nodes only."""
    writer.create_run(records)  # the layout; a Writer adds the LINKs with the first epoch, unless told they are there
    writer._runs_linked.add(records.rid)  # noqa: SLF001 - so that it never does, as before


def bench_links(bench: BenchServer, snapshot: Snapshot, epochs: int, quiet: float) -> list[str]:
    """Creating the LINKs of a fully stored run once, then epochs written to a run with them and to one without, round-robin."""
    measure = Measure(bench, quiet)
    runner = bench.graph.runner
    layouts = {kind: run_layout(snapshot, f"bench-links-{kind}") for kind in ("with LINKs", "without LINKs")}
    writers = {kind: Writer(runner, progress=False) for kind in layouts}
    for kind, layout in layouts.items():
        layout_without_links(writers[kind], records_of(layout, snapshot, 0))
    links_use, links_gc = measure(lambda: runner.run_autocommit("write/links", rid=layouts["with LINKs"].rid))
    created = bench.graph.cypher("MATCH (:Neuron {rid: $rid})-[l:LINK]->() RETURN count(l) AS n", rid=layouts["with LINKs"].rid)["n"][0]
    print(f"  {created:,} LINKs in {links_use.describe()}; GC {links_gc:.1f} s", flush=True)
    per_epoch: dict[str, list[CpuUse]] = {kind: [] for kind in layouts}
    for epoch in range(epochs):
        for kind in (list(layouts) if epoch % 2 == 0 else list(layouts)[::-1]):
            use, _ = measure(lambda kind=kind, epoch=epoch: writers[kind].write(records_of(layouts[kind], snapshot, epoch)))
            per_epoch[kind].append(use)
            print(f"  {kind} epoch {epoch}: {use.describe()}", flush=True)
    summary_use, _ = measure(lambda: writers["with LINKs"].summarise(layouts["with LINKs"].rid))
    links = records_of(layouts["with LINKs"], snapshot, 0).link_count
    rows = [
        f"| 784-512-512-10 MLP, `Full()`: {links:,} stored links | wall | Neo4j CPU | per link |",
        "| --- | --- | --- | --- |",
        f"| creating the run's `LINK`s, once (`write/links`) | {links_use.wall:.1f} s | {links_use.jvm:.1f} s | "
        f"{links_use.wall / created * 1e6:.1f} us wall |",
    ]
    for kind in layouts:
        rest = per_epoch[kind][1:]
        wall = median([u.wall for u in rest])
        rows.append(
            f"| an epoch, run {kind} (median of epochs 1-{epochs - 1}) | {wall:.2f} s = **{links / wall:,.0f} links/s** | "
            f"{median([u.jvm for u in rest]):.2f} s | {median([u.jvm for u in rest]) / links * 1e6:.2f} us JVM |"
        )
    rows.append(
        f"| the `LINK` summaries over {epochs} epochs (`write/link_summaries`, at `close()`) | {summary_use.wall:.1f} s | "
        f"{summary_use.jvm:.1f} s | {summary_use.wall / created * 1e6:.1f} us wall |"
    )
    rows += ["", f"Epochs written round-robin to the two runs, the order reversed every other epoch; epoch 0 is warm-up. "
             f"Measurements repeated because other processes used >= {quiet} cores meanwhile: {measure.discarded}."]
    return rows


def parse_sizes(text: str) -> list[int]:
    return [int(float(part.lower().replace("k", "e3"))) for part in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_server_arguments(parser)
    parser.add_argument("--batches", default="5k,20k,50k,100k", help="batch sizes (default 5k,20k,50k,100k)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per batch size, the first being warm-up (default 4)")
    parser.add_argument("--naive-links", type=int, default=2000, help="links the naive writer writes (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of the peer runs (default 3)")
    parser.add_argument("--disk-epochs", type=int, default=6, help="epochs written for the disk measurement (default 6)")
    parser.add_argument("--sections", default="sizes,peers,disk,links")
    parser.add_argument("--quiet", type=float, default=0.3, help="wait until other processes use less than this many "
                        "cores before each measurement, and repeat one during which they used more; 0: never (default 0.3)")
    args = parser.parse_args()
    stop_on_sigterm()
    sections = set(args.sections.split(","))
    print(f"Machine: {machine()}")
    print(f"Load average before: {load_average()}\n", flush=True)
    snapshot = mlp_snapshot()
    out: list[list[str]] = []
    if sections & {"sizes", "peers", "links"}:
        with bench_server(args, "writer") as bench:
            bench.graph.runner.ensure_schema()
            if "sizes" in sections:
                print("(a) Writer.write by batch size")
                out.append(bench_batch_sizes(bench, snapshot, parse_sizes(args.batches), args.epochs, args.quiet))
            if "peers" in sections:
                print("(b) peers")
                out.append(bench_peers(bench, snapshot, args.naive_links, args.repeat, args.quiet))
            if "links" in sections:
                print("(d) LINK relationships")
                out.append(bench_links(bench, snapshot, args.epochs, args.quiet))
    if "disk" in sections:
        if args.uri:
            print("(c) skipped: the disk measurement needs a server of our own (no --uri)")
        else:
            print("(c) bytes on disk, ours and the previous layout")
            ours, ours_bytes = bench_disk(args, snapshot, args.disk_epochs, "ours")
            previous, previous_bytes = bench_disk(args, snapshot, args.disk_epochs, "previous")
            out += [ours, previous, [f"Store bytes per link-epoch: previous / ours = {previous_bytes / ours_bytes:.1f}x."]]
    print()
    for rows in out:
        print("\n".join(rows) + "\n")
    print(f"Load average after: {load_average()}")


if __name__ == "__main__":
    main()

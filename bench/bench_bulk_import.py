"""Bulk loading with neo4j-admin beside the live writer, on the same run; for docs/BENCHMARKS.md and docs/SCALE.md.

    .venv/bin/python bench/bench_bulk_import.py            # one run of 100 epochs x 101,632 links (1.0e7 link-epochs)
    .venv/bin/python bench/bench_bulk_import.py --epochs 10

The run is bench_scale.py's (a 784-128-10 MLP stored in full, weights moved by a random step every
epoch). Side by side, each in a fresh managed server of its own (heap 1g, page cache 512m):

- live: the library's `Writer`, epoch by epoch (records built and written, as a recorder does);
- bulk: the same run read back as tables (`run_tables`), written as neo4j-admin's CSV files
  (`write_import_files`), imported offline by ``neo4j-admin database import full``, and the server
  started with cntgraph's indexes built (``ensure_schema``, then waiting for them to be online).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_scale import WIDTHS, write_run
from common import add_server_arguments, fresh_instance, load_average, machine, started

from cntgraph.store.bulk_import import write_import_files
from cntgraph.store.tables import run_tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    add_server_arguments(parser)
    args = parser.parse_args()
    links = args.epochs * (WIDTHS[0] * WIDTHS[1] + WIDTHS[1] * WIDTHS[2])
    print(f"Machine: {machine()}; load average before: {load_average()}")
    with fresh_instance("live") as server, started(server, args) as graph:
        graph.runner.ensure_schema()
        written, live = write_run(graph, 0, args.epochs)
        assert written == links
        began = time.perf_counter()
        tables = run_tables(graph, "scale-000")
        read_back = time.perf_counter() - began
    with tempfile.TemporaryDirectory(prefix="cntgraph-bulk-") as folder, fresh_instance("bulk") as server:
        began = time.perf_counter()
        arguments = write_import_files([tables], Path(folder))
        files = time.perf_counter() - began
        size = sum(path.stat().st_size for path in Path(folder).glob("*.csv"))
        with started(server, args):
            pass  # a first start creates the store and the password; the import then replaces the database
        began = time.perf_counter()
        report = server.admin_import(arguments)
        imported = time.perf_counter() - began
        with started(server, args) as graph:
            began = time.perf_counter()
            graph.runner.ensure_schema()
            assert graph.complete_epochs("scale-000") == list(range(args.epochs))
            schema = time.perf_counter() - began
    print(f"load average after: {load_average()}\n{report.strip().splitlines()[-1]}")
    print(f"\n| {links:,} link-epochs (1 run x {args.epochs} epochs) | seconds | links/s |\n| --- | --- | --- |")
    print(f"| live writer (records built and written) | {live:.1f} | {links / live:,.0f} |")
    print(f"| bulk: read back as tables | {read_back:.1f} | |")
    print(f"| bulk: neo4j-admin CSV files written ({size / 2**20:.0f} MiB) | {files:.1f} | {links / files:,.0f} |")
    print(f"| bulk: neo4j-admin database import full | {imported:.1f} | {links / imported:,.0f} |")
    print(f"| bulk: indexes built and the run read (ensure_schema, first query) | {schema:.1f} | |")
    total = files + imported + schema
    print(f"| **bulk from tables to a queryable store** | **{total:.1f}** | **{links / total:,.0f}** |")


if __name__ == "__main__":
    main()

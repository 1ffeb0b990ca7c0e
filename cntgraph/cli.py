"""The ``cntgraph`` command: a thin layer over the Python API (one call, then printing)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from cntgraph.errors import CntgraphError

Handler = Callable[[argparse.Namespace], int]


# -- cntgraph neo4j ... ------------------------------------------------------------------------
def _server():  # noqa: ANN202 - imported lazily so that `cntgraph --help` stays fast
    from cntgraph.server import ManagedServer

    return ManagedServer()


def _neo4j_install(args: argparse.Namespace) -> int:
    dist = _server().install(progress=True)
    print(f"Neo4j {dist.version} Community and Browser {dist.browser_version} are installed in {dist.folder}")
    return 0


def _neo4j_start(args: argparse.Namespace) -> int:
    server = _server()
    state, started = server.start(
        bolt_port=args.bolt_port, http_port=args.http_port, heap=args.heap, pagecache=args.pagecache
    )
    print(("Started" if started else "Already running:") + f" Neo4j {state.version} (pid {state.pid})")
    print(f"  Bolt     {state.bolt_uri}")
    print(f"  Browser  {state.browser_url}  (user neo4j, password in {server.password_file})")
    return 0


def _neo4j_stop(args: argparse.Namespace) -> int:
    stopped = _server().stop(timeout=args.timeout)
    print(f"Stopped Neo4j (pid {stopped.pid})" if stopped else "The managed Neo4j server is not running.")
    return 0


def _neo4j_status(args: argparse.Namespace) -> int:
    status = _server().status()
    state = status.state
    print(f"state      {'running' if state else 'stopped'}{'' if status.installed else ' (not installed)'}")
    print(f"version    Neo4j {status.version} Community")
    if state is not None:
        print(f"pid        {state.pid}")
        print(f"bolt       {state.bolt_uri}")
        print(f"browser    {state.browser_url}")
    print(f"data       {status.data_dir}")
    return 0 if state else 3


def _neo4j_logs(args: argparse.Namespace) -> int:
    print(_server().logs(args.lines))
    return 0


# -- cntgraph demo -----------------------------------------------------------------------------
def _demo(args: argparse.Namespace) -> int:
    from cntgraph.demo import tiny_graph
    from cntgraph.graph import connect

    with connect() as graph:
        links = tiny_graph(graph)
        print(f"Wrote and read back a {len(links)}-link neuron graph ({graph.source}):")
        print(links.to_string(index=False))
        print(f"\nNeo4j Browser: {graph.browser_url}")
        print("  try: MATCH p=(:DemoNeuron)-[:DEMO_LINK]->() RETURN p")
    return 0


# -- cntgraph replay ---------------------------------------------------------------------------
def _replay(args: argparse.Namespace) -> int:
    from cntgraph.graph import connect
    from cntgraph.writer import replay, spool_folder

    folder = args.spool or spool_folder()
    with connect() as graph:
        written = replay(graph, folder)
    for run, epoch in written:
        print(f"wrote run {run!r} epoch {epoch}")
    print(f"{len(written)} spooled epoch(s) written from {folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cntgraph`` command."""
    parser = argparse.ArgumentParser(prog="cntgraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    neo4j = commands.add_parser("neo4j", help="install, start, stop and inspect the managed local Neo4j")
    server_commands = neo4j.add_subparsers(dest="action", required=True, metavar="ACTION")
    server_commands.add_parser("install", help="resolve Neo4j 5.26 and Browser from Maven Central").set_defaults(
        handler=_neo4j_install
    )
    start = server_commands.add_parser("start", help="start the server in the background")
    start.add_argument("--bolt-port", type=int, help="Bolt port (default 7687, or CNTGRAPH_BOLT_PORT)")
    start.add_argument("--http-port", type=int, help="HTTP/Browser port (default 7474, or CNTGRAPH_HTTP_PORT)")
    start.add_argument("--heap", help="JVM heap, e.g. 1g (default 512m, or CNTGRAPH_HEAP)")
    start.add_argument("--pagecache", help="page cache, e.g. 512m (default 256m, or CNTGRAPH_PAGECACHE)")
    start.set_defaults(handler=_neo4j_start)
    stop = server_commands.add_parser("stop", help="stop the server cntgraph started")
    stop.add_argument("--timeout", type=float, default=60.0, help="seconds to wait after SIGTERM")
    stop.set_defaults(handler=_neo4j_stop)
    server_commands.add_parser("status", help="state, version, ports and data folder").set_defaults(
        handler=_neo4j_status
    )
    logs = server_commands.add_parser("logs", help="the tail of the server's logs")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.set_defaults(handler=_neo4j_logs)

    replay = commands.add_parser("replay", help="write epochs spooled while Neo4j was unreachable")
    replay.add_argument("--spool", type=Path, help="spool folder (default: $CNTGRAPH_HOME/spool)")
    replay.set_defaults(handler=_replay)

    commands.add_parser("demo", help="connect, write a tiny neuron graph, read it back").set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cntgraph`` console command."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CntgraphError as error:
        print(f"cntgraph: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``cntgraph`` command: a thin layer over the Python API (one call, then printing)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cntgraph.errors import CntgraphError, ConfigurationError

if TYPE_CHECKING:
    import pandas as pd

    from cntgraph.studies.ensemble.analysis import Analysis

Handler = Callable[[argparse.Namespace], int]


# -- cntgraph neo4j ... ------------------------------------------------------------------------
def _server():  # noqa: ANN202 - imported lazily so that `cntgraph --help` stays fast
    from cntgraph.server import ManagedServer

    return ManagedServer()


def _neo4j_install(args: argparse.Namespace) -> int:
    dist = _server().install(progress=True)
    print(
        f"Neo4j {dist.version} Community, Browser {dist.browser_version} and APOC {dist.apoc_version} "
        f"are installed in {dist.folder}"
    )
    return 0


def _neo4j_start(args: argparse.Namespace) -> int:
    server = _server()
    state, started = server.start(
        bolt_port=args.bolt_port, http_port=args.http_port, heap=args.heap, pagecache=args.pagecache, nice=args.nice
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
    from cntgraph.server.connect import connect
    from cntgraph.studies.demo import RUNS, browser_queries, run_demo

    print("cntgraph demo: two small networks learn scikit-learn's 8x8 handwritten digits,")
    print("and every epoch of their training goes into Neo4j.")
    for demo in RUNS:
        print(f"  {demo.run}: {demo.describe}")
    with connect() as graph:
        result = run_demo(graph, args.out, epochs=args.epochs)
        print(f"\nLayer fluctuation (std of node strength) at the first and last epoch, from {graph.source}:")
        print(result.summary.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print("\nPlots:")
        for path in result.plots:
            print(f"  {path}")
        print(f"\nNeo4j Browser: {graph.browser_url}")
        print("Paste one of these into Browser:")
        for query in browser_queries(args.epochs - 1):
            print("\n" + "\n".join(f"  {line}" for line in query.splitlines()))
    print(f"\nWatch {RUNS[0].run} learn, layer by layer, in a web page (then open the address it prints):")
    print(f"  cntgraph view {RUNS[0].run}")
    return 0


# -- cntgraph ingest ---------------------------------------------------------------------------
def _ingest(args: argparse.Namespace) -> int:
    from cntgraph.core.sampling import Uniform
    from cntgraph.recording.ingest import ingest, load_factory

    sample = None if args.sample_k is None else Uniform(args.sample_k, seed=args.seed)  # None: the Recorder's default
    written = ingest(
        load_factory(args.model), args.input_shape, args.run, args.checkpoints,
        sample=sample, epoch_pattern=args.epoch_pattern, if_exists=args.if_exists,
    )
    print(f"Recorded {len(written)} epoch(s) of run {args.run!r}: {', '.join(map(str, written))}")
    return 0


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape like 1,28,28 or 784") from None
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape like 1,28,28 or 784")
    return shape


# -- cntgraph replay ---------------------------------------------------------------------------
def _replay(args: argparse.Namespace) -> int:
    from cntgraph.recording.replay import replay
    from cntgraph.records.spool import spool_folder
    from cntgraph.server.connect import connect

    if args.files and args.spool:
        raise ConfigurationError("give spool files or --spool FOLDER, not both")
    where = ", ".join(map(str, args.files)) if args.files else str(args.spool or spool_folder())
    with connect() as graph:
        written = replay(graph, args.spool, files=args.files or None, as_run=args.as_run)
    for run, epoch in written:
        print(f"wrote run {run!r} epoch {epoch}")
    print(f"{len(written)} spooled epoch(s) written from {where}")
    return 0


# -- cntgraph delete / repair -----------------------------------------------------------------------
def _delete(args: argparse.Namespace) -> int:
    from cntgraph.server.connect import connect
    from cntgraph.store.writer import delete_run

    with connect() as graph:
        found = graph.query("read/run", name=args.run)
        if found.empty:
            graph.check_subjects(run=args.run)  # names the runs there are
        epochs = int(found["epochs"][0])
        if not args.yes:
            answer = input(f"Delete run {args.run!r} and its {epochs} complete epoch(s) from {graph.source}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("Nothing deleted.")
                return 1
        delete_run(graph.runner, int(found["rid"][0]))
    print(f"Deleted run {args.run!r} ({epochs} complete epoch(s))")
    return 0


def _repair(args: argparse.Namespace) -> int:
    from cntgraph.server.connect import connect
    from cntgraph.store.writer import Writer, delete_incomplete_epochs

    with connect() as graph:
        graph.check_subjects(run=args.run)
        rid = int(graph.query("read/run", name=args.run)["rid"][0])
        dropped = delete_incomplete_epochs(graph.runner, rid)
        graph.runner.run_autocommit("write/links", rid=rid)
        Writer(graph.runner, progress=False).summarise(rid)
    print(f"Deleted incomplete epoch(s) {dropped} of run {args.run!r}" if dropped else f"Run {args.run!r} has no incomplete epoch")
    print("Its LINK relationships are written and their summaries refreshed")
    return 0


def _export(args: argparse.Namespace) -> int:
    from cntgraph.server.connect import connect
    from cntgraph.store.tables import export_run

    with connect() as graph:
        paths = export_run(graph, args.run, args.out, args.format)
    print(f"Run {args.run!r} as {len(paths)} {args.format} tables:")
    for path in paths:
        print(f"  {path}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from cntgraph.server.connect import connect
    from cntgraph.store.tables import import_run

    with connect() as graph:
        run = import_run(graph, args.folder, args.name, progress=True)
        epochs = len(graph.complete_epochs(run))
        source = graph.source
    print(f"Imported run {run!r} ({epochs} complete epoch(s)) into {source}")
    return 0


def _neo4j_import(args: argparse.Namespace) -> int:
    import tempfile

    from cntgraph.store.bulk_import import write_import_files
    from cntgraph.store.tables import read_tables

    server = _server()
    runs = [read_tables(folder) for folder in args.folders]
    names = [str(tables["run"]["name"][0]) for tables in runs]
    if not args.yes:
        answer = input(f"Replace the managed server's store ({server.data_dir}) with the {len(runs)} run(s) {names}? "
                       "Every run stored there now is deleted. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing imported.")
            return 1
    with tempfile.TemporaryDirectory(prefix="cntgraph-import-") as folder:
        arguments = write_import_files(runs, Path(folder))
        was_running = server.state() is not None
        server.stop()
        print(server.admin_import(arguments).strip().splitlines()[-1])
    if was_running:
        server.start(progress=False)
    print(f"Imported {len(runs)} run(s) into the managed server: {', '.join(names)}. "
          "cntgraph creates its indexes at the next connection" + ("." if was_running else "; start it with `cntgraph neo4j start`."))
    return 0


# -- cntgraph runs / query / aggregate / verify ------------------------------------------------
def _runs(args: argparse.Namespace) -> int:
    from cntgraph.server.connect import connect

    with connect() as graph:
        _print_frame(graph.runs(), args.format)
    return 0


def _query(args: argparse.Namespace) -> int:
    from cntgraph.server.connect import connect
    from cntgraph.store import library

    if args.list or args.name is None:
        for name in library.names():
            print(f"{name:28} {library.header(name).splitlines()[0]}")
        return 0
    texts = dict(args.param)
    library.check_parameters(args.name, texts)  # says what the query needs before connecting
    params = {key: library.typed_value(key, text) for key, text in texts.items()}
    with connect() as graph:
        graph.check_subjects(**params)  # an unknown run, epoch, layer or unit is an error, not "(no rows)"
        _print_frame(graph.query(args.name, **params), args.format)
    return 0


def _aggregate(args: argparse.Namespace) -> int:
    from cntgraph.server.connect import connect

    with connect() as graph:
        _print_frame(graph.aggregate(args.run), args.format)
    return 0


def _population(args: argparse.Namespace) -> int:
    from cntgraph.server.connect import connect

    with connect() as graph:
        result = graph.population(args.runs, args.by, args.width)
    frame = result.divergences if args.divergences else result.summary
    if args.epoch is not None:
        frame = frame[frame["epoch"] == args.epoch]
    _print_frame(frame, args.format)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from cntgraph.server.connect import connect
    from cntgraph.store.verification import error_summary, fully_stored, judge

    with connect() as graph:
        frame = graph.aggregate(args.run)
    if frame.empty:
        print(f"run {args.run!r} has no complete epoch: nothing to verify")
        return 0
    print(error_summary(frame).to_string(index=False))
    verdict = judge(frame, args.rtol, 0.0 if args.strict else args.tolerance)
    kind = "stores every unit" if fully_stored(frame) else "is sampled: the values of its sampled layers are estimates"
    print(f"\nrun {args.run!r} {kind}")
    print("\n".join(verdict.lines()))
    print("verified" if verdict.passed else "NOT verified: see docs/METRICS.md, in-database aggregation")
    return 0 if verdict.passed else 1


def _param(text: str) -> tuple[str, str]:
    """``k=v`` as (k, v); v is typed later by the query's declared parameter types."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not k=v")
    return key, value


def _whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``minimum`` (to ``maximum``), else a usage error naming the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number {bound}")
        return value

    return parse


PORT = _whole(1, 65535)


def _print_frame(frame: pd.DataFrame, form: str) -> None:
    if form == "csv":
        print(frame.to_csv(index=False), end="")
    elif form == "json":
        print(json.dumps(frame.astype(object).where(frame.notna(), None).to_dict("records"), default=str))
    else:
        print(frame.to_string(index=False) if len(frame) else "(no rows)")


def _add_query_commands(commands: argparse._SubParsersAction) -> None:
    from cntgraph.store.verification import RTOL, TOLERANCE

    formats = {"choices": ("table", "csv", "json"), "default": "table", "help": "output format (default table)"}
    runs = commands.add_parser("runs", help="list the recorded runs")
    runs.add_argument("--format", **formats)
    runs.set_defaults(handler=_runs)
    query = commands.add_parser("query", help="run a query of the Cypher library (read-only)")
    query.add_argument("name", nargs="?", help="query name, e.g. query/neuron_history (see --list)")
    query.add_argument("--param", action="append", default=[], type=_param, metavar="K=V", help="a parameter, e.g. layer=1")
    query.add_argument("--list", action="store_true", help="list the query names with what each answers")
    query.add_argument("--format", **formats)
    query.set_defaults(handler=_query)
    aggregate = commands.add_parser("aggregate", help="compute strengths and fluctuation inside Neo4j")
    aggregate.add_argument("run", help="run name")
    aggregate.add_argument("--format", **formats)
    aggregate.set_defaults(handler=_aggregate)
    population = commands.add_parser(
        "population", help="compare groups of runs (by a run or epoch property) per epoch and layer, inside Neo4j"
    )
    population.add_argument("runs", nargs="+", help="run names; NAME* stands for every run beginning with NAME (quote it)")
    population.add_argument("--by", required=True, help="run.<property> or epoch.<property>, e.g. epoch.accuracy or run.scale")
    population.add_argument("--width", type=float, default=0.0, help="bucket width for numbers (default 0: group by the values)")
    population.add_argument("--divergences", action="store_true", help="the divergences between groups instead of their summary")
    population.add_argument("--epoch", type=_whole(0), help="show one epoch only")
    population.add_argument("--format", **formats)
    population.set_defaults(handler=_population)
    verify = commands.add_parser("verify", help="aggregate in Neo4j and compare with the exact metrics")
    verify.add_argument("run", help="run name")
    verify.add_argument("--rtol", type=float, default=RTOL, help=f"relative tolerance of exact values (default {RTOL:g})")
    verify.add_argument(
        "--tolerance", type=float, default=TOLERANCE,
        help=f"how far below the nominal 95%% the intervals' coverage may be (default {TOLERANCE:g})",
    )
    verify.add_argument("--strict", action="store_true", help="judge the intervals' coverage against the nominal 95%% itself")
    verify.set_defaults(handler=_verify)


# -- cntgraph browser --------------------------------------------------------------------------
def _browser(args: argparse.Namespace) -> int:
    from cntgraph.store import browser

    if args.favorites is not None:
        path = browser.write_favorites(args.favorites)
        print(f"Wrote {path}: drop it on Neo4j Browser's Favorites drawer (set the queries' parameters with :param).")
        return 0
    from cntgraph.server.connect import connect

    with connect() as graph:
        link = browser.url(graph, args.run, args.epoch)
    print(link)
    if args.open:
        import webbrowser

        webbrowser.open(link)
    return 0


def _add_browser_command(commands: argparse._SubParsersAction) -> None:
    browser = commands.add_parser("browser", help="a Neo4j Browser link that opens a run's graph, ready to run")
    browser.add_argument("run", nargs="?", help="run name (default: the overview of every run)")
    browser.add_argument("--epoch", type=int, help="epoch (default: the run's last complete epoch)")
    browser.add_argument("--open", action="store_true", help="open the link in the web browser")
    browser.add_argument("--favorites", type=Path, metavar="ZIP", help="instead, write the saved queries for Browser's Favorites")
    browser.set_defaults(handler=_browser)


# -- cntgraph view -----------------------------------------------------------------------------
def _view(args: argparse.Namespace) -> int:
    from cntgraph.server.connect import connect
    from cntgraph.view.app import build_app, serve

    with connect() as graph:
        server = serve(build_app(graph, args.run), host=args.host, port=args.port)
        print(f"cntgraph view: {server.url} (Ctrl-C to stop)", flush=True)
        if args.open:
            import webbrowser

            webbrowser.open(server.url)
        server.wait()
    return 0


def _add_view_command(commands: argparse._SubParsersAction) -> None:
    view = commands.add_parser("view", help="watch a run learn, layer by layer, in a local web page")
    view.add_argument("run", nargs="?", help="run name (default: the most recent run)")
    view.add_argument("--port", type=PORT, default=8050, help="local port (default 8050)")
    view.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    view.add_argument("--open", action="store_true", help="open the page in the web browser")
    view.set_defaults(handler=_view)


# -- cntgraph report ---------------------------------------------------------------------------
def _report(args: argparse.Namespace) -> int:
    from cntgraph.server.connect import connect
    from cntgraph.studies.report import write_report

    with connect() as graph:
        paths = write_report(graph, args.run, args.out, epochs=args.epochs, **({} if args.top is None else {"top": args.top}))
    print(f"Report of run {args.run!r}:")
    for path in paths:
        print(f"  {path}")
    return 0


def _epoch_list(text: str) -> list[int]:
    try:
        epochs = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of epochs like 0,19") from None
    if min(epochs) < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of epochs like 0,19")
    return epochs


def _add_report_command(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="plots of a recorded run: fluctuation, distributions, top movers")
    report.add_argument("run", help="run name (`cntgraph runs` lists them)")
    report.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    report.add_argument("--epochs", type=_epoch_list, metavar="E,E", help="epochs of the distributions, e.g. 0,19 "
                        "(default: the first and last complete epoch; top movers between the first and last given)")
    # the default is report.DEFAULT_TOP, not imported here to keep `cntgraph --help` fast
    report.add_argument("--top", type=int, help="top movers per layer (default 8)")
    report.set_defaults(handler=_report)


# -- cntgraph ensemble -------------------------------------------------------------------------
def _ensemble(args: argparse.Namespace) -> int:
    from cntgraph.studies.ensemble import PROTOCOLS, run_ensemble

    epochs = args.epochs if args.epochs is not None else PROTOCOLS[args.protocol].epochs
    data = None
    if args.data is not None:
        from cntgraph.studies.data import load_split

        data = load_split(args.data)
    learned = "scikit-learn's 8x8 digits" if data is None else f"{args.data} ({len(data.y_train)} samples of shape {data.input_shape})"
    print(f"cntgraph ensemble: {args.size} {args.model.upper()}s learn {learned} for "
          f"{args.min_epochs} to {epochs} epochs each ({args.protocol} protocol, seed {args.seed}), grouped in test-accuracy "
          f"buckets of {args.bucket_width:g}.")
    chosen = {"inits": args.inits, "scales": args.scales, "optimizers": args.optimizers}
    options = {
        "size": args.size, "epochs": epochs, "protocol": args.protocol, "data": data, "min_epochs": args.min_epochs, "bucket_width": args.bucket_width,
        "seed": args.seed, "architecture": args.model, "min_members": args.min_members, "bins": args.bins, "null_draws": args.null_draws,
        "estimator": args.estimator,
        "out": args.out, "threads": args.threads, "per_scale": not args.pooled, "ray": args.ray, **{name: value for name, value in chosen.items() if value is not None},
    }
    if args.record:
        from cntgraph.core.sampling import Full, Uniform
        from cntgraph.server.connect import connect

        sample = Full() if args.sample_k is None else Uniform(args.sample_k, seed=args.seed)
        with connect() as graph:
            result = run_ensemble(**options, graph=graph, sample=sample, run_prefix=f"ensemble-{args.seed}")
            print(f"Recorded every member into {graph.source} as runs ensemble-{args.seed}-NNNN.")
    else:
        result = run_ensemble(**options)
    members = result.ensemble.members
    diverged = int(members["diverged"].sum())
    print(f"\n{len(members)} members in {result.seconds:.0f} s; {diverged} diverged (non-finite weights, left out); "
          f"test accuracy median {members['accuracy'].median():.3f}, max {members['accuracy'].max():.3f}.")
    strata = {f"Init scale {scale:g}": part for scale, part in result.by_scale.items()} or {"All init scales pooled": result.analysis}
    for title, analysis in strata.items():
        print(f"\n=== {title}: {len(analysis.buckets)} members ===")
        _print_analysis(analysis, args)
    print("\nFigures and tables:")
    for path in [*result.figures, *result.tables]:
        print(f"  {path}")
    return 0


def _print_analysis(analysis: Analysis, args: argparse.Namespace) -> None:
    skipped = analysis.buckets.loc[~analysis.buckets["analysed"] & analysis.buckets["bucket"].notna(), "bucket"]
    if len(skipped):
        print(f"{len(skipped)} member(s) in buckets with fewer than {args.min_members} members are left out of the comparison.")
    print("Median layer fluctuation (std of node strength) per accuracy bucket and node layer, at each member's last epoch:")
    print(analysis.fluctuation_table().to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print("\nBeyond weight size (docs/METRICS.md, null models): median fluctuation / its i.i.d. prediction from the "
          f"layer's weight variances (iid_ratio; 1 = weight size explains it) and z-score against {args.null_draws} "
          "weight-shuffled copies (z):")
    print(analysis.null_table().to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    print(f"\nDivergence between the lowest and the highest bucket (nats; densities: {args.estimator}):")
    print(analysis.extremes().to_string(index=False, float_format=lambda x: f"{x:.3f}"))


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _numbers(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of numbers like 0.05,0.5,5") from None


def _add_ensemble_command(commands: argparse._SubParsersAction) -> None:
    ensemble = commands.add_parser("ensemble", help="the papers' ensemble analysis: many networks, grouped by test accuracy")
    ensemble.add_argument("--size", type=int, default=100, help="number of networks (default 100, under a minute)")
    ensemble.add_argument("--epochs", type=int, help="most epochs a network trains (default 15; 5 with --protocol reference)")
    ensemble.add_argument("--protocol", choices=("cntgraph", "reference"), default="cntgraph",
                          help="training protocol: ours (batch 64, SGD with momentum, biases 0) or the reference code's "
                               "(batch 16, plain SGD lr 0.01, biases drawn like the weights)")
    ensemble.add_argument("--min-epochs", type=int, default=1, help="fewest epochs (default 1); each network draws its number uniformly")
    ensemble.add_argument("--bucket-width", type=float, default=0.05, help="width of the test-accuracy buckets (default 0.05)")
    ensemble.add_argument("--seed", type=int, default=0, help="seed of the whole ensemble (default 0)")
    ensemble.add_argument("--model", choices=("mlp", "cnn"), default="mlp", help="MLP 64-32-32-10 (default) or CNN conv8-conv16-dense64-10")
    ensemble.add_argument("--inits", type=_names, metavar="A,B", help="init families (default all: normal,uniform,truncated_normal,variance_scaling)")
    ensemble.add_argument("--scales", type=_numbers, metavar="X,Y", help="init scales (default 0.05,0.5,5)")
    ensemble.add_argument("--optimizers", type=_names, metavar="A,B", help="optimisers (default sgd,adam)")
    ensemble.add_argument("--min-members", type=int, default=3, help="buckets with fewer networks are not compared (default 3)")
    ensemble.add_argument("--bins", type=int, default=32, help="most bins of the divergence grid (default 32)")
    ensemble.add_argument("--null-draws", type=int, default=20,
                          help="weight-shuffled copies per network and epoch for the null model (default 20; 0: none)")
    ensemble.add_argument("--data", type=Path, metavar="FILE.pt",
                          help="train on your own data: a file saved with torch.save({'x_train': ..., 'y_train': ..., "
                               "'x_test': ..., 'y_test': ...}) (default: scikit-learn's digits)")
    ensemble.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                          help="train the networks as Ray tasks: on a local Ray instance, or on the cluster at ADDRESS "
                               "(e.g. ray://head:10001); the same results as one after another")
    ensemble.add_argument("--pooled", action="store_true",
                          help="bucket all init scales together (default: each scale on its own, as the reference code did)")
    ensemble.add_argument("--estimator", choices=("histogram", "kde", "kde_reference"), default="histogram",
                          help="densities compared: equal-mass histograms (default), Gaussian KDEs normalised by dx, "
                               "or the reference code's KDE sum without dx (range-dependent; for comparison)")
    ensemble.add_argument("--out", type=Path, default=Path("cntgraph-ensemble"), help="folder for figures and tables")
    ensemble.add_argument("--threads", type=int, default=1, help="torch threads (default 1: fastest for these small nets)")
    ensemble.add_argument("--record", action="store_true", help="also record every network into Neo4j (slower)")
    ensemble.add_argument("--sample-k", type=int, help="with --record: store k uniformly drawn neurons per layer (default all)")
    ensemble.set_defaults(handler=_ensemble)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cntgraph`` command."""
    parser = argparse.ArgumentParser(prog="cntgraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    neo4j = commands.add_parser("neo4j", help="install, start, stop and inspect the managed local Neo4j")
    server_commands = neo4j.add_subparsers(dest="action", required=True, metavar="ACTION")
    server_commands.add_parser("install", help="resolve Neo4j 5.26, Browser and APOC from Maven Central").set_defaults(
        handler=_neo4j_install
    )
    start = server_commands.add_parser("start", help="start the server in the background")
    start.add_argument("--bolt-port", type=PORT, help="Bolt port (default 7687, or CNTGRAPH_BOLT_PORT)")
    start.add_argument("--http-port", type=PORT, help="HTTP/Browser port (default 7474, or CNTGRAPH_HTTP_PORT)")
    start.add_argument("--heap", help="JVM heap, e.g. 1g (default 512m, or CNTGRAPH_HEAP)")
    start.add_argument("--pagecache", help="page cache, e.g. 512m (default 256m, or CNTGRAPH_PAGECACHE)")
    start.add_argument("--nice", type=_whole(0, 19), help="CPU priority, 0 (normal) to 19 (lowest; the default, or CNTGRAPH_NICE)")
    start.set_defaults(handler=_neo4j_start)
    stop = server_commands.add_parser("stop", help="stop the server cntgraph started")
    stop.add_argument("--timeout", type=float, default=60.0, help="seconds to wait after SIGTERM")
    stop.set_defaults(handler=_neo4j_stop)
    server_commands.add_parser("status", help="state, version, ports and data folder").set_defaults(
        handler=_neo4j_status
    )
    bulk = server_commands.add_parser(
        "import", help="replace the managed store with runs exported by `cntgraph export`, by neo4j-admin's bulk import"
    )
    bulk.add_argument("folders", nargs="+", type=Path, help="folders `cntgraph export` wrote, one per run")
    bulk.add_argument("--yes", action="store_true", help="do not ask before replacing the store")
    bulk.set_defaults(handler=_neo4j_import)
    logs = server_commands.add_parser("logs", help="the tail of the server's logs")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.set_defaults(handler=_neo4j_logs)

    ingest = commands.add_parser("ingest", help="record a run from saved state_dict checkpoints")
    ingest.add_argument("--model", required=True, help="pkg.module:factory building the model")
    ingest.add_argument("--input-shape", required=True, type=_shape, help="per sample, e.g. 1,28,28")
    ingest.add_argument("--run", required=True, help="run name")
    ingest.add_argument("--epoch-pattern", help=r"regex with one group taking the epoch from a file name, e.g. 'epoch_(\d+)'")
    ingest.add_argument("--sample-k", type=int, help="store k uniformly drawn neurons per layer (default 1024; all of a smaller layer)")
    ingest.add_argument("--seed", type=int, default=0, help="seed of the uniform sample")
    ingest.add_argument("--if-exists", choices=("error", "resume", "overwrite"), default="error")
    ingest.add_argument("checkpoints", nargs="+", type=Path, help="checkpoint files, in epoch order")
    ingest.set_defaults(handler=_ingest)

    replay = commands.add_parser("replay", help="write epochs spooled while Neo4j was unreachable")
    replay.add_argument("files", nargs="*", type=Path, metavar="FILE", help="spool files to write (default: the whole spool folder)")
    replay.add_argument("--spool", type=Path, help="spool folder (default: $CNTGRAPH_HOME/spool)")
    replay.add_argument("--as-run", metavar="NAME", help="write the epochs as a run of this name instead of their own")
    replay.set_defaults(handler=_replay)

    export = commands.add_parser("export", help="write a run's neurons, links, states and weights as Parquet or CSV tables")
    export.add_argument("run", help="run name")
    export.add_argument("--out", type=Path, required=True, help="folder for the tables (one file per table)")
    export.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="file format (default parquet)")
    export.set_defaults(handler=_export)

    importer = commands.add_parser("import", help="write a run exported by `cntgraph export` into the store")
    importer.add_argument("folder", type=Path, help="the folder `cntgraph export` wrote")
    importer.add_argument("--name", help="store it under this name (default: the exported run's)")
    importer.set_defaults(handler=_import)

    delete = commands.add_parser("delete", help="delete a run and everything recorded for it")
    delete.add_argument("run", help="run name")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(handler=_delete)

    repair = commands.add_parser(
        "repair", help="delete a run's incomplete epochs (a writer killed half-way), write missing LINKs, refresh their summaries"
    )
    repair.add_argument("run", help="run name")
    repair.set_defaults(handler=_repair)

    demo = commands.add_parser("demo", help="train two small digit classifiers, recording every epoch")
    demo.add_argument("--epochs", type=_whole(1), default=20, help="epochs per network (default 20)")
    demo.add_argument("--out", type=Path, default=Path("cntgraph-demo"), help="folder for the plots")
    demo.set_defaults(handler=_demo)
    _add_query_commands(commands)
    _add_browser_command(commands)
    _add_view_command(commands)
    _add_ensemble_command(commands)
    _add_report_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cntgraph`` console command."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        code = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except CntgraphError as error:
        print(f"cntgraph: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`cntgraph runs | head`): stop quietly, as `cat` does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())

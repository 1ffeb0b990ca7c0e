"""``cntgraph view``: a local web page that shows a run learn, layer by layer (Dash and Cytoscape.js).

:func:`build_app` makes the Dash app over a :class:`~cntgraph.store.graph.Graph`; :func:`serve`
runs it on a local port (in a background thread, so notebooks and tests can use it too). The page
reads through the read API only. Its scripts (Dash, React, Plotly.js, Cytoscape.js) are served
from the installed Python packages: it needs no network.

Example:
    with cntgraph.connect() as graph:
        server = serve(build_app(graph, "demo-mlp"), port=8050)
        print(server.url)  # open it in a browser; server.stop() when done
"""

from __future__ import annotations

import logging
import math
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import dash
import dash_cytoscape as cyto
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html
from werkzeug.serving import BaseWSGIServer, make_server

from cntgraph.errors import CntgraphError, ConfigurationError
from cntgraph.store.graph import Graph
from cntgraph.view.data import RunData, compare_epochs

__all__ = ["build_app", "serve", "ViewServer"]

#: milliseconds between two epochs while playing, and between two looks for newly recorded epochs
PLAY_INTERVAL, REFRESH_INTERVAL = 900, 5000
# haystack edges are Cytoscape.js's fastest; labels show only once zoomed in far enough to read them
_GRAPH_STYLE = [
    {"selector": "node", "style": {"background-color": "data(colour)", "border-width": 1, "border-color": "#555",
                                   "width": 14, "height": 14, "label": "data(label)", "font-size": 7,
                                   "min-zoomed-font-size": 9, "text-valign": "center", "text-halign": "left",
                                   "text-margin-x": -3}},
    {"selector": "edge", "style": {"line-color": "data(colour)", "width": "data(width)", "opacity": 0.75,
                                   "curve-style": "haystack", "haystack-radius": 0}},
    {"selector": ":selected", "style": {"border-width": 3, "border-color": "#111", "line-color": "#111", "opacity": 1}},
]  # fmt: skip
_QUIET = {"displayModeBar": False}  # no Plotly toolbar over the titles
_PANEL = {"border": "1px solid #ddd", "borderRadius": "6px", "padding": "8px", "marginBottom": "8px"}


@dataclass
class _Runs:
    """The runs the page has opened, read once each (a run's picture does not change while it is shown)."""

    graph: Graph
    opened: dict[str, RunData] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, run: str) -> RunData:
        with self.lock:
            if run not in self.opened:
                self.opened[run] = RunData(self.graph, run)
            return self.opened[run]


def build_app(graph: Graph, run: str | None = None) -> dash.Dash:
    """The page for the runs of ``graph``, opened on ``run`` (default: the most recent run).

    Example:
        app = build_app(cntgraph.connect(), "demo-mlp")
    """
    runs = _Runs(graph)
    names = graph.runs().sort_values("created_at", ascending=False)["run"].tolist()
    start = run if run is not None else (names[0] if names else None)
    app = dash.Dash(__name__, title="cntgraph view", serve_locally=True, update_title=None)
    app.layout = _layout(names, start)
    _callbacks(app, runs)
    return app


def _layout(names: list[str], start: str | None) -> html.Div:
    options = [{"label": name, "value": name} for name in names]
    if start is not None and start not in names:
        options.append({"label": start, "value": start})
    return html.Div(style={"fontFamily": "sans-serif", "margin": "10px"}, children=[
        html.Div(style={"display": "flex", "gap": "12px", "alignItems": "center"}, children=[
            html.H3("cntgraph view", style={"margin": "0 12px 0 0"}),
            html.Label("run"),
            dcc.Dropdown(id="run", options=options, value=start, clearable=False, style={"width": "260px"}),
            html.Button("Play", id="play", n_clicks=0),
            html.Label("min |w|"),
            dcc.Input(id="min-w", type="number", min=0, value=0, step="any", debounce=True, style={"width": "80px"}),
            html.Label("min change since first epoch"),
            dcc.Input(id="min-change", type="number", min=0, value=0, step="any", debounce=True, style={"width": "80px"}),
        ]),
        html.Div(id="message", role="alert", style={"color": "#a00", "margin": "6px 0", "whiteSpace": "pre-wrap"}),
        html.Div(style={"margin": "6px 0"}, children=[dcc.Slider(id="epoch", min=0, max=1, step=None, value=0)]),
        dcc.Interval(id="ticker", interval=PLAY_INTERVAL, disabled=True),
        dcc.Interval(id="refresh", interval=REFRESH_INTERVAL),
        html.Div(id="note", style={"fontSize": "13px", "color": "#444"}),
        html.Div(style={"display": "flex", "gap": "10px"}, children=[
            html.Div(style={"flex": "3", **_PANEL}, children=[
                cyto.Cytoscape(id="graph", elements=[], layout={"name": "preset", "fit": True}, stylesheet=_GRAPH_STYLE,
                               style={"width": "100%", "height": "68vh"}, minZoom=0.05, maxZoom=8),
            ]),
            html.Div(style={"flex": "2", "minWidth": "320px"}, children=[
                html.Div(style=_PANEL, children=[dcc.Graph(id="fluctuation", style={"height": "300px"}, config=_QUIET)]),
                html.Div(id="details", style=_PANEL, children="Click a neuron or a link for its history."),
            ]),
        ]),
        html.H4("Compare"),
        html.Div(style={"display": "flex", "gap": "12px", "alignItems": "center"}, children=[
            html.Label("with run"),
            dcc.Dropdown(id="other-run", options=options, value=None, placeholder="choose a run (this one too)",
                         style={"width": "260px"}),
            html.Label("at epoch"),
            dcc.Dropdown(id="other-epoch", options=[], value=None, clearable=False, style={"width": "120px"}),
        ]),
        html.Div(style={"display": "flex", "gap": "10px", "marginTop": "8px"}, children=[
            html.Div(style={"flex": "3", **_PANEL}, children=[
                cyto.Cytoscape(id="other-graph", elements=[], layout={"name": "preset", "fit": True},
                               stylesheet=_GRAPH_STYLE, style={"width": "100%", "height": "50vh"}, minZoom=0.05, maxZoom=8),
            ]),
            html.Div(id="divergence", style={"flex": "2", **_PANEL}),
        ]),
    ])  # fmt: skip


def _callbacks(app: dash.Dash, runs: _Runs) -> None:
    @app.callback(
        Output("epoch", "min"), Output("epoch", "max"), Output("epoch", "step"), Output("epoch", "marks"),
        Output("epoch", "value"), Output("message", "children"),
        Input("run", "value"),
    )  # fmt: skip
    def open_run(run: str | None) -> tuple[Any, ...]:
        if run is None:
            return 0, 1, 1, {}, 0, "No run is recorded yet: record one (cntgraph demo) and reload."
        try:
            data = runs.get(run)
        except CntgraphError as error:
            return 0, 1, 1, {}, 0, str(error)
        return (*_slider(data), data.epochs[-1], "")

    @app.callback(
        Output("epoch", "min", allow_duplicate=True), Output("epoch", "max", allow_duplicate=True),
        Output("epoch", "step", allow_duplicate=True), Output("epoch", "marks", allow_duplicate=True),
        Output("epoch", "value", allow_duplicate=True),
        Input("refresh", "n_intervals"), State("run", "value"), State("epoch", "value"), prevent_initial_call=True,
    )  # fmt: skip
    def grow(_: int, run: str | None, value: float) -> tuple[Any, ...]:
        """A run still being recorded: new epochs join the slider; a slider at the last epoch follows them."""
        if (data := _opened(runs, run)) is None:
            return (dash.no_update,) * 5
        last = data.epochs[-1]
        try:
            grew = data.refresh()
        except CntgraphError:
            grew = False
        if not grew:
            return (dash.no_update,) * 5
        return (*_slider(data), data.epochs[-1] if value == last else dash.no_update)

    @app.callback(
        Output("graph", "elements"), Output("note", "children"),
        Input("run", "value"), Input("epoch", "value"), Input("min-w", "value"), Input("min-change", "value"),
    )  # fmt: skip
    def draw(run: str | None, value: float, min_w: float | None, min_change: float | None) -> tuple[Any, ...]:
        if (at := _at(runs, run, value)) is None:
            return [], ""
        data, epoch = at
        return data.elements(epoch, min_w or 0.0, min_change or 0.0)

    @app.callback(Output("fluctuation", "figure"), Input("run", "value"), Input("epoch", "value"), Input("epoch", "max"))
    def fluctuation(run: str | None, value: float, _: int) -> go.Figure:
        figure = go.Figure(layout={"title": "Layer fluctuation (std of node strength)", "margin": {"l": 40, "r": 10, "t": 40, "b": 30},
                                   "xaxis": {"title": "epoch"}, "legend": {"title": "layer"}})  # fmt: skip
        if (at := _at(runs, run, value)) is None:
            return figure
        data, epoch = at
        for layer, part in data.fluctuation.groupby("layer"):
            figure.add_scatter(x=part["epoch"], y=part["fluctuation"], mode="lines+markers", name=str(layer))
        figure.add_vline(x=epoch, line_dash="dot", line_color="#555")
        return figure

    @app.callback(
        Output("ticker", "disabled"), Output("play", "children"),
        Input("play", "n_clicks"), State("ticker", "disabled"), prevent_initial_call=True,
    )  # fmt: skip
    def play(_: int, stopped: bool) -> tuple[bool, str]:
        return (False, "Pause") if stopped else (True, "Play")

    @app.callback(Output("epoch", "value", allow_duplicate=True), Input("ticker", "n_intervals"),
                  State("run", "value"), State("epoch", "value"), prevent_initial_call=True)  # fmt: skip
    def step(_: int, run: str | None, value: float) -> int:
        if (at := _at(runs, run, value)) is None:
            return dash.no_update
        data, epoch = at
        later = [e for e in data.epochs if e > epoch]
        return later[0] if later else data.epochs[0]

    @app.callback(
        Output("details", "children"),
        Input("graph", "tapNodeData"), Input("graph", "tapEdgeData"), State("run", "value"), State("epoch", "value"),
        prevent_initial_call=True,
    )  # fmt: skip
    def details(node: dict[str, Any] | None, link: dict[str, Any] | None, run: str, value: float) -> Any:
        if (at := _at(runs, run, value)) is None:
            return dash.no_update
        data, epoch = at
        try:
            clicked = dash.ctx.triggered[0]["prop_id"]
            if clicked == "graph.tapEdgeData" and link:
                return _link_details(data, link)
            if clicked == "graph.tapNodeData" and node:
                return _neuron_details(data, epoch, int(node["layer"]), int(node["unit"]))
        except CntgraphError as error:
            return html.Div(str(error), role="alert", style={"color": "#a00"})
        return dash.no_update

    @app.callback(Output("other-epoch", "options"), Output("other-epoch", "value"), Input("other-run", "value"))
    def other_epochs(run: str | None) -> tuple[Any, ...]:
        if (data := _opened(runs, run)) is None:
            return [], None
        return [{"label": str(e), "value": e} for e in data.epochs], data.epochs[0]

    @app.callback(Output("other-graph", "elements"), Input("other-run", "value"), Input("other-epoch", "value"))
    def other_graph(other_run: str | None, other_epoch: int | None) -> list[dict[str, Any]]:
        other = _opened(runs, other_run)
        if other is None or other_epoch not in other.epochs:
            return []
        return other.elements(other_epoch)[0]

    @app.callback(
        Output("divergence", "children"),
        Input("run", "value"), Input("epoch", "value"), Input("other-run", "value"), Input("other-epoch", "value"),
    )  # fmt: skip
    def compare(run: str | None, value: float, other_run: str | None, other_epoch: int | None) -> Any:
        at, other = _at(runs, run, value), _opened(runs, other_run)
        if at is None or other is None or other_epoch not in other.epochs:
            return "Choose a run and an epoch to compare with (the same run at another epoch works too)."
        data, epoch = at
        try:
            table = compare_epochs(data, epoch, other, other_epoch)
        except CntgraphError as error:
            return html.Div(str(error), role="alert", style={"color": "#a00"})
        return _table(table, "Per layer: strengths of the stored neurons, fluctuation, and the divergences "
                             "between the two (equal-mass bins, Jeffreys and Jensen-Shannon)")


def _opened(runs: _Runs, run: str | None) -> RunData | None:
    """The run's data, or None when there is no run or it does not open (the message says why)."""
    if run is None:
        return None
    try:
        return runs.get(run)
    except CntgraphError:
        return None


def _at(runs: _Runs, run: str | None, value: float | None) -> tuple[RunData, int] | None:
    """The run's data and its complete epoch nearest the slider's ``value`` (which a key press can put
    between two epochs of a run recorded with gaps)."""
    data = _opened(runs, run)
    if data is None or value is None:
        return None
    return data, min(data.epochs, key=lambda epoch: (abs(epoch - value), epoch))


def _slider(data: RunData) -> tuple[int, int, int, dict[int, str]]:
    """min, max, step and marks of the epoch slider: a step that lands on every recorded epoch."""
    step = math.gcd(*(b - a for a, b in zip(data.epochs, data.epochs[1:], strict=False))) or 1
    return data.epochs[0], data.epochs[-1], step, _marks(data.epochs)


def _marks(epochs: list[int]) -> dict[int, str]:
    every = max(1, len(epochs) // 20)
    return {epoch: str(epoch) for i, epoch in enumerate(epochs) if i % every == 0 or epoch == epochs[-1]}


def _neuron_details(data: RunData, epoch: int, layer: int, unit: int) -> list[Any]:
    history = data.graph.neuron_history(data.run, layer, unit)
    figure = go.Figure(layout={"title": f"Neuron {layer}:{unit}: strength over the epochs", "height": 260,
                               "margin": {"l": 40, "r": 10, "t": 40, "b": 30}, "xaxis": {"title": "epoch"}})  # fmt: skip
    for column in ("s_in", "s_out", "s"):
        figure.add_scatter(x=history["epoch"], y=history[column], mode="lines+markers", name=column)
    figure.add_vline(x=epoch, line_dash="dot", line_color="#555")
    strongest = data.neuron_links(epoch, layer, unit)
    return [html.Div(id="details-kind", children="neuron"), dcc.Graph(id="history", figure=figure, config=_QUIET),
            _table(strongest, f"Strongest stored links of {layer}:{unit} at epoch {epoch}")]


def _link_details(data: RunData, link: dict[str, Any]) -> list[Any]:
    (src_layer, src_unit), (dst_layer, dst_unit) = (map(int, link[end].split(":")) for end in ("source", "target"))
    history = data.graph.link_history(data.run, (src_layer, src_unit), (dst_layer, dst_unit))
    figure = go.Figure(layout={"title": f"Link {link['source']} -> {link['target']}: weight over the epochs", "height": 260,
                               "margin": {"l": 40, "r": 10, "t": 40, "b": 30}, "xaxis": {"title": "epoch"}})  # fmt: skip
    figure.add_scatter(x=history["epoch"], y=history["w"], mode="lines+markers", name="w")
    return [html.Div(id="details-kind", children="link"), dcc.Graph(id="history", figure=figure, config=_QUIET),
            _table(history, "The stored weight at every complete epoch", table_id="history-table")]


def _table(frame: Any, caption: str, table_id: str | None = None) -> html.Table:
    head = html.Tr([html.Th(str(column)) for column in frame.columns])
    rows = [html.Tr([html.Td(_cell(value)) for value in row]) for row in frame.itertuples(index=False)]
    return html.Table([html.Caption(caption), html.Thead(head), html.Tbody(rows)], **({"id": table_id} if table_id else {}),
                      style={"fontSize": "12px", "borderCollapse": "collapse"})


def _cell(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


@dataclass
class ViewServer:
    """A running view: its ``url``; :meth:`stop` ends it, :meth:`wait` blocks until Ctrl-C."""

    url: str
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and wait for the server thread."""
        self.server.shutdown()
        self.thread.join()

    def wait(self) -> None:
        """Block until interrupted (Ctrl-C), then stop."""
        try:
            self.thread.join()
        except KeyboardInterrupt:
            self.stop()


def serve(app: dash.Dash, host: str = "127.0.0.1", port: int = 8050) -> ViewServer:
    """Serve ``app`` on ``host:port`` from a background thread; a taken port is a ConfigurationError.

    Example:
        server = serve(build_app(graph, "demo-mlp"), port=8050)
        server.url
        'http://127.0.0.1:8050/'
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    with socket.socket() as probe:  # werkzeug would print and exit the process on a taken port
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ConfigurationError(f"cannot serve the view on {host}:{port} ({error.strerror}); choose another --port") from error
    server = make_server(host, port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="cntgraph-view", daemon=True)
    thread.start()
    return ViewServer(f"http://{host}:{server.server_port}/", server, thread)

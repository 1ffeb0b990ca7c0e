"""``cntgraph view`` in headless Chromium: time to first draw and to redraw on an epoch change.

    .venv/bin/python bench/bench_view.py            # starts (and stops) its own Neo4j
    .venv/bin/python bench/bench_view.py --repeat 7

Three runs are recorded into the server first, as the demo records them (the digits, 20 epochs)
plus one large sampled run:

- ``demo-mlp``: MLP 64-32-32-10, every neuron and link (138 neurons, 3,392 links);
- ``demo-cnn``: CNN conv8-conv16-dense64-10, ``Uniform(64)`` (266 neurons, about 6,400 links);
- ``wide-mlp``: MLP 784-512-512-10, ``Uniform(256)`` (778 neurons, 133,632 links an epoch; 5
  epochs, the weights nudged between them), beyond the view's link limit.

For each run, ``--repeat`` times: a new page is opened on the run and timed from navigation until
Cytoscape.js holds every element the page draws (first draw); then the epoch slider is moved one
epoch back with the keyboard and timed until the drawn weights are those of that epoch (redraw).
Medians and spreads (min..max) are printed as a markdown table, with the server and browser both
on this machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from common import add_server_arguments, bench_server, load_average, machine, spread
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from torch import nn

from cntgraph.core.sampling import Uniform
from cntgraph.recording.recorder import Recorder
from cntgraph.store.graph import Graph
from cntgraph.studies.demo import run_demo
from cntgraph.view.app import build_app, serve
from cntgraph.view.data import MAX_LINKS

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1000")
CY = ("const root = document.getElementById('graph'); const all = root ? [root, ...root.querySelectorAll('*')] : [];"
      " const el = all.find(e => e._cyreg && e._cyreg.cy); const cy = el ? el._cyreg.cy : null;")


def record_wide(graph: Graph) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    with Recorder(model, "wide-mlp", (784,), graph=graph, sample=Uniform(256), if_exists="overwrite", progress=False) as recorder:
        for epoch in range(5):
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.add_(0.01 * torch.randn_like(parameter))
            recorder.capture(epoch)


def until(condition: Any, timeout: float = 120.0) -> float:
    """Seconds until ``condition()`` holds (polled every 10 ms)."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the page did not get there")
        time.sleep(0.01)
    return time.perf_counter() - start


def measure(driver: Any, url: str, graph: Graph, run: str) -> tuple[float, float, int, int]:
    """(first draw s, redraw s, drawn nodes, drawn links) of one page load and one epoch step back."""
    epochs = graph.complete_epochs(run)
    last, before = epochs[-1], epochs[-2]
    stored = graph.query("query/epoch_links", run=run, epoch=before)
    expected_links = min(len(stored), MAX_LINKS)
    start = time.perf_counter()
    driver.get(url)
    count = CY + " return cy ? [cy.nodes().length, cy.edges().length] : [0, 0];"
    until(lambda: driver.execute_script(count)[1] > 0 and f"epoch {last}" in driver.find_element(By.ID, "note").text)
    first = time.perf_counter() - start
    nodes, links = driver.execute_script(count)
    probe = stored.reindex(stored["w"].abs().sort_values(ascending=False).index[:1]).iloc[0]
    probe_id = f"{int(probe.src_layer)}:{int(probe.src_unit)}->{int(probe.dst_layer)}:{int(probe.dst_unit)}"
    weight = CY + " const e = cy.getElementById(arguments[0]); return e.length ? e.data('w') : null;"
    thumb = driver.find_element(By.CSS_SELECTOR, "#epoch [role=slider]")
    start = time.perf_counter()
    thumb.send_keys(Keys.ARROW_LEFT)
    until(lambda: driver.execute_script(weight, probe_id) == float(probe.w)
          and driver.execute_script(count)[1] == expected_links)  # fmt: skip
    return first, time.perf_counter() - start, nodes, links


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ["SE_OFFLINE"] = "true"
    with bench_server(args, "view") as bench, tempfile.TemporaryDirectory() as folder:
        graph = bench.graph
        run_demo(graph, Path(folder) / "demo", progress=False)
        record_wide(graph)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in (*FLAGS, f"--user-data-dir={folder}/chromium"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        print(f"{machine()}; load {load_average()}; link limit {MAX_LINKS:,}; {args.repeat} page loads a run\n")
        print("| run | stored neurons | stored links an epoch | drawn links | first draw, median (min..max) "
              "| redraw on an epoch change, median (min..max) |")
        print("| --- | --- | --- | --- | --- | --- |")
        try:
            for run in ("demo-mlp", "demo-cnn", "wide-mlp"):
                times = [measure_run(driver, graph, run) for _ in range(args.repeat)]
                firsts, redraws = [t[0] for t in times], [t[1] for t in times]
                stored = len(graph.query("query/epoch_links", run=run, epoch=graph.complete_epochs(run)[-1]))
                print(f"| {run} | {times[0][2]:,} | {stored:,} | {times[0][3]:,} | {spread(firsts, unit=' s', digits=2)} | {spread(redraws, unit=' s', digits=2)} |")
        finally:
            driver.quit()


def measure_run(driver: Any, graph: Graph, run: str) -> tuple[float, float, int, int]:
    """One measurement of ``run`` on a page newly built for it (nothing of the run read yet)."""
    single = serve(build_app(graph, run), port=0)
    try:
        return measure(driver, single.url, graph, run)
    finally:
        single.stop()


if __name__ == "__main__":
    main()

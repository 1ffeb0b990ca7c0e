"""Screenshots of ``cntgraph view`` for the docs: ``docs/view.png`` (demo-mlp) and ``docs/view-cnn.png``.

Run ``.venv/bin/python docs/view_screenshot.py`` after ``make demo`` (the demo runs must be in the
store ``cntgraph.connect()`` finds). Needs Debian's chromium and chromium-driver.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

import cntgraph
from cntgraph.view.app import build_app, serve

HERE = Path(__file__).parent
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1500,1050")
CY = ("const root = document.getElementById('graph'); const all = root ? [root, ...root.querySelectorAll('*')] : [];"
      " const el = all.find(e => e._cyreg && e._cyreg.cy); const cy = el ? el._cyreg.cy : null;")


def shoot(run: str, out: Path, link: str | None) -> Path:
    """Open ``run`` in the view, click ``link`` (an element id) when given, and save a screenshot."""
    os.environ["SE_OFFLINE"] = "true"
    with cntgraph.connect() as graph, tempfile.TemporaryDirectory() as profile:
        server = serve(build_app(graph, run), port=0)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            driver.get(server.url)
            while not driver.execute_script(CY + " return cy && cy.edges().length > 0;"):
                time.sleep(0.2)
            if link is not None:
                driver.execute_script(CY + " cy.getElementById(arguments[0]).select().emit('tap');", link)
                while "weight over the epochs" not in driver.execute_script("return document.body.innerText"):
                    time.sleep(0.2)
            time.sleep(1.0)  # let Plotly finish its transition
            driver.save_screenshot(str(out))
        finally:
            driver.quit()
            server.stop()
    return out


if __name__ == "__main__":
    print(shoot("demo-mlp", HERE / "view.png", "0:36->1:0"))
    print(shoot("demo-cnn", HERE / "view-cnn.png", None))

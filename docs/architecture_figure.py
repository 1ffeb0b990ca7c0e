"""Draw the flow of cntgraph's packages (docs/ARCHITECTURE.md).

Run ``.venv/bin/python docs/architecture_figure.py`` to write ``architecture.png`` next to this file.
Each box is a subpackage of ``cntgraph``; an arrow points from a package to one it imports (the
direction pyproject.toml's import-linter contracts enforce).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = Path(__file__).with_name("architecture.png")
BOX_W, BOX_H = 3.3, 1.25

# package -> (x, y of the box centre, colour, what it holds)
BOXES = {
    "model": (2.0, 6.2, "#fde9d2", "PyTorch side\ntracing.py  snapshot.py\nmetrics.py (models)"),
    "core": (6.0, 6.2, "#e4f3df", "pure numpy: no torch, no driver\nnetwork.py  metrics.py  links.py\nsampling.py  divergence.py  groups.py"),
    "records": (10.0, 6.2, "#e4f3df", "what an epoch stores\nepoch.py  build.py  spool.py"),
    "store": (10.0, 3.9, "#dbe9f6", "Neo4j: never torch\nrunner.py  library.py  graph.py  writer.py\naggregation.py  verification.py  browser.py"),
    "server": (14.0, 3.9, "#dbe9f6", "where Neo4j comes from\nconnect.py  managed.py\nmaven.py  tools.py"),
    "recording": (6.0, 3.9, "#f3e3f6", "recording runs\nrecorder.py  replay.py  ingest.py\nlightning.py  huggingface.py"),
    "studies": (6.0, 1.6, "#f7f7f7", "on top\ndemo.py  report.py  plots.py\ndigits.py  ensemble/"),
    "view": (14.0, 1.6, "#f7f7f7", "cntgraph view (read-only)\nlayout.py  data.py  app.py"),
    "cli": (10.0, 1.6, "#f7f7f7", "cli.py: one API call\nper command, plus printing"),
}
# (importer, imported, bend): the main dependencies, drawn as arrows (bent around a box in between)
ARROWS = [
    ("model", "core", 0.0), ("records", "core", 0.0), ("store", "records", 0.0), ("server", "store", 0.0),
    ("recording", "model", 0.0), ("recording", "records", 0.0), ("recording", "server", 0.3), ("recording", "store", 0.0),
    ("studies", "recording", 0.0), ("cli", "studies", 0.0),
    ("view", "store", 0.0), ("cli", "view", 0.0),
]


def main() -> Path:
    figure, axes = plt.subplots(figsize=(16.5, 7.6), dpi=100)
    axes.set_xlim(0, 16.2)
    axes.set_ylim(0.6, 7.3)
    axes.axis("off")
    for name, (x, y, colour, text) in BOXES.items():
        axes.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0.06",
                                      facecolor=colour, edgecolor="#333333", linewidth=1.2))
        axes.text(x, y + BOX_H / 2 - 0.22, f"cntgraph.{name}", ha="center", va="center", fontsize=12, weight="bold")
        axes.text(x, y - 0.12, text, ha="center", va="center", fontsize=9.5, linespacing=1.35)
    for source, target, bend in ARROWS:
        (x0, y0, *_), (x1, y1, *_) = BOXES[source], BOXES[target]
        if bend:  # leave and enter through the bottom edges, curving below the boxes in between
            start, end = (x0 + 0.6, y0 - BOX_H / 2 - 0.1), (x1 - 0.6, y1 - BOX_H / 2 - 0.1)
        else:
            start, end = _edge_point(x0, y0, x1, y1), _edge_point(x1, y1, x0, y0)
        axes.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=16, color="#1f3b73", linewidth=1.3,
                                       connectionstyle=f"arc3,rad={bend}"))
    axes.text(0.2, 7.1, "model -> CNT core -> records -> store -> studies and apps; an arrow points to what a package imports",
              fontsize=11, color="#222222")
    axes.text(0.2, 0.75, "Beneath everything: cntgraph.errors (exception types), cntgraph.checks (argument checks), "
              "cntgraph.home (CNTGRAPH_HOME). cypher/ holds every query, shipped as cntgraph.cypher.",
              fontsize=9.5, color="#555555")
    figure.savefig(OUT, bbox_inches="tight")
    plt.close(figure)
    return OUT


def _edge_point(x: float, y: float, towards_x: float, towards_y: float) -> tuple[float, float]:
    """Where the line from box centre (x, y) towards another centre leaves the box."""
    dx, dy = towards_x - x, towards_y - y
    scale = min((BOX_W / 2 + 0.1) / abs(dx) if dx else float("inf"), (BOX_H / 2 + 0.1) / abs(dy) if dy else float("inf"))
    return x + dx * scale, y + dy * scale


if __name__ == "__main__":
    print(main())

"""Draw the cntgraph graph data model (docs/DATA_MODEL.md).

Run ``.venv/bin/python docs/data_model_figure.py`` to write ``data-model.png`` next to this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = Path(__file__).with_name("data-model.png")

# The canvas is measured in pixels (DPI 100, one data unit = one pixel), y pointing down.
WIDTH, HEIGHT, DPI = 1386, 917, 100
FONT = "DejaVu Sans"

# Colours.
NODE = "#dbe9f6"  # static records of a run
EPOCH = "#e4f3df"  # the epoch
STATE = "#fde9d2"  # per-epoch records
EDGE = "#333333"  # box outlines and the header rule
TEXT = "#222222"
KEY = "#7a1f1f"  # keys and indexes
BLUE = "#1f3b73"  # relationships between static records
ORANGE = "#9a5b13"  # relationships to per-epoch records
RED = "#b0202a"  # links
NOTE_FILL, NOTE_EDGE = "#f7f7f7", "#a0a0a0"

# Box geometry.
BOX_W = 336
COLS = (39, 525, 1011)  # left x of the three columns
ROWS = (66, 437)  # top y of the two rows
HEADER = 54  # title band, down to the rule
LINE = 25  # pitch of the property lines
FIRST = 18  # rule to the middle of the first property line
BOTTOM = 16  # last line pitch to the bottom edge


@dataclass(frozen=True)
class Box:
    """One node label: its name, properties (text, is_key) and place on the canvas."""

    label: str
    x: float
    y: float
    fill: str
    lines: tuple[tuple[str, bool], ...]

    @property
    def height(self) -> float:
        return HEADER + FIRST + LINE * (len(self.lines) - 1) + LINE / 2 + BOTTOM

    @property
    def cx(self) -> float:
        return self.x + BOX_W / 2

    @property
    def right(self) -> float:
        return self.x + BOX_W

    @property
    def bottom(self) -> float:
        return self.y + self.height


def props(*lines: str, keys: int = 0) -> tuple[tuple[str, bool], ...]:
    """Property lines, the first ``keys`` of them in bold red."""
    return tuple((line, i < keys) for i, line in enumerate(lines))


RUN = Box(":Run", COLS[0], ROWS[0], NODE, props(
    "rid  (unique)", "name  (unique)", "created_at", "model, input_shape,", "sample, every",
    "+ user props: scale, seed, ...",
    keys=2))
LAYER = Box(":Layer", COLS[1], ROWS[0], NODE, props(
    "(rid, index)  unique", "name, kind, shape, size", "sampled, run", "s_edges, w_edges (bins)",
    keys=1))
LAYER_STATE = Box(":LayerState", COLS[2], ROWS[0], STATE, props(
    "(rid, layer, epoch)  unique", "fluctuation", "s_count, s_mean, s_std, s_min,",
    "s_max, s_q05..s_q95, s_hist", "w_* (same, of weights)",
    keys=1))
EPOCH_BOX = Box(":Epoch", COLS[0], ROWS[1], EPOCH, props(
    "(rid, epoch)  unique", "run, complete, links", "captured_at, completed_at",
    "+ user props: loss, accuracy, ...",
    keys=1))
NEURON = Box(":Neuron", COLS[1], ROWS[1], NODE, props(
    "(rid, layer, unit)  unique", "run, linked", "in_layers, in_units: the stored units",
    "that link into it, fixed for the run",
    "(null in the input layer)",
    keys=1))
NEURON_STATE = Box(":NeuronState", COLS[2], ROWS[1], STATE, props(
    "(rid, layer, unit, epoch)  unique", "index (rid, epoch)", "s_in, s_out, s, bias",
    "w_in (float array): the weights of the", "neuron's stored incoming links at this",
    "epoch, w_in[i] from in_units[i]", "w_in_sum: their sum (for verify)",
    keys=2))


def draw_box(ax: Axes, box: Box) -> None:
    ax.add_patch(FancyBboxPatch(
        (box.x, box.y), BOX_W, box.height, boxstyle="round,pad=0,rounding_size=10",
        fc=box.fill, ec=EDGE, lw=1.5, zorder=2))
    ax.text(box.cx, box.y + HEADER / 2 + 1, box.label, ha="center", va="center",
            fontsize=14, weight="bold", color="black", zorder=3)
    ax.plot([box.x + 10, box.right - 10], [box.y + HEADER, box.y + HEADER],
            color=EDGE, lw=0.8, zorder=3)
    for i, (text, key) in enumerate(box.lines):
        ax.text(box.x + 19, box.y + HEADER + FIRST + LINE * i, text, ha="left",
                va="center_baseline", fontsize=10.5, zorder=3,
                color=KEY if key else TEXT, weight="bold" if key else "normal")


def arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], label: str,
          colour: str, *, beside: bool) -> None:
    """A relationship: labelled above the arrow (``beside``) or on it, over a white patch."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>,head_length=8,head_width=4",
                                 color=colour, lw=1.8, shrinkA=0, shrinkB=2, zorder=1))
    mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
    if beside:
        ax.text(mx, my - 14, label, ha="center", va="center", fontsize=10.5, weight="bold",
                color=colour)
    else:
        ax.text(mx, my, label, ha="center", va="center", fontsize=10.5, weight="bold",
                color=colour, bbox={"fc": "white", "ec": "none", "pad": 3}, zorder=2)


def draw(path: Path = OUT) -> None:
    plt.rcParams["font.family"] = FONT
    fig = plt.figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(HEIGHT, 0)
    ax.axis("off")

    ax.text(WIDTH / 2, 22, "cntgraph graph data model (Neo4j)", ha="center", va="center",
            fontsize=16, weight="bold")

    for box in (RUN, LAYER, LAYER_STATE, EPOCH_BOX, NEURON, NEURON_STATE):
        draw_box(ax, box)

    y = ROWS[0] + 72
    arrow(ax, (RUN.right, y), (LAYER.x, y), "HAS_LAYER", BLUE, beside=True)
    arrow(ax, (LAYER.right, y), (LAYER_STATE.x, y), "HAS_STATE", ORANGE, beside=True)
    y = ROWS[1] + 50
    arrow(ax, (NEURON.right, y), (NEURON_STATE.x, y), "HAS_STATE", ORANGE, beside=True)
    arrow(ax, (RUN.cx, RUN.bottom), (EPOCH_BOX.cx, EPOCH_BOX.y), "HAS_EPOCH", BLUE,
          beside=False)
    arrow(ax, (LAYER.cx, LAYER.bottom), (NEURON.cx, NEURON.y), "HAS_NEURON", BLUE,
          beside=False)

    # LINK: a relationship between neurons, once per run; the weights over time stay in the states.
    note_x, note_y = NEURON.cx, NEURON.bottom + 34
    ax.text(note_x, note_y, "(:Neuron)-[:LINK {i}]->(:Neuron): one per stored link",
            ha="center", va="center", fontsize=10.5, weight="bold", color=RED)
    ax.text(note_x, note_y + LINE, "its weight at an epoch = the target's NeuronState.w_in[i]",
            ha="center", va="center", fontsize=10.5, weight="bold", color=RED)
    ax.text(note_x, note_y + 3.1 * LINE,
            "LINK also holds summaries over the run: first, last,\n"
            "delta, min, max, first_epoch, last_epoch, epochs",
            ha="center", va="center", fontsize=10.5, style="italic", color=RED,
            linespacing=1.6,
            bbox={"boxstyle": "round,pad=0.6", "fc": "white", "ec": RED, "ls": "--",
                  "lw": 1.2})

    ax.text(NEURON_STATE.x + 5, NEURON_STATE.bottom + 40,
            "Per-epoch records (orange boxes)\n"
            "belong to their :Epoch by the properties\n"
            "(rid, epoch), not by a relationship.\n"
            "Readers use them only once the Epoch\n"
            "has complete = true (written last).",
            ha="left", va="top", fontsize=10.5, color=TEXT, linespacing=1.9,
            bbox={"boxstyle": "round,pad=0.9", "fc": NOTE_FILL, "ec": NOTE_EDGE, "ls": "--",
                  "lw": 1.2})

    ax.text(19, HEIGHT - 70, "Bold red: the key of each record (a uniqueness constraint) "
            "and extra indexes.", ha="left", va="center", fontsize=10.5, color=EDGE)
    ax.text(19, HEIGHT - 39, "Every node carries the run id rid, first property of every key.",
            ha="left", va="center", fontsize=10.5, color=EDGE)

    fig.savefig(path, dpi=DPI, facecolor="white", metadata={"Software": None})
    plt.close(fig)


if __name__ == "__main__":
    draw()

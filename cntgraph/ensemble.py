"""The papers' ensemble analysis on scikit-learn's digits: many networks, grouped by test accuracy.

A population of small networks of one architecture is drawn over the papers' initialisation
families (normal, uniform, truncated normal, variance scaling) and scales (0.05, 0.5, 5.0), with
SGD or Adam and a random number of epochs. Every member is trained and, after every epoch, its
exact CNT metrics are computed from a float64 snapshot (`cntgraph.metrics`): node strengths,
layer fluctuation and link-weight summaries; its raw link weights are kept at its last epoch.

`analyse` then groups members into test-accuracy buckets and compares, per layer, the
distributions of link weights, node strength and layer fluctuation between buckets with Jeffreys
and Jensen-Shannon divergences (`cntgraph.divergence`). `run_ensemble` does all of it and, given
a folder, draws the figures (`cntgraph.plots`).

Example (a few seconds):
    >>> result = run_ensemble(size=4, epochs=2, seed=1, progress=False)
    >>> result.ensemble.members.columns.tolist()[:6]
    ['member', 'init', 'scale', 'optimizer', 'epochs', 'seed']
    >>> sorted(result.analysis.divergences["quantity"].unique()) <= ["fluctuation", "strength", "weight"]
    True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from cntgraph.divergence import MEASURES, densities, grid_edges
from cntgraph.errors import ConfigurationError, MetricError
from cntgraph.metrics import layer_fluctuation, layer_parameters, node_strength, summary_stats
from cntgraph.snapshot import Snapshot, take_snapshot
from cntgraph.topology import trace
from cntgraph.training import Digits, EpochHook, cnn, load_digits, mlp, train

if TYPE_CHECKING:
    from cntgraph.graph import Graph
    from cntgraph.sampling import Sampler

__all__ = [
    "INITS",
    "SCALES",
    "OPTIMIZERS",
    "Member",
    "Ensemble",
    "Analysis",
    "EnsembleResult",
    "draw_population",
    "initialise",
    "build_member",
    "train_member",
    "train_population",
    "bucket_of",
    "analyse",
    "plot_ensemble",
    "run_ensemble",
]

#: the papers' initialisation families and scales, and the two optimisers
INITS = ("normal", "uniform", "truncated_normal", "variance_scaling")
SCALES = (0.05, 0.5, 5.0)
OPTIMIZERS = ("sgd", "adam")
INPUT_SHAPE = (1, 8, 8)
_RECORDS = ("members", "history", "fluctuation", "strengths", "weights", "final_weights")
ARCHITECTURES: dict[str, Callable[[], nn.Module]] = {"mlp": lambda: mlp(32, 2), "cnn": lambda: cnn(8, 64)}
Architecture = Literal["mlp", "cnn"]


@dataclass(frozen=True)
class Member:
    """One network of the population: how it is initialised and trained (``seed`` drives both)."""

    member: int
    init: str
    scale: float
    optimizer: str
    epochs: int
    seed: int


@dataclass(frozen=True)
class Ensemble:
    """What training the population recorded, one DataFrame per kind of record.

    - ``members``: ``member``, ``init``, ``scale``, ``optimizer``, ``epochs``, ``seed``,
      ``accuracy`` (test accuracy after the last epoch), ``loss``, ``diverged`` (weights became
      non-finite: the member's records are dropped and it takes no part in the analysis);
    - ``history``: ``member``, ``epoch``, ``loss``, ``accuracy``;
    - ``fluctuation``: ``member``, ``epoch``, ``layer`` (node layer 0..K), ``fluctuation``;
    - ``strengths``: ``member``, ``epoch``, ``layer``, ``unit``, ``s_in``, ``s_out``, ``s``;
    - ``weights``: ``member``, ``epoch``, ``layer`` (weighted layer 1..K) and the
      `cntgraph.metrics.summary_stats` of its weights and biases;
    - ``final_weights``: ``member``, ``layer``, ``w``: every weight and bias at the member's last epoch.

    Epoch e is the state after e + 1 epochs of training, as in `cntgraph.Recorder`.
    """

    architecture: str
    members: pd.DataFrame
    history: pd.DataFrame
    fluctuation: pd.DataFrame
    strengths: pd.DataFrame
    weights: pd.DataFrame
    final_weights: pd.DataFrame

    def spec(self, member: int) -> Member:
        """How ``member`` was drawn, to build and train it again (`build_member`, `train_member`).

        Example:
            spec = ensemble.spec(4); model = build_member(spec); train_member(spec, model, load_digits())
        """
        rows = self.members[self.members["member"] == member]
        if rows.empty:
            raise ConfigurationError(f"no member {member!r} in this ensemble: members are 0..{len(self.members) - 1}")
        row = rows.iloc[0]
        return Member(int(row["member"]), str(row["init"]), float(row["scale"]), str(row["optimizer"]),
                      int(row["epochs"]), int(row["seed"]))

    def select(self, members: Iterable[int]) -> Ensemble:
        """The same records, of the given members only (e.g. one init scale, to analyse a stratum).

        Example:
            ensemble.select(ensemble.members.query("scale == 0.5")["member"])
        """
        keep = set(members)
        frames = {name: getattr(self, name) for name in _RECORDS}
        return Ensemble(self.architecture, **{name: f[f["member"].isin(keep)].reset_index(drop=True) for name, f in frames.items()})

    def final(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``frame`` (one of the per-epoch records) at each member's last epoch.

        Example:
            ensemble.final(ensemble.fluctuation)  # member, epoch, layer, fluctuation
        """
        last = self.history.groupby("member")["epoch"].max().rename("last")
        rows = frame.join(last, on="member")
        return rows[rows["epoch"] == rows["last"]].drop(columns="last").reset_index(drop=True)


@dataclass(frozen=True)
class Analysis:
    """Members grouped into test-accuracy buckets and the buckets compared, layer by layer.

    - ``buckets``: ``member`` -> ``bucket`` (the lower edge of its accuracy bucket; NaN for
      diverged members) and whether the bucket is ``analysed`` (has at least ``min_members``);
    - ``summary``: per analysed bucket and node layer: ``members``, ``accuracy`` (median),
      ``fluctuation_q25``/``_median``/``_q75`` over members, ``strength_std`` and ``weight_std``
      (std of the pooled strengths of the layer and of the pooled weights feeding it);
    - ``divergences``: ``quantity`` (weight, strength, fluctuation), ``layer``, ``bucket_a``,
      ``bucket_b``, ``bins``, ``jeffreys``, ``jensen_shannon``, for every pair of analysed buckets;
    - ``values``: ``quantity``, ``layer``, ``bucket``, ``value``: the samples compared (the pooled
      weights and strengths of each bucket's members at their last epoch, one fluctuation per member).
    """

    bucket_width: float
    buckets: pd.DataFrame
    summary: pd.DataFrame
    divergences: pd.DataFrame
    values: pd.DataFrame

    def fluctuation_table(self) -> pd.DataFrame:
        """One row per analysed bucket: ``bucket``, ``members``, median ``accuracy``, median fluctuation per node layer.

        Example:
            analysis.fluctuation_table()  # bucket, members, accuracy, layer 0, layer 1, ...
        """
        table = self.summary.pivot(index=["bucket", "members", "accuracy"], columns="layer", values="fluctuation_median")
        return table.rename(columns=lambda layer: f"layer {layer}").rename_axis(columns=None).reset_index()

    def extremes(self) -> pd.DataFrame:
        """The divergences between the lowest and the highest analysed bucket, per quantity and layer.

        Example:
            analysis.extremes()  # quantity, layer, bucket_a, bucket_b, bins, jeffreys, jensen_shannon
        """
        analysed = self.buckets.loc[self.buckets["analysed"], "bucket"]
        if analysed.nunique() < 2:
            return self.divergences.iloc[:0]
        low, high = analysed.min(), analysed.max()
        pair = (self.divergences["bucket_a"] == low) & (self.divergences["bucket_b"] == high)
        return self.divergences[pair].reset_index(drop=True)


@dataclass(frozen=True)
class EnsembleResult:
    """`run_ensemble`'s answer: the records, their analysis, the figures written and the wall time (s)."""

    ensemble: Ensemble
    analysis: Analysis
    figures: list[Path] = field(default_factory=list)
    seconds: float = 0.0


# -- the population ------------------------------------------------------------------------------
def draw_population(
    size: int,
    epochs: int,
    seed: int = 0,
    *,
    min_epochs: int = 1,
    inits: Sequence[str] = INITS,
    scales: Sequence[float] = SCALES,
    optimizers: Sequence[str] = OPTIMIZERS,
) -> list[Member]:
    """``size`` members, each with an init family, scale and optimiser drawn uniformly, and a
    number of epochs drawn uniformly from ``min_epochs..epochs``; deterministic given ``seed``.

    Example:
        >>> population = draw_population(3, epochs=5, seed=0)
        >>> [(m.member, m.init, m.scale, m.optimizer, m.epochs) for m in population] == [
        ...     (m.member, m.init, m.scale, m.optimizer, m.epochs) for m in draw_population(3, 5, seed=0)]
        True
        >>> all(m.init in INITS and m.scale in SCALES and 1 <= m.epochs <= 5 for m in population)
        True
    """
    if not isinstance(size, int) or size < 1:
        raise ConfigurationError(f"the ensemble size must be a whole number >= 1, got {size!r}")
    if not (isinstance(epochs, int) and isinstance(min_epochs, int) and 1 <= min_epochs <= epochs):
        raise ConfigurationError(f"epochs must be whole numbers with 1 <= min_epochs <= epochs, got {min_epochs!r}..{epochs!r}")
    for name, chosen, known in (("init", inits, INITS), ("optimizer", optimizers, OPTIMIZERS)):
        unknown = sorted(set(chosen) - set(known))
        if not chosen or unknown:
            raise ConfigurationError(f"{name} families must be a non-empty subset of {list(known)}, got {list(chosen)}")
    if not scales or min(scales) <= 0:
        raise ConfigurationError(f"scales must be positive numbers, got {list(scales)}")
    rng = np.random.default_rng(seed)
    return [
        Member(
            member=index,
            init=str(rng.choice(list(inits))),
            scale=float(rng.choice(list(scales))),
            optimizer=str(rng.choice(list(optimizers))),
            epochs=int(rng.integers(min_epochs, epochs + 1)),
            seed=int(rng.integers(2**31)),
        )
        for index in range(size)
    ]


def initialise(model: nn.Module, init: str, scale: float, seed: int) -> nn.Module:
    """Set every Linear/Conv2d weight by the papers' (Keras') initialiser and every bias to 0.

    ``normal``: N(0, scale); ``uniform``: U(-scale, scale); ``truncated_normal``: N(0, scale)
    cut at 2 scale; ``variance_scaling``: Keras' default, a normal of std sqrt(scale / fan_in) / 0.8796
    cut at 2 std (fan_in = inputs per output unit). Returns ``model``.

    Example:
        >>> net = initialise(nn.Linear(400, 400), "uniform", 0.05, seed=0)
        >>> float(net.weight.detach().abs().max()) <= 0.05, float(net.bias.detach().abs().max())
        (True, 0.0)
    """
    if init not in INITS:
        raise ConfigurationError(f"init must be one of {list(INITS)}, got {init!r}")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if not isinstance(module, (nn.Linear, nn.Conv2d)):
                continue
            weight = module.weight
            if init == "normal":
                nn.init.normal_(weight, 0.0, scale, generator=generator)
            elif init == "uniform":
                nn.init.uniform_(weight, -scale, scale, generator=generator)
            else:
                fan_in = weight[0].numel()
                std = scale if init == "truncated_normal" else math.sqrt(scale / fan_in) / 0.87962566103423978
                nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std, generator=generator)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model


def build_member(member: Member, architecture: Architecture = "mlp") -> nn.Module:
    """The untrained network of ``member``: the architecture, initialised by `initialise`.

    Example:
        >>> net = build_member(Member(0, "uniform", 0.05, "sgd", 1, seed=3))
        >>> float(net[1].weight.detach().abs().max()) <= 0.05
        True
    """
    if architecture not in ARCHITECTURES:
        raise ConfigurationError(f"architecture must be one of {list(ARCHITECTURES)}, got {architecture!r}")
    return initialise(ARCHITECTURES[architecture](), member.init, member.scale, member.seed)


def train_member(
    member: Member, model: nn.Module, data: Digits, on_epoch: EpochHook | None = None
) -> dict[str, pd.DataFrame]:
    """Train ``model`` (from `build_member`) as ``member`` says, taking its exact metrics after every epoch.

    Returns this member's records: the `Ensemble` frames ``history``, ``fluctuation``,
    ``strengths``, ``weights`` and ``final_weights``. ``on_epoch(epoch, loss, accuracy)`` runs after
    each epoch's metrics. Raises `MetricError` if the weights become non-finite.

    Example:
        >>> member = Member(0, "normal", 0.5, "adam", 2, seed=3)
        >>> records = train_member(member, build_member(member), load_digits())
        >>> sorted(records), records["fluctuation"]["epoch"].unique().tolist()
        (['final_weights', 'fluctuation', 'history', 'strengths', 'weights'], [0, 1])
    """
    topology = trace(model, INPUT_SHAPE)
    records: dict[str, list[pd.DataFrame]] = {"history": [], "fluctuation": [], "strengths": [], "weights": []}
    last: list[Snapshot] = []

    def measure(epoch: int, loss: float, acc: float) -> None:
        snapshot = take_snapshot(model, topology)  # MetricError on non-finite weights
        tag = {"member": member.member, "epoch": epoch}
        records["history"].append(pd.DataFrame([{**tag, "loss": loss, "accuracy": acc}]))
        records["fluctuation"].append(layer_fluctuation(snapshot).assign(**tag))
        records["strengths"].append(node_strength(snapshot).assign(**tag))
        stats = [{"layer": layer, **summary_stats(values)} for layer, _, values in layer_parameters(snapshot)]
        records["weights"].append(pd.DataFrame(stats).assign(**tag))
        last[:] = [snapshot]
        if on_epoch is not None:
            on_epoch(epoch, loss, acc)

    train(model, data, member.epochs, optimizer=member.optimizer, seed=member.seed, on_epoch=measure)
    frames = {name: _ordered(pd.concat(parts, ignore_index=True)) for name, parts in records.items()}
    values = layer_parameters(last[0])
    frames["final_weights"] = pd.DataFrame({
        "member": member.member,
        "layer": np.repeat([layer for layer, _, _ in values], [v.size for _, _, v in values]),
        "w": np.concatenate([v for _, _, v in values]),
    })
    return frames


def train_population(
    population: Sequence[Member],
    architecture: Architecture = "mlp",
    data: Digits | None = None,
    *,
    graph: Graph | None = None,
    sample: Sampler | None = None,
    run_prefix: str = "ensemble",
    progress: bool = True,
) -> Ensemble:
    """Build and train every member (`build_member`, `train_member`) and gather their records.

    With a ``graph``, every member is also recorded into Neo4j by a `cntgraph.Recorder` as run
    ``{run_prefix}-{member:04d}`` (``sample``: the stored neurons, default all), overwriting a run
    of that name. ``data`` defaults to `load_digits()`.

    Example:
        >>> population = draw_population(2, epochs=2, seed=0)
        >>> ensemble = train_population(population, progress=False)
        >>> ensemble.history.groupby("member").size().tolist() == [m.epochs for m in population]
        True
    """
    data = data if data is not None else load_digits()
    rows, parts = [], []
    bar = tqdm(population, desc=f"training {architecture} ensemble", unit="net", disable=not progress)
    for member in bar:
        model = build_member(member, architecture)
        try:
            if graph is None:
                records = train_member(member, model, data)
            else:
                records = _train_recorded(member, model, data, graph, sample, f"{run_prefix}-{member.member:04d}")
        except MetricError:
            rows.append({**asdict(member), "accuracy": np.nan, "loss": np.nan, "diverged": True})
            continue
        final = records["history"].iloc[-1]
        rows.append({**asdict(member), "accuracy": final["accuracy"], "loss": final["loss"], "diverged": False})
        parts.append(records)
        bar.set_postfix(accuracy=f"{final['accuracy']:.3f}")
    if not parts:
        raise MetricError(f"all {len(population)} members diverged (non-finite weights): nothing to analyse")
    frames = {name: pd.concat([p[name] for p in parts], ignore_index=True) for name in parts[0]}
    return Ensemble(architecture=architecture, members=pd.DataFrame(rows), **frames)


def _train_recorded(
    member: Member, model: nn.Module, data: Digits, graph: Graph, sample: Sampler | None, run: str
) -> dict[str, pd.DataFrame]:
    """`train_member`, recording every epoch into Neo4j as ``run`` too."""
    from cntgraph.recorder import Recorder
    from cntgraph.sampling import Full

    with Recorder(model, run, INPUT_SHAPE, graph=graph, sample=sample or Full(), if_exists="overwrite", progress=False) as recorder:
        return train_member(
            member, model, data, on_epoch=lambda epoch, loss, acc: recorder.capture(epoch, loss=loss, accuracy=acc)
        )


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """``member`` and ``epoch`` first, then the other columns."""
    first = ["member", "epoch"]
    return frame[first + [c for c in frame.columns if c not in first]]


# -- buckets and divergences ---------------------------------------------------------------------
def bucket_of(accuracy: npt.ArrayLike, width: float) -> np.ndarray:
    """The lower edge of each accuracy's bucket ``[k width, (k + 1) width)``; 1.0 joins the top bucket.

    Edges are multiples of ``width`` from 0, rounded to 9 decimals, so 0.95 with width 0.05 is in
    the bucket starting at 0.95, not 0.9 (0.95 / 0.05 is 18.999... in floating point). NaN stays NaN.

    Example:
        >>> bucket_of([0.0, 0.049, 0.05, 0.95, 0.999, 1.0], 0.05).tolist()
        [0.0, 0.0, 0.05, 0.95, 0.95, 0.95]
        >>> bucket_of([0.33, 1.0], 0.25).tolist()
        [0.25, 0.75]
    """
    if not (isinstance(width, (int, float)) and 0 < width <= 1):
        raise ConfigurationError(f"the bucket width must be a number in (0, 1], e.g. 0.05; got {width!r}")
    values = np.asarray(accuracy, dtype=np.float64)
    top = math.ceil(round(1 / width, 9)) - 1
    index = np.minimum(np.floor(np.round(values / width, 9)), top)
    return np.round(index * width, 9)


def analyse(
    ensemble: Ensemble,
    bucket_width: float = 0.05,
    *,
    min_members: int = 3,
    bins: int = 32,
    progress: bool = True,
) -> Analysis:
    """Group members into accuracy buckets of ``bucket_width`` and compare the buckets layer by layer.

    Each member counts at its last epoch. Buckets with fewer than ``min_members`` members are
    listed but not compared. Each pair of buckets is compared per quantity and layer on a grid
    common to its two samples: equal-mass bins (`cntgraph.divergence.grid_edges` with
    ``spacing="quantile"``), ``min(bins, sqrt(n))`` of them (at least 2), ``n`` the smaller sample
    (so that a handful of fluctuation values is not spread over 32 bins), with half a pseudocount
    per bin. The number of bins used is in the ``bins`` column.

    Example:
        analysis = analyse(ensemble, bucket_width=0.1)
        analysis.extremes()[["quantity", "layer", "jeffreys"]]
    """
    if not isinstance(min_members, int) or min_members < 1:
        raise ConfigurationError(f"min_members must be a whole number >= 1, got {min_members!r}")
    members = ensemble.members
    bucket = pd.Series(bucket_of(members["accuracy"], bucket_width), index=members.index)
    sizes = bucket.map(bucket.value_counts())
    buckets = pd.DataFrame({"member": members["member"], "bucket": bucket, "analysed": sizes >= min_members})
    chosen = buckets.loc[buckets["analysed"], ["member", "bucket"]]
    values = _bucket_values(ensemble, chosen)
    summary = _summary(ensemble, chosen, values)
    groups = list(values.groupby(["quantity", "layer"], sort=False))
    rows = []
    for (quantity, layer), part in tqdm(groups, desc="comparing buckets", unit="layer", disable=not progress):
        rows += _divergence_rows(quantity, int(layer), part, bins)
    columns = ["quantity", "layer", "bucket_a", "bucket_b", "bins", *MEASURES]
    return Analysis(bucket_width, buckets, summary, pd.DataFrame(rows, columns=columns), values)


def _bucket_values(ensemble: Ensemble, chosen: pd.DataFrame) -> pd.DataFrame:
    """``quantity``, ``layer``, ``bucket``, ``value``: what `analyse` compares, at each member's last epoch."""
    final_strengths = ensemble.final(ensemble.strengths)
    final_fluctuation = ensemble.final(ensemble.fluctuation)
    parts = [
        (name, frame.merge(chosen, on="member")[["layer", "bucket", column]].rename(columns={column: "value"}))
        for name, frame, column in (
            ("weight", ensemble.final_weights, "w"),
            ("strength", final_strengths, "s"),
            ("fluctuation", final_fluctuation, "fluctuation"),
        )
    ]
    return pd.concat([frame.assign(quantity=name) for name, frame in parts], ignore_index=True)[
        ["quantity", "layer", "bucket", "value"]
    ]


def _summary(ensemble: Ensemble, chosen: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    fluctuation = ensemble.final(ensemble.fluctuation).merge(chosen, on="member")
    accuracy = ensemble.members[["member", "accuracy"]].merge(chosen, on="member").groupby("bucket")["accuracy"]
    table = fluctuation.groupby(["bucket", "layer"])["fluctuation"].agg(
        members="size",
        fluctuation_q25=lambda f: f.quantile(0.25),
        fluctuation_median="median",
        fluctuation_q75=lambda f: f.quantile(0.75),
    )
    table.insert(1, "accuracy", table.index.get_level_values("bucket").map(accuracy.median()))
    for quantity in ("strength", "weight"):
        rows = values[values["quantity"] == quantity]
        table[f"{quantity}_std"] = rows.groupby(["bucket", "layer"])["value"].std(ddof=0)
    return table.reset_index()


def _divergence_rows(quantity: str, layer: int, part: pd.DataFrame, bins: int) -> list[dict[str, object]]:
    """Both divergences for every pair of buckets in ``part``, each pair on a grid of its own two samples."""
    groups = [(bucket, rows["value"].to_numpy()) for bucket, rows in part.groupby("bucket")]
    rows = []
    for i, (bucket_a, a) in enumerate(groups):
        for bucket_b, b in groups[i + 1 :]:
            chosen = max(2, min(bins, math.isqrt(min(a.size, b.size))))
            p, q = densities([a, b], grid_edges([a, b], chosen, spacing="quantile"), pseudocount=0.5)
            rows.append({
                "quantity": quantity, "layer": layer, "bucket_a": bucket_a, "bucket_b": bucket_b, "bins": p.size,
                **{name: measure(p, q) for name, measure in MEASURES.items()},
            })
    return rows


# -- figures and the whole analysis --------------------------------------------------------------
def plot_ensemble(ensemble: Ensemble, analysis: Analysis, out: Path, progress: bool = True) -> list[Path]:
    """Write the ensemble's figures (PNG) into ``out`` and return their paths.

    Densities per layer coloured by bucket (link weights, node strength, fluctuation), Jeffreys and
    Jensen-Shannon heatmaps between buckets, fluctuation against accuracy, and fluctuation over
    epochs per bucket. Only analysed buckets are drawn.

    Example:
        plot_ensemble(result.ensemble, result.analysis, Path("ensemble"))
    """
    from cntgraph import plots

    width, arch = analysis.bucket_width, ensemble.architecture
    chosen = analysis.buckets.loc[analysis.buckets["analysed"], ["member", "bucket"]]
    if chosen.empty:
        return []
    values = analysis.values
    final = ensemble.final(ensemble.fluctuation).merge(chosen, on="member").merge(ensemble.members[["member", "accuracy"]], on="member")
    steps: list[Callable[[], Path]] = [
        lambda: plots.bucket_densities(values[values["quantity"] == "weight"], out / "weights.png", width, "w",
                                       f"Link weights by test-accuracy bucket ({arch})"),
        lambda: plots.bucket_densities(values[values["quantity"] == "strength"], out / "strength.png", width, "s",
                                       f"Node strength by test-accuracy bucket ({arch})"),
        lambda: plots.bucket_densities(values[values["quantity"] == "fluctuation"], out / "fluctuation.png", width,
                                       "fluctuation", f"Layer fluctuation by test-accuracy bucket ({arch})"),
        lambda: plots.fluctuation_vs_accuracy(final, out / "fluctuation-accuracy.png", width),
        lambda: plots.fluctuation_trajectories(ensemble.fluctuation.merge(chosen, on="member"), out / "trajectories.png", width),
    ]
    if not analysis.divergences.empty:
        steps += [
            lambda: plots.divergence_heatmaps(analysis.divergences, out / "jeffreys.png", width, "jeffreys"),
            lambda: plots.divergence_heatmaps(analysis.divergences, out / "jensen-shannon.png", width, "jensen_shannon"),
        ]
    return [step() for step in tqdm(steps, desc="plotting", unit="figure", disable=not progress)]


def run_ensemble(
    size: int = 100,
    epochs: int = 15,
    *,
    min_epochs: int = 1,
    bucket_width: float = 0.05,
    seed: int = 0,
    architecture: Architecture = "mlp",
    inits: Sequence[str] = INITS,
    scales: Sequence[float] = SCALES,
    optimizers: Sequence[str] = OPTIMIZERS,
    min_members: int = 3,
    bins: int = 32,
    out: Path | None = None,
    graph: Graph | None = None,
    sample: Sampler | None = None,
    run_prefix: str = "ensemble",
    threads: int | None = 1,
    progress: bool = True,
) -> EnsembleResult:
    """Draw, train, bucket, compare and (given ``out``) plot an ensemble: the papers' ensemble analysis.

    With ``out``, the figures go there, and ``members.csv`` (with buckets and the final
    fluctuation of every layer), ``summary.csv`` and ``divergences.csv`` beside them.

    See `draw_population` (``size``, ``epochs``, ``min_epochs``, ``seed``, ``inits``, ``scales``,
    ``optimizers``), `train_population` (``architecture``, ``graph``, ``sample``), `analyse`
    (``bucket_width``, ``min_members``, ``bins``) and `plot_ensemble` (``out``). Torch runs on
    ``threads`` threads meanwhile (None: leave as is; small nets train fastest on one).

    Example (``progress=False`` keeps doctest output clean):
        >>> result = run_ensemble(size=3, epochs=1, seed=0, bucket_width=0.5, min_members=1, progress=False)
        >>> len(result.ensemble.members), result.figures
        (3, [])
    """
    started = time.perf_counter()
    population = draw_population(
        size, epochs, seed, min_epochs=min_epochs, inits=inits, scales=scales, optimizers=optimizers
    )
    with _torch_threads(threads):
        ensemble = train_population(
            population, architecture, graph=graph, sample=sample, run_prefix=run_prefix, progress=progress
        )
    analysis = analyse(ensemble, bucket_width, min_members=min_members, bins=bins, progress=progress)
    figures = []
    if out is not None:
        figures = plot_ensemble(ensemble, analysis, out, progress)
        _write_tables(ensemble, analysis, out)
    return EnsembleResult(ensemble, analysis, figures, time.perf_counter() - started)


def _write_tables(ensemble: Ensemble, analysis: Analysis, out: Path) -> None:
    """The members (with bucket and final fluctuation per layer), bucket summary and divergences as CSV files."""
    out.mkdir(parents=True, exist_ok=True)
    fluctuation = ensemble.final(ensemble.fluctuation).pivot(index="member", columns="layer", values="fluctuation")
    fluctuation = fluctuation.rename(columns=lambda layer: f"fluctuation_{layer}").reset_index()
    members = ensemble.members.merge(analysis.buckets, on="member").merge(fluctuation, on="member", how="left")
    members.to_csv(out / "members.csv", index=False)
    analysis.summary.to_csv(out / "summary.csv", index=False)
    analysis.divergences.to_csv(out / "divergences.csv", index=False)


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with torch on ``threads`` intra-op threads, then restore the previous number."""
    if threads is None:
        yield
        return
    if not isinstance(threads, int) or threads < 1:
        raise ConfigurationError(f"threads must be a whole number >= 1 or None, got {threads!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)

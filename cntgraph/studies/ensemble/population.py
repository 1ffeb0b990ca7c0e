"""The ensemble's population: networks drawn over the papers' initialisations, trained and measured.

A population of small networks of one architecture is drawn over the papers' initialisation
families (normal, uniform, truncated normal, variance scaling) and scales (0.05, 0.5, 5.0), with
SGD or Adam and a random number of epochs. Every member is trained on the digits and, after every
epoch, its exact CNT metrics are computed from a float64 snapshot (:mod:`cntgraph.model.metrics`):
node strengths, layer fluctuation and link-weight summaries; its raw link weights are kept at its
last epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from cntgraph.checks import whole_number
from cntgraph.core.metrics import summary_stats
from cntgraph.core.network import Snapshot
from cntgraph.core.null_models import checked_draws, layer_nulls
from cntgraph.errors import ConfigurationError, MetricError
from cntgraph.model.metrics import layer_parameters, node_strength
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace
from cntgraph.studies.data import Split, as_split
from cntgraph.studies.digits import EpochHook, cnn, load_digits, mlp, train

if TYPE_CHECKING:
    from cntgraph.core.sampling import Sampler
    from cntgraph.store.graph import Graph

__all__ = [
    "INITS",
    "SCALES",
    "OPTIMIZERS",
    "Member",
    "Ensemble",
    "draw_population",
    "initialise",
    "build_member",
    "train_member",
    "train_population",
    "train_one",
    "assemble",
    "torch_threads",
]

#: the papers' initialisation families and scales, and the two optimisers
INITS = ("normal", "uniform", "truncated_normal", "variance_scaling")
SCALES = (0.05, 0.5, 5.0)
OPTIMIZERS = ("sgd", "adam")
INPUT_SHAPE = (1, 8, 8)
_RECORDS = ("members", "history", "fluctuation", "strengths", "weights", "final_weights")
#: the networks of a population, for samples of a shape and a number of classes
ARCHITECTURES: dict[str, Callable[[tuple[int, ...], int], nn.Module]] = {
    "mlp": lambda shape, classes: mlp(32, 2, math.prod(shape), classes),
    "cnn": lambda shape, classes: cnn(8, 64, shape, classes),
}
Architecture = Literal["mlp", "cnn"]



@dataclass(frozen=True)
class Protocol:
    """How members are initialised and trained: batch size, optimiser settings, biases, most epochs."""

    batch_size: int
    sgd_lr: float
    sgd_momentum: float
    adam_lr: float
    #: biases drawn by the weights' initialiser (the reference code), else 0
    init_biases: bool
    #: the most epochs a member trains when no number is given
    epochs: int


#: ``"cntgraph"``: batch 64, SGD lr 0.05 with momentum 0.9 or Adam lr 1e-3, biases 0, up to 15
#: epochs. ``"reference"``: the reference code's, as an independent check of it read it: batch 16,
#: plain SGD lr 0.01 or Adam lr 1e-3, biases drawn by the weights' initialiser, 1 to 5 epochs
#: (docs/RESULTS.md says where its versions differ).
PROTOCOLS = {
    "cntgraph": Protocol(batch_size=64, sgd_lr=0.05, sgd_momentum=0.9, adam_lr=1e-3, init_biases=False, epochs=15),
    "reference": Protocol(batch_size=16, sgd_lr=0.01, sgd_momentum=0.0, adam_lr=1e-3, init_biases=True, epochs=5),
}


@dataclass(frozen=True)
class Member:
    """One network of the population: how it is initialised and trained (``seed`` drives both)."""

    member: int
    init: str
    scale: float
    optimizer: str
    epochs: int
    seed: int
    protocol: str = "cntgraph"


@dataclass(frozen=True)
class Ensemble:
    """What training the population recorded, one DataFrame per kind of record.

    - ``members``: ``member``, ``init``, ``scale``, ``optimizer``, ``epochs``, ``seed``,
      ``protocol`` (`PROTOCOLS`), ``threads`` (torch's intra-op threads while it trained: with
      as many, `spec` and `train_member` retrain it bit for bit), ``error`` (why a member
      trained on Ray failed, else None; its accuracy is NaN), ``accuracy`` (test accuracy
      after the last epoch), ``loss``, ``diverged`` (weights became
      non-finite: the member's records are dropped and it takes no part in the analysis);
    - ``history``: ``member``, ``epoch``, ``loss``, ``accuracy``;
    - ``fluctuation``: ``member``, ``epoch``, ``layer`` (node layer 0..K), ``fluctuation`` and its
      null models (`cntgraph.core.null_models.null_model`, seeded by the epoch): ``null_mean``,
      ``null_std``, ``z``, ``ratio`` (NaN when trained with ``null_draws=0``), ``iid``, ``iid_ratio``;
    - ``strengths``: ``member``, ``epoch``, ``layer``, ``unit``, ``s_in``, ``s_out``, ``s``;
    - ``weights``: ``member``, ``epoch``, ``layer`` (weighted layer 1..K) and the
      `cntgraph.core.metrics.summary_stats` of its weights and biases;
    - ``final_weights``: ``member``, ``layer``, ``w``: every weight and bias at the member's last epoch.

    Epoch e is the state after e + 1 epochs of training, as in `cntgraph.Recorder`. ``input_shape``
    and ``classes`` are those of the data it trained on.
    """

    architecture: str
    members: pd.DataFrame
    history: pd.DataFrame
    fluctuation: pd.DataFrame
    strengths: pd.DataFrame
    weights: pd.DataFrame
    final_weights: pd.DataFrame
    input_shape: tuple[int, ...] = INPUT_SHAPE
    classes: int = 10

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
                      int(row["epochs"]), int(row["seed"]), str(row["protocol"]))

    def select(self, members: Iterable[int]) -> Ensemble:
        """The same records, of the given members only (e.g. one init scale, to analyse a stratum).

        Example:
            ensemble.select(ensemble.members.query("scale == 0.5")["member"])
        """
        keep = set(members)
        frames = {name: getattr(self, name) for name in _RECORDS}
        kept = {name: f[f["member"].isin(keep)].reset_index(drop=True) for name, f in frames.items()}
        return Ensemble(self.architecture, **kept, input_shape=self.input_shape, classes=self.classes)

    def final(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``frame`` (one of the per-epoch records) at each member's last epoch.

        Example:
            ensemble.final(ensemble.fluctuation)  # member, epoch, layer, fluctuation
        """
        last = self.history.groupby("member")["epoch"].max().rename("last")
        rows = frame.join(last, on="member")
        return rows[rows["epoch"] == rows["last"]].drop(columns="last").reset_index(drop=True)


def draw_population(
    size: int,
    epochs: int | None = None,
    seed: int = 0,
    *,
    min_epochs: int = 1,
    inits: Sequence[str] = INITS,
    scales: Sequence[float] = SCALES,
    optimizers: Sequence[str] = OPTIMIZERS,
    protocol: str = "cntgraph",
) -> list[Member]:
    """``size`` members, each with an init family, scale and optimiser drawn uniformly, and a
    number of epochs drawn uniformly from ``min_epochs..epochs`` (None: the protocol's most, see
    `PROTOCOLS`); all trained by ``protocol``; deterministic given ``seed``.

    Example:
        >>> population = draw_population(3, epochs=5, seed=0)
        >>> [(m.member, m.init, m.scale, m.optimizer, m.epochs) for m in population] == [
        ...     (m.member, m.init, m.scale, m.optimizer, m.epochs) for m in draw_population(3, 5, seed=0)]
        True
        >>> all(m.init in INITS and m.scale in SCALES and 1 <= m.epochs <= 5 for m in population)
        True
    """
    whole_number("the ensemble size", size)
    epochs = _protocol(protocol).epochs if epochs is None else epochs
    if not (whole_number("min_epochs", min_epochs) <= whole_number("epochs", epochs)):
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
            protocol=protocol,
        )
        for index in range(size)
    ]


def initialise(model: nn.Module, init: str, scale: float, seed: int, biases: bool = False) -> nn.Module:
    """Set every Linear/Conv2d weight by the papers' (Keras') initialiser, and every bias to 0 (or,
    with ``biases``, by the same initialiser, as the reference code did).

    ``normal``: N(0, scale); ``uniform``: U(-scale, scale); ``truncated_normal``: N(0, scale)
    cut at 2 scale; ``variance_scaling``: Keras' default, a normal of std sqrt(scale / fan_in) / 0.8796
    cut at 2 std (fan_in = inputs per output unit; for a bias, as Keras counts a vector, its
    length). Returns ``model``.

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
            _draw(module.weight, init, scale, generator)
            if module.bias is not None and biases:
                _draw(module.bias, init, scale, generator)
            elif module.bias is not None:
                nn.init.zeros_(module.bias)
    return model


def _draw(tensor: torch.Tensor, init: str, scale: float, generator: torch.Generator) -> None:
    """Fill ``tensor`` in place by the initialiser ``init`` at ``scale`` (see `initialise`)."""
    if init == "normal":
        nn.init.normal_(tensor, 0.0, scale, generator=generator)
    elif init == "uniform":
        nn.init.uniform_(tensor, -scale, scale, generator=generator)
    else:
        fan_in = tensor[0].numel() if tensor.dim() > 1 else tensor.numel()
        std = scale if init == "truncated_normal" else math.sqrt(scale / fan_in) / 0.87962566103423978
        nn.init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std, generator=generator)


def build_member(
    member: Member, architecture: Architecture = "mlp", input_shape: Sequence[int] = INPUT_SHAPE, classes: int = 10
) -> nn.Module:
    """The untrained network of ``member``: the architecture for samples of ``input_shape`` and
    ``classes`` classes (the digits' by default), initialised by `initialise`.

    Example:
        >>> net = build_member(Member(0, "uniform", 0.05, "sgd", 1, seed=3))
        >>> float(net[1].weight.detach().abs().max()) <= 0.05
        True
    """
    if architecture not in ARCHITECTURES:
        raise ConfigurationError(f"architecture must be one of {list(ARCHITECTURES)}, got {architecture!r}")
    protocol = _protocol(member.protocol)
    model = ARCHITECTURES[architecture](tuple(input_shape), classes)
    return initialise(model, member.init, member.scale, member.seed, biases=protocol.init_biases)


#: weight-shuffled networks per member and epoch for the null model (a few ms an epoch for the MLP)
NULL_DRAWS = 20


def train_member(
    member: Member, model: nn.Module, data: Split, on_epoch: EpochHook | None = None, null_draws: int = NULL_DRAWS
) -> dict[str, pd.DataFrame]:
    """Train ``model`` (from `build_member`) as ``member`` says, taking its exact metrics after every epoch.

    Returns this member's records: the `Ensemble` frames ``history``, ``fluctuation``,
    ``strengths``, ``weights`` and ``final_weights``. ``on_epoch(epoch, loss, accuracy)`` runs after
    each epoch's metrics. ``null_draws`` weight-shuffled networks per epoch give the null model
    beside the fluctuation (0: only the i.i.d. prediction). Raises `MetricError` if the weights
    become non-finite.

    Example:
        >>> member = Member(0, "normal", 0.5, "adam", 2, seed=3)
        >>> records = train_member(member, build_member(member), load_digits())
        >>> sorted(records), records["fluctuation"]["epoch"].unique().tolist()
        (['final_weights', 'fluctuation', 'history', 'strengths', 'weights'], [0, 1])
    """
    topology = trace(model, data.input_shape)
    records: dict[str, list[pd.DataFrame]] = {"history": [], "fluctuation": [], "strengths": [], "weights": []}
    last: list[Snapshot] = []

    def measure(epoch: int, loss: float, acc: float) -> None:
        snapshot = take_snapshot(model, topology)  # MetricError on non-finite weights
        tag = {"member": member.member, "epoch": epoch}
        records["history"].append(pd.DataFrame([{**tag, "loss": loss, "accuracy": acc}]))
        records["fluctuation"].append(layer_nulls(snapshot, null_draws, seed=epoch).assign(**tag))
        records["strengths"].append(node_strength(snapshot).assign(**tag))
        stats = [{"layer": layer, **summary_stats(values)} for layer, _, values in layer_parameters(snapshot)]
        records["weights"].append(pd.DataFrame(stats).assign(**tag))
        last[:] = [snapshot]
        if on_epoch is not None:
            on_epoch(epoch, loss, acc)

    protocol = _protocol(member.protocol)
    train(model, data, member.epochs, optimizer=member.optimizer, seed=member.seed, on_epoch=measure,
          batch_size=protocol.batch_size, momentum=protocol.sgd_momentum,
          lr=protocol.sgd_lr if member.optimizer == "sgd" else protocol.adam_lr)
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
    data: Split | Sequence[Any] | None = None,
    *,
    graph: Graph | None = None,
    sample: Sampler | None = None,
    run_prefix: str = "ensemble",
    null_draws: int = NULL_DRAWS,
    progress: bool = True,
) -> Ensemble:
    """Build and train every member (`build_member`, `train_member`) and gather their records.

    With a ``graph``, every member is also recorded into Neo4j by a `cntgraph.Recorder` as run
    ``{run_prefix}-{member:04d}`` (``sample``: the stored neurons, default all), overwriting a run
    of that name (with the same null model per epoch). ``data`` defaults to `load_digits()`; any
    other (a `Split`, four tensors or two torch Datasets, see `cntgraph.studies.data.as_split`)
    sizes the architecture's input and outputs;
    ``null_draws``: see `train_member`. To train the members as Ray tasks instead, see
    :func:`cntgraph.studies.ensemble.distributed.train_population_on_ray`.

    Example:
        >>> population = draw_population(2, epochs=2, seed=0)
        >>> ensemble = train_population(population, progress=False)
        >>> ensemble.history.groupby("member").size().tolist() == [m.epochs for m in population]
        True
    """
    checked_draws(null_draws)
    data = as_split(data) if data is not None else load_digits()
    bar = tqdm(population, desc=f"training {architecture} ensemble", unit="net", disable=not progress)
    outcomes = []
    for member in bar:
        recording = None if graph is None else (graph, sample, f"{run_prefix}-{member.member:04d}")
        outcomes.append(train_one(member, architecture, data, null_draws, recording))
        if not outcomes[-1][0]["diverged"]:
            bar.set_postfix(accuracy=f"{outcomes[-1][0]['accuracy']:.3f}")
    return assemble(outcomes, architecture, data)


def assemble(outcomes: Sequence[Outcome], architecture: Architecture, data: Split) -> Ensemble:
    """The `Ensemble` of the members' outcomes (`train_one`), in their order."""
    rows = [row for row, _ in outcomes]
    parts = [records for _, records in outcomes if records is not None]
    if not parts:
        failed = [row["error"] for row in rows if row["error"]]
        reason = f"{len(failed)} failed (first: {failed[0]})" if failed else "all diverged (non-finite weights)"
        raise MetricError(f"none of the {len(rows)} members has records to analyse: {reason}")
    frames = {name: pd.concat([p[name] for p in parts], ignore_index=True) for name in parts[0]}
    return Ensemble(architecture=architecture, members=pd.DataFrame(rows), **frames, input_shape=data.input_shape, classes=data.classes)


#: where a member is recorded: the graph, the sample of stored neurons (None: all), the run name
Recording = tuple["Graph", "Sampler | None", str]
#: a trained member: its row of `Ensemble.members` and its records (None: diverged or failed)
Outcome = tuple[dict[str, Any], "dict[str, pd.DataFrame] | None"]


def train_one(
    member: Member, architecture: Architecture, data: Split, null_draws: int, recording: Recording | None = None
) -> Outcome:
    """Build and train ``member`` (recorded into Neo4j when ``recording`` is given): its row of
    `Ensemble.members` and its records (None when its weights became non-finite)."""
    model = build_member(member, architecture, data.input_shape, data.classes)
    row = {**asdict(member), "threads": torch.get_num_threads(), "error": None}
    try:
        records = (
            train_member(member, model, data, null_draws=null_draws)
            if recording is None
            else _train_recorded(member, model, data, *recording, null_draws)
        )
    except MetricError:
        return {**row, "accuracy": np.nan, "loss": np.nan, "diverged": True}, None
    final = records["history"].iloc[-1]
    return {**row, "accuracy": final["accuracy"], "loss": final["loss"], "diverged": False}, records


def _train_recorded(
    member: Member, model: nn.Module, data: Split, graph: Graph, sample: Sampler | None, run: str, null_draws: int
) -> dict[str, pd.DataFrame]:
    """`train_member`, recording every epoch into Neo4j as ``run`` too; a run of that name already
    complete for this member (its epochs 0..epochs-1, none left incomplete) is kept, not written
    again, and the member trains in memory only (so a rerun after a failure redoes only what is missing)."""
    from cntgraph.core.sampling import Full
    from cntgraph.recording.recorder import Recorder

    stored = graph.query("read/run", name=run)
    if not stored.empty and int(stored["incomplete"][0]) == 0 and graph.epochs(run)["epoch"].tolist() == list(range(member.epochs)):
        return train_member(member, model, data, null_draws=null_draws)

    # members are small and many: a writer process each would cost more to start than it saves
    with Recorder(
        model, run, data.input_shape, graph=graph, sample=sample or Full(), if_exists="overwrite", progress=False,
        writer_process=False, null_draws=null_draws, props=asdict(member),
    ) as recorder:
        return train_member(
            member, model, data, on_epoch=lambda epoch, loss, acc: recorder.capture(epoch, loss=loss, accuracy=acc),
            null_draws=null_draws,
        )


def _protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise ConfigurationError(f"protocol must be one of {list(PROTOCOLS)}, got {name!r}")
    return PROTOCOLS[name]


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """``member`` and ``epoch`` first, then the other columns."""
    first = ["member", "epoch"]
    return frame[first + [c for c in frame.columns if c not in first]]


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with torch on ``threads`` intra-op threads, then restore the previous number."""
    if threads is None:
        yield
        return
    whole_number("threads", threads, hint="or None")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)

"""trace: layer shapes and parameters, and the models it must refuse, with the message it gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cntgraph.core.network import NodeLayer, Topology, WeightedLayer
from cntgraph.errors import ConfigurationError, TopologyError
from cntgraph.model.tracing import trace, weighted_modules

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


class Custom(nn.Module):
    """A custom module with functional wiring in forward and a shared activation module."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU())
        self.act = nn.ReLU()
        self.head = nn.ModuleDict({"fc": nn.Linear(4 * 3 * 3, 5), "out": nn.Linear(5, 2, bias=False)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = x.view(x.size(0), -1)
        x = self.act(torch.tanh(self.head["fc"](x)))
        return F.log_softmax(self.act(self.head["out"](x)), dim=1)


def test_custom_module_layers_and_shapes() -> None:
    topology = trace(Custom(), (1, 5, 5))
    assert topology.node_layers == (
        NodeLayer(0, "input", (1, 5, 5), 25),
        NodeLayer(1, "features.0", (4, 3, 3), 36),
        NodeLayer(2, "head.fc", (5,), 5),
        NodeLayer(3, "head.out", (2,), 2),
    )
    conv, fc, out = topology.layers
    assert conv == WeightedLayer(
        1, "features.0", "conv2d", (1, 5, 5), (4, 3, 3), (2, 2), (1, 1), (1, 1), 1, True, (3, 3)
    )
    assert fc == WeightedLayer(2, "head.fc", "linear", (36,), (5,), (), (), (), 1, True, ())
    assert out.has_bias is False and out.in_shape == (5,)


@pytest.mark.parametrize(
    ("conv", "padding"),
    [
        (nn.Conv2d(1, 1, 3, padding="same"), (1, 1)),
        (nn.Conv2d(1, 1, (2, 4), padding="same", dilation=(1, 3)), (0, 4)),  # torch pads the rest after
        (nn.Conv2d(1, 1, 3, padding="valid"), (0, 0)),
        (nn.Conv2d(1, 1, 3, padding=(2, 0)), (2, 0)),
    ],
)
def test_padding_is_resolved_to_ints_before(conv: nn.Conv2d, padding: tuple[int, int]) -> None:
    assert trace(conv, (1, 6, 9)).layers[0].padding == padding


def test_root_module_can_be_a_layer_and_float64_models_work() -> None:
    topology = trace(nn.Linear(3, 2).double(), [3])
    assert isinstance(topology, Topology) and topology.layers[0].path == ""


def test_modes_and_hooks_are_restored() -> None:
    net = nn.Sequential(nn.Linear(3, 3), nn.Dropout(), nn.Linear(3, 1))
    net.train()
    net[1].eval()
    trace(net, (3,))
    assert [m.training for m in net.modules()] == [True, True, False, True]
    with pytest.raises(TopologyError):
        trace(net, (4,))
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    assert [m.training for m in net.modules()] == [True, True, False, True]


def test_weighted_modules_in_registration_order() -> None:
    assert [path for path, _ in weighted_modules(Custom())] == ["features.0", "head.fc", "head.out"]


def test_softmax_is_allowed_last() -> None:
    assert len(trace(nn.Sequential(nn.Linear(3, 2), nn.Softmax(dim=1)), (3,)).layers) == 1


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.InstanceNorm2d(2)), r"module '1' \(InstanceNorm2d\) is not supported"),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.LPPool2d(2, 2)), r"module '1' \(LPPool2d\) is not supported"),
        (
            nn.Sequential(nn.Sequential(nn.Flatten(), nn.RNNCell(16, 4))),
            r"module '0\.1' \(RNNCell\) is not supported",
        ),
        (nn.Sequential(nn.Flatten(), nn.Linear(16, 4), nn.PReLU()), r"module '2' \(PReLU\) is not supported"),
        (nn.Sequential(nn.Flatten(), nn.Unflatten(1, (4, 4))), r"module '1' \(Unflatten\) is not supported"),
        (
            nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"),
            r"<root> \(Conv2d\) has padding_mode='reflect'",
        ),
    ],
)
def test_unsupported_modules_are_named(model: nn.Module, match: str) -> None:
    with pytest.raises(TopologyError, match=match) as error:
        trace(model, (1, 4, 4))
    assert "cntgraph reads" in str(error.value)


class ScaledResidual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.add(x, self.fc(x), alpha=0.5)


class ConstantAdded(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) + torch.ones(4)


class Doubled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        return y + y


class WidthConcat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(1, 2, 1), nn.Conv2d(1, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.a(x.view(1, 1, 2, 2)), self.b(x.view(1, 1, 2, 2))], dim=3)


class Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 2), nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.a(x), self.b(x)], dim=1)


class Skip(nn.Module):
    """The second layer reads the input, not the first layer's output."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.a(x)
        return self.b(x)


class Scaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x * 2)


class OwnParameter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.scale = nn.Parameter(torch.ones(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) * self.scale


class Unused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.spare = nn.Linear(4, 2), nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class LosesBatch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.view(-1))


shared = nn.Linear(4, 4)


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (ScaledResidual(), r"torch function 'add' after module 'fc' \(Linear\) is not a residual addition"),
        (ConstantAdded(), r"torch function 'add' after module 'fc' \(Linear\) is not a residual addition"),
        (Doubled(), r"adds units of node layers \[\(1,\), \(1,\)\] to themselves"),
        (Concat(), r"the output holds node layers \['a', 'b'\]"),
        (WidthConcat(), r"joins tensors computed from the input along dimension 1 .* got dim=3"),
        (Skip(), r"the output holds node layers \['b'\] and \['a'\] reach no output"),
        (Scaled(), r"torch function 'mul' after the model input is not wiring"),
        (OwnParameter(), r"module <root> \(OwnParameter\) is not supported \(it holds weights of its own, .*beside its submodules\)"),
        (Unused(), r"weighted modules \['spare'\] are never called"),
        (LosesBatch(), r"torch function 'view' does not keep the batch dimension"),
        (nn.Sequential(shared, nn.ReLU(), shared), r"module '0' \(Linear\) is called twice"),
        (
            nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1), nn.Linear(3, 2)),
            r"module '2' \(Linear\) comes after module '1' \(Softmax\)",
        ),
        (
            nn.Sequential(nn.Flatten(0), nn.Linear(4, 2)),
            r"module '0' \(Flatten\) does not keep the batch dimension",
        ),
        (nn.Sequential(nn.ReLU()), "no layer that makes links"),
    ],
)
def test_wiring_that_cannot_be_read_is_refused(model: nn.Module, match: str) -> None:
    with pytest.raises(TopologyError, match=match):
        trace(model, (4,))


def test_linear_on_an_image_needs_flatten() -> None:
    with pytest.raises(TopologyError, match=r"module '1' \(Linear\) gets input of shape \(1, 2, 2, 2\)"):
        trace(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(2, 2)), (1, 4, 4))


@pytest.mark.parametrize(
    ("input_shape", "match"),
    [
        (
            (1, 28, 28),
            r"input_shape \(1, 28, 28\) does not fit the model: forward failed in module '2' \(Linear\)",
        ),
        ((784,), r"input_shape \(784,\) does not fit the model: forward failed in module '0' \(Conv2d\)"),
        (
            (2, 8, 8),
            r"input_shape \(2, 8, 8\) does not fit the model: forward failed in module '0' \(Conv2d\)",
        ),
    ],
)
def test_input_shape_that_does_not_fit(input_shape: tuple[int, ...], match: str) -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    with pytest.raises(TopologyError, match=match):
        trace(net, input_shape)


@pytest.mark.parametrize("input_shape", [(), (0, 4), (-1,), (2.5,)])
def test_input_shape_must_be_positive_ints(input_shape: tuple) -> None:
    with pytest.raises(TopologyError, match="input_shape must be"):
        trace(nn.Linear(4, 2), input_shape)


def test_every_unsupported_module_is_named_at_once() -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.InstanceNorm2d(4), nn.ReLU(), nn.LPPool2d(2, 2), nn.Flatten(), nn.Linear(4, 3), nn.GRUCell(3, 3)
    )
    with pytest.raises(TopologyError) as refused:
        trace(model, (1, 6, 6))
    message = str(refused.value)
    assert message.startswith("3 module(s) of Sequential cannot be read as links")
    for named in ("'1' (InstanceNorm2d)", "'3' (LPPool2d)", "'6' (GRUCell)"):
        assert f"module {named} is not supported" in message
    assert "Ways out: " in message and "cntgraph.register_links(ItsType, adapter)" in message


@pytest.mark.parametrize(
    ("settings", "why"),
    [({"batch_first": False}, "batch_first=True"), ({"proj_size": 2}, "no projection")],
)
def test_recurrent_settings_it_cannot_read_are_named(settings: dict[str, object], why: str) -> None:
    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(3, 4, **{"batch_first": True, **settings})  # type: ignore[arg-type]

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lstm(x)[0]

    with pytest.raises(TopologyError, match=rf"module 'lstm' \(LSTM\) is read only with .*{why}"):
        trace(Tagger(), (5, 3))


def test_the_recorder_refuses_an_unreadable_model_when_it_is_built() -> None:
    from cntgraph.recording.recorder import Recorder

    model = nn.Sequential(nn.Linear(4, 4), nn.GRUCell(4, 4), nn.Linear(4, 2))
    with pytest.raises(TopologyError, match=r"module '1' \(GRUCell\) is not supported"):
        Recorder(model, "never-recorded", input_shape=(4,))  # before any training, and without Neo4j


class Swish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class Doubling(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x], dim=1)


class Weighted(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry of wiring types of this test's own."""
    from cntgraph.model import tracing

    monkeypatch.setattr(tracing, "_REGISTERED_WIRING", set())


def test_a_registered_activation_is_wiring(registry: None) -> None:
    from cntgraph import node_strength, register_wiring

    torch.manual_seed(0)
    ours = nn.Sequential(nn.Linear(3, 4), Swish(), nn.Linear(4, 2))
    with pytest.raises(TopologyError, match=r"module '1' \(Swish\) is not supported.*cntgraph.register_wiring"):
        trace(ours, (3,))
    register_wiring(Swish)
    builtin = nn.Sequential(ours[0], nn.SiLU(), ours[2])  # the same weights, torch's own Swish
    np.testing.assert_array_equal(node_strength(ours, (3,)).to_numpy(), node_strength(builtin, (3,)).to_numpy())


def test_registered_wiring_must_keep_the_shape_and_hold_no_weights(registry: None) -> None:
    from cntgraph import register_wiring

    register_wiring(Doubling, Weighted)
    with pytest.raises(TopologyError, match=r"module '1' \(Doubling\) is registered as wiring but changes the shape"):
        trace(nn.Sequential(nn.Linear(3, 4), Doubling(), nn.Linear(8, 2)), (3,))
    with pytest.raises(TopologyError, match=r"module '1' \(Weighted\) is registered as wiring but holds weights"):
        trace(nn.Sequential(nn.Linear(3, 4), Weighted(), nn.Linear(4, 2)), (3,))
    for wrong in (nn.Linear, nn.BatchNorm1d, "Swish"):
        with pytest.raises(ConfigurationError):
            register_wiring(wrong)  # type: ignore[arg-type]

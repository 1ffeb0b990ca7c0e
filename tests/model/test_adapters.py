"""Conv1d, transposed convolutions, folded BatchNorm and pooling against the Jacobian of each module's linear part.

For an affine map f (a layer in eval mode), the links are its Jacobian J (a link src -> dst of weight
J[dst, src], none where J has no entry in the kernel's reach) and the bias is f(0); so the in-strengths
of its outputs are f(1) and the out-strengths of its inputs the column sums of J. Max pooling is not
affine: its convention (docs/METRICS.md) is the links of the average pool of the same windows.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cntgraph.core.links import layer_links
from cntgraph.errors import ConfigurationError, TopologyError
from cntgraph.model.metrics import as_snapshot, link_weights, node_strength
from cntgraph.model.tracing import register_links, trace


def randomized(module: nn.Module, seed: int = 0) -> nn.Module:
    """``module`` in eval mode with random weights and BatchNorm statistics (float64)."""
    generator = torch.Generator().manual_seed(seed)
    module = module.double().eval()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
        for norm in module.modules():
            if isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d)):
                norm.running_mean.copy_(torch.randn(norm.num_features, generator=generator, dtype=torch.float64))
                norm.running_var.copy_(torch.rand(norm.num_features, generator=generator, dtype=torch.float64) + 0.5)
    return module


def jacobian(module: nn.Module, shape: tuple[int, ...]) -> np.ndarray:
    """(output units, input units) Jacobian of ``module`` at a zero input of one sample."""
    zero = torch.zeros((1, *shape), dtype=torch.float64)
    full = torch.autograd.functional.jacobian(lambda x: module(x).reshape(-1), zero)
    return full.reshape(-1, int(np.prod(shape))).numpy()


def link_matrix(module: nn.Module, shape: tuple[int, ...]) -> np.ndarray:
    snapshot = as_snapshot(module, shape)
    src, dst, w = layer_links(snapshot, 1)
    out_units = snapshot.topology.node_layers[1].size
    matrix = np.zeros((out_units, int(np.prod(shape))))
    matrix[dst, src] = w
    return matrix


CASES = [
    (nn.Conv1d(3, 4, 3, stride=2, padding=1), (3, 9)),
    (nn.Conv1d(4, 6, 3, padding="same", dilation=2, groups=2, bias=False), (4, 8)),
    (nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4)), (5,)),
    (nn.Sequential(nn.Linear(5, 4, bias=False), nn.BatchNorm1d(4, affine=False)), (5,)),
    (nn.Sequential(nn.Conv1d(2, 3, 3), nn.BatchNorm1d(3)), (2, 7)),
    (nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3)), (2, 5, 4)),
    (nn.Sequential(nn.Conv2d(2, 4, (2, 3), stride=2, groups=2), nn.BatchNorm2d(4)), (2, 6, 7)),
    (nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1), (2, 4, 3)),
    (nn.ConvTranspose2d(4, 6, (2, 3), stride=(2, 1), dilation=(1, 2), groups=2, bias=False), (4, 3, 5)),
    (nn.ConvTranspose1d(3, 2, 4, stride=2, padding=1), (3, 6)),
    (nn.AvgPool2d(2), (3, 4, 6)),
    (nn.AvgPool2d(3, stride=2, padding=1), (2, 7, 5)),
    (nn.AdaptiveAvgPool2d((2, 3)), (2, 4, 6)),
    (nn.AdaptiveAvgPool2d(1), (3, 5, 5)),
    (nn.Conv3d(2, 4, 3, padding=1), (2, 3, 4, 5)),
    (nn.Conv3d(4, 6, (2, 3, 1), stride=(2, 1, 2), padding="valid", dilation=(1, 2, 1), groups=2, bias=False), (4, 5, 6, 3)),
    (nn.Conv3d(2, 3, 3, padding="same", dilation=2), (2, 4, 4, 5)),
    (nn.Sequential(nn.Conv3d(2, 3, 2, bias=False), nn.BatchNorm3d(3)), (2, 3, 3, 3)),
    (nn.AvgPool3d(2), (2, 4, 4, 6)),
    (nn.AvgPool3d((1, 3, 2), stride=(1, 2, 1), padding=(0, 1, 1)), (3, 2, 5, 4)),
    (nn.Linear(4, 3), (5, 4)),  # at every position of a (positions, features) sequence
    (nn.BatchNorm1d(4), (4,)),  # nothing to fold into: a node layer of its own, linked one to one
    (nn.BatchNorm1d(3, affine=False), (3, 5)),
    (nn.BatchNorm2d(3), (3, 4, 5)),
    (nn.AdaptiveAvgPool2d((7, 7)), (2, 1, 1)),  # vgg's on a 32x32 input: each output copies the one input
    (nn.AdaptiveAvgPool2d((2, 3)), (2, 5, 7)),  # overlapping windows of unequal sizes
    (nn.AdaptiveAvgPool2d((4, 3)), (1, 3, 8)),
    (nn.AdaptiveAvgPool3d((2, 3, 2)), (2, 4, 6, 4)),  # windows of equal sizes: an average pooling
    (nn.AdaptiveAvgPool3d((2, 3, 2)), (2, 5, 7, 3)),  # overlapping windows of unequal sizes along every axis
    (nn.AdaptiveAvgPool3d(1), (3, 3, 4, 5)),
]


@pytest.mark.parametrize(("module", "shape"), CASES, ids=lambda c: type(c).__name__ if isinstance(c, nn.Module) else str(c))
def test_links_and_strengths_equal_the_jacobian(module: nn.Module, shape: tuple[int, ...]) -> None:
    module = randomized(module)
    expected = jacobian(module, shape)
    np.testing.assert_allclose(link_matrix(module, shape), expected, rtol=1e-12, atol=1e-12)
    strengths = node_strength(module, shape)
    with torch.no_grad():
        f_ones = module(torch.ones((1, *shape), dtype=torch.float64)).reshape(-1).numpy()
    outputs, inputs = strengths[strengths["layer"] == 1], strengths[strengths["layer"] == 0]
    np.testing.assert_allclose(outputs["s_in"], f_ones, rtol=1e-12, atol=1e-12)  # J @ 1 + f(0)
    np.testing.assert_allclose(inputs["s_out"], expected.sum(axis=0), rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.integers(1, 3), st.integers(1, 3), st.integers(0, 1),
)
def test_average_pools_of_any_shape_equal_their_jacobian(channels: int, height: int, width: int, kernel: int,
                                                         stride: int, padding: int) -> None:  # fmt: skip
    if kernel > height + 2 * padding or kernel > width + 2 * padding or padding > kernel // 2:
        return  # torch refuses these settings
    pool = nn.AvgPool2d(kernel, stride=stride, padding=padding)
    shape = (channels, height, width)
    np.testing.assert_allclose(link_matrix(pool, shape), jacobian(pool.double(), shape), rtol=1e-12, atol=1e-12)


def test_max_pooling_links_are_those_of_the_average_pool() -> None:
    shape = (2, 6, 5)
    np.testing.assert_array_equal(link_matrix(nn.MaxPool2d(2, stride=1, padding=1), shape),
                                  link_matrix(nn.AvgPool2d(2, stride=1, padding=1), shape))  # fmt: skip
    np.testing.assert_array_equal(link_matrix(nn.AdaptiveMaxPool2d((4, 3)), shape),
                                  link_matrix(nn.AdaptiveAvgPool2d((4, 3)), shape))  # fmt: skip
    pooled = node_strength(nn.MaxPool2d(3, stride=3), shape)
    np.testing.assert_allclose(pooled.query("layer == 1")["s_in"], 1.0)  # unit gain: s_in = 1 (no bias)
    volume = (2, 4, 5, 3)
    np.testing.assert_array_equal(link_matrix(nn.MaxPool3d(2, stride=1, padding=1), volume),
                                  link_matrix(nn.AvgPool3d(2, stride=1, padding=1), volume))  # fmt: skip
    np.testing.assert_array_equal(link_matrix(nn.AdaptiveMaxPool3d((3, 2, 2)), volume),
                                  link_matrix(nn.AdaptiveAvgPool3d((3, 2, 2)), volume))  # fmt: skip


def test_conv1d_is_a_conv2d_of_height_one() -> None:
    torch.manual_seed(3)
    one = nn.Sequential(nn.Conv1d(2, 3, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4, 2))
    two = nn.Sequential(nn.Conv2d(2, 3, (1, 3), stride=(1, 2), padding=(0, 1)), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4, 2))
    with torch.no_grad():
        two[0].weight.copy_(one[0].weight.unsqueeze(2))
        two[0].bias.copy_(one[0].bias)
        two[3].load_state_dict(one[3].state_dict())
    a, b = node_strength(one, (2, 8)), node_strength(two, (2, 1, 8))
    np.testing.assert_array_equal(a[["layer", "unit"]], b[["layer", "unit"]])
    np.testing.assert_allclose(a[["s_in", "s_out", "s"]], b[["s_in", "s_out", "s"]], rtol=1e-12)


def test_a_batchnorm_with_identity_statistics_changes_no_strength() -> None:
    torch.manual_seed(4)
    plain = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
    normed = nn.Sequential(plain[0], nn.BatchNorm2d(3), *plain[1:]).double()  # float64 statistics
    norm = normed[1]
    with torch.no_grad():
        norm.running_mean.zero_()
        norm.running_var.fill_(1.0 - norm.eps)  # var + eps = 1: x -> (x - 0) / 1 * 1 + 0
    a, b = node_strength(plain, (1, 6, 6)), node_strength(normed, (1, 6, 6))
    np.testing.assert_allclose(a[["s_in", "s_out", "s"]], b[["s_in", "s_out", "s"]], rtol=1e-12, atol=1e-15)


def test_a_small_vgg_reads_as_one_chain_with_batchnorm_folded() -> None:
    vgg = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(), nn.Linear(16, 10),
    )  # fmt: skip
    topology = trace(vgg, (3, 16, 16))
    assert [(layer.kind, layer.path, layer.folded) for layer in topology.layers] == [
        ("conv2d", "0", "1"), ("maxpool2d", "3", None), ("conv2d", "4", "5"), ("maxpool2d", "7", None),
        ("avgpool2d", "8", None), ("linear", "11", None),
    ]  # fmt: skip
    assert [node.shape for node in topology.node_layers] == [
        (3, 16, 16), (8, 16, 16), (8, 8, 8), (16, 8, 8), (16, 4, 4), (16, 1, 1), (10,),
    ]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, track_running_stats=False)), "track_running_stats=False"),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, ceil_mode=True)), "ceil_mode=True"),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.AvgPool2d(2, padding=1, count_include_pad=False)), "count_include_pad"),
    ],
)
def test_what_cannot_be_read_is_named(model: nn.Module, message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        trace(model, (1, 6, 6))


@pytest.mark.parametrize(
    ("pool", "message"),
    [(nn.MaxPool3d(2, ceil_mode=True), "ceil_mode=True"), (nn.AvgPool3d(2, padding=1, count_include_pad=False), "count_include_pad")],
)
def test_3d_pools_it_cannot_read_are_named(pool: nn.Module, message: str) -> None:
    with pytest.raises(TopologyError, match=rf"module '1' \({type(pool).__name__}\) .*{message}"):
        trace(nn.Sequential(nn.Conv3d(1, 2, 3), pool), (1, 5, 6, 6))


def test_link_weights_of_a_model_with_pooling_need_the_input_shape() -> None:
    from cntgraph.model.metrics import link_weights

    with pytest.raises(TopologyError, match=r"module '1' \(MaxPool2d\) can only be read in a forward pass.*pass input_shape"):
        link_weights(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2)))


def test_a_convolutional_autoencoder_reads_as_one_chain() -> None:
    autoencoder = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(8, 4, 2, stride=2), nn.ReLU(), nn.ConvTranspose2d(4, 1, 2, stride=2), nn.Sigmoid(),
    )  # fmt: skip
    topology = trace(autoencoder, (1, 8, 8))
    assert [node.shape for node in topology.node_layers] == [(1, 8, 8), (4, 4, 4), (8, 2, 2), (4, 4, 4), (1, 8, 8)]
    assert [layer.kind for layer in topology.layers] == ["conv2d", "conv2d", "convtranspose2d", "convtranspose2d"]


@pytest.mark.parametrize("module", [nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, groups=1), nn.AvgPool2d(2, stride=1)])
def test_links_between_sampled_units_are_the_full_links_filtered(module: nn.Module) -> None:
    shape = (2, 4, 4)
    snapshot = as_snapshot(randomized(module), shape)
    rng = np.random.default_rng(0)
    src_units = rng.choice(snapshot.topology.node_layers[0].size, 10, replace=False)
    dst_units = rng.choice(snapshot.topology.node_layers[1].size, 12, replace=False)
    src, dst, w = layer_links(snapshot, 1)
    keep = np.isin(src, src_units) & np.isin(dst, dst_units)
    order = np.lexsort((src[keep], dst[keep]))
    got = layer_links(snapshot, 1, src_units, dst_units)
    for ours, expected in zip(got, (src[keep][order], dst[keep][order], w[keep][order]), strict=True):
        np.testing.assert_array_equal(ours, expected)


class MaskedLinear(nn.Linear):
    """A Linear whose weights are multiplied by a fixed mask: a type cntgraph does not know."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__(n_in, n_out)
        self.register_buffer("mask", torch.ones(n_out, n_in).tril())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class ChannelMix(nn.Module):
    """A 1x1 convolution written by hand, with a submodule: its links are the Kronecker product with the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mix = nn.Linear(channels, channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mix(x.movedim(1, -1)).movedim(-1, 1)


def test_registered_link_adapters_equal_the_jacobian() -> None:
    register_links(MaskedLinear, lambda m: (m.weight * m.mask, m.bias))
    register_links(ChannelMix, lambda m: (torch.kron(m.mix.weight, torch.eye(6)), None))
    for module, shape in [(MaskedLinear(4, 3), (4,)), (ChannelMix(3), (3, 2, 3))]:
        module = randomized(module)
        np.testing.assert_allclose(link_matrix(module, shape), jacobian(module, shape), rtol=1e-12, atol=1e-12)
    model = randomized(nn.Sequential(nn.Conv2d(1, 3, 3), ChannelMix(3), nn.ReLU(), nn.Flatten(), MaskedLinear(18, 4)))
    topology = trace(model, (1, 4, 5))
    assert [(layer.path, layer.kind) for layer in topology.layers] == [("0", "conv2d"), ("1", "linear"), ("4", "linear")]
    assert topology.node_layers[2].shape == (3, 2, 3)  # the node layer keeps the module's output shape
    with torch.no_grad():  # s_in of the last layer: the model's affine map up to it, on ones, as in the spec
        expected = (model[4].weight * model[4].mask).sum(1) + model[4].bias
    np.testing.assert_allclose(node_strength(model, (1, 4, 5)).query("layer == 3")["s_in"], expected.numpy(), rtol=1e-12)


def test_a_link_adapter_of_the_wrong_shape_is_named() -> None:
    class Wrong(MaskedLinear):
        pass

    register_links(Wrong, lambda m: (m.weight.T, None))
    with pytest.raises(TopologyError, match=r"link adapter of module <root> \(Wrong\) gives a weight of shape \(4, 3\).* must be \(3, 4\)"):
        trace(Wrong(4, 3), (4,))
    with pytest.raises(ConfigurationError, match="register_links takes an nn.Module subclass"):
        register_links(int, lambda m: m)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("module", "shape", "groups"),
    [
        (nn.LayerNorm(5, eps=0.0), (5,), 1),
        (nn.LayerNorm((3, 4), eps=0.0), (2, 3, 4), 2),  # normalised over the last two axes: gamma per (y, x)
        (nn.LayerNorm(4, eps=0.0, bias=False), (3, 4), 3),
        (nn.LayerNorm(4, eps=0.0, elementwise_affine=False), (4,), 1),
        (nn.GroupNorm(2, 4, eps=0.0), (4, 3, 3), 2),
        (nn.GroupNorm(3, 3, eps=0.0, affine=False), (3, 2, 2), 3),
    ],
    ids=lambda c: type(c).__name__ if isinstance(c, nn.Module) else str(c),
)
def test_layer_and_group_norms_are_their_affine_part_on_standardised_inputs(
    module: nn.Module, shape: tuple[int, ...], groups: int
) -> None:
    """On an input standardised over each normalised group (mean 0, variance 1) a LayerNorm or GroupNorm
    with eps 0 computes only its affine part: its links and biases then give its output."""
    module = randomized(module, seed=5)
    x = torch.randn(groups, int(np.prod(shape)) // groups, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    x = ((x - x.mean(dim=1, keepdim=True)) / x.std(dim=1, unbiased=False, keepdim=True)).reshape(1, *shape)
    with torch.no_grad():
        output = module(x).reshape(-1).numpy()
    links = link_matrix(module, shape)
    np.testing.assert_array_equal(links, np.diag(np.diag(links)))  # one link per unit, into itself
    bias = node_strength(module, shape).query("layer == 1")["s_in"].to_numpy() - links.sum(axis=1)
    np.testing.assert_allclose(links @ x.reshape(-1).numpy() + bias, output, rtol=1e-10, atol=1e-10)


class SelfAttention(nn.Module):
    def __init__(self, features: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(features, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


class MeanOverPositions(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x).mean(dim=1)


def test_attention_reads_as_its_value_and_output_projections() -> None:
    """On a sequence of one position attention is exactly out_proj(value(x)): the two node layers' links
    composed are the module's Jacobian, and their biases its value at 0. On longer sequences the mixing
    across positions is wiring that keeps each position."""
    features = 6
    model = randomized(SelfAttention(features, heads=2), seed=7)
    snapshot = as_snapshot(model, (1, features))
    assert [(node.name, layer.kind) for node, layer in zip(snapshot.topology.node_layers[1:], snapshot.topology.layers, strict=True)] == [
        ("attn.value", "positionwise"), ("attn.out_proj", "positionwise")
    ]
    matrices = []
    for number in (1, 2):
        src, dst, w = layer_links(snapshot, number)
        matrix = np.zeros((features, features))
        matrix[dst, src] = w
        matrices.append(matrix)
    value, out = matrices
    np.testing.assert_allclose(out @ value, jacobian(model, (1, features)), rtol=1e-10, atol=1e-12)
    strengths = node_strength(snapshot)
    bias = [strengths.query(f"layer == {layer}")["s_in"].to_numpy() - m.sum(axis=1) for layer, m in zip((1, 2), matrices, strict=True)]
    with torch.no_grad():
        at_zero = model(torch.zeros((1, 1, features), dtype=torch.float64)).reshape(-1).numpy()
    np.testing.assert_allclose(out @ bias[0] + bias[1], at_zero, rtol=1e-10, atol=1e-12)
    src, dst, _ = layer_links(as_snapshot(model, (4, features)), 2)
    assert (src // features == dst // features).all()  # out_proj links stay within a position


def test_a_mean_over_positions_equals_its_jacobian() -> None:
    model, shape = randomized(MeanOverPositions()), (4, 3)
    snapshot = as_snapshot(model, shape)
    assert [layer.kind for layer in snapshot.topology.layers] == ["positionwise", "positions"]
    matrices = []
    for number, (n_out, n_in) in zip((1, 2), ((8, 12), (2, 8)), strict=True):
        src, dst, w = layer_links(snapshot, number)
        matrix = np.zeros((n_out, n_in))
        matrix[dst, src] = w
        matrices.append(matrix)
    np.testing.assert_allclose(matrices[1] @ matrices[0], jacobian(model, shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(matrices[1], np.kron(np.full((1, 4), 0.25), np.eye(2)))


def test_a_transformer_encoder_layer_reads_as_its_parts() -> None:
    layer = nn.TransformerEncoderLayer(8, nhead=2, dim_feedforward=12, batch_first=True, dropout=0.0)
    model = nn.Sequential(nn.Linear(3, 8), layer)
    topology = trace(model, (5, 3))
    into = {node.name: [(w.kind, tuple(topology.node_layers[s].name for s in w.sources)) for w in topology.into(node.index)]
            for node in topology.node_layers[1:]}  # fmt: skip
    assert into == {
        "0": [("positionwise", ("input",))],
        "1.self_attn.value": [("positionwise", ("0",))],
        "1.self_attn.out_proj": [("positionwise", ("1.self_attn.value",))],
        "1.add": [("identity", ("0",)), ("identity", ("1.self_attn.out_proj",))],
        "1.norm1": [("layernorm", ("1.add",))],
        "1.linear1": [("positionwise", ("1.norm1",))],
        "1.linear2": [("positionwise", ("1.linear1",))],
        "1.add_2": [("identity", ("1.norm1",)), ("identity", ("1.linear2",))],
        "1.norm2": [("layernorm", ("1.add_2",))],
    }
    assert np.isfinite(node_strength(model, (5, 3))[["s_in", "s_out"]].to_numpy()).all()


def test_attention_with_a_mask_reads_as_without_and_cross_attention_is_refused() -> None:
    class Masked(SelfAttention):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.attn(x, x, x, attn_mask=torch.ones(4, 4, dtype=torch.bool).triu(1), need_weights=False)[0]

    class Cross(SelfAttention):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.attn(x, torch.relu(x), x, need_weights=False)[0]

    masked = trace(Masked(6, 2), (4, 6))
    assert masked.layers == trace(SelfAttention(6, 2), (4, 6)).layers  # the mixing is no link, masked or not
    with pytest.raises(TopologyError, match="attends to another tensor than its query"):
        trace(Cross(6, 2), (4, 6))
    with pytest.raises(TopologyError, match="has batch_first=False"):
        trace(nn.Sequential(nn.MultiheadAttention(6, 2)), (4, 6))


def test_a_batchnorm_after_a_registered_module_is_its_own_layer() -> None:
    register_links(MaskedLinear, lambda m: (m.weight * m.mask, m.bias))
    model = randomized(nn.Sequential(MaskedLinear(4, 3), nn.BatchNorm1d(3)))
    topology = trace(model, (4,))
    assert [(layer.kind, layer.folded) for layer in topology.layers] == [("linear", None), ("batchnorm", None)]
    matrices = []
    for number, (n_out, n_in) in zip((1, 2), ((3, 4), (3, 3)), strict=True):
        matrices.append(np.zeros((n_out, n_in)))
        src, dst, w = layer_links(as_snapshot(model, (4,)), number)
        matrices[-1][dst, src] = w
    np.testing.assert_allclose(matrices[1] @ matrices[0], jacobian(model, (4,)), rtol=1e-12, atol=1e-12)


def test_a_module_without_weights_may_run_twice_and_one_with_weights_may_not() -> None:
    pool = nn.MaxPool2d(2)
    twice = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), pool, nn.Conv2d(2, 2, 3, padding=1), pool)
    assert [node.name for node in trace(twice, (1, 8, 8)).node_layers] == ["input", "0", "1", "2", "1_2"]
    norm = nn.LayerNorm(4)
    with pytest.raises(TopologyError, match=r"module '1' \(LayerNorm\) is called twice"):
        trace(nn.Sequential(nn.Linear(4, 4), norm, nn.Linear(4, 4), norm), (4,))


def test_settings_and_entry_points_that_cannot_be_read_are_named() -> None:
    with pytest.raises(TopologyError, match=r"module '0' \(Embedding\) has max_norm"):
        trace(nn.Sequential(nn.Embedding(5, 3, max_norm=1.0), nn.Linear(3, 2)), (4,))
    with pytest.raises(TopologyError, match=r"module '1' \(LayerNorm\) can only be read in a forward pass.*pass input_shape"):
        link_weights(nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)))

@settings(max_examples=40, deadline=None)
@given(st.integers(0, 4), st.data())
def test_links_between_sampled_units_are_the_jacobians_entries_whichever_end_is_smaller(case: int, data: st.DataObject) -> None:
    """Position-wise, across-position, unequal-window and 3-d convolution layers enumerate their links from
    the end with fewer candidates; either way the links between sampled units are the Jacobian's nonzero entries."""
    module, shape = [
        (nn.Linear(5, 7), (3, 5)),
        (nn.AdaptiveAvgPool2d((2, 3)), (2, 5, 7)),
        (MeanOverPositions(), (4, 3)),
        (nn.Conv3d(2, 3, 2, stride=2, padding=1, groups=1), (2, 3, 4, 3)),
        (nn.AdaptiveAvgPool3d((2, 3, 2)), (2, 3, 5, 3)),
    ][case]
    module = randomized(module, seed=case)
    snapshot = as_snapshot(module, shape)
    number = len(snapshot.topology.layers)  # the layer under test is the last
    layer = snapshot.topology.layers[number - 1]
    n_in, n_out = int(np.prod(layer.in_shape)), int(np.prod(layer.out_shape))
    src = np.array(sorted(data.draw(st.sets(st.integers(0, n_in - 1), max_size=n_in))), dtype=np.int64)
    dst = np.array(sorted(data.draw(st.sets(st.integers(0, n_out - 1), max_size=n_out))), dtype=np.int64)
    got_src, got_dst, w = layer_links(snapshot, number, src, dst)
    full = np.zeros((n_out, n_in))
    full_src, full_dst, full_w = layer_links(snapshot, number)
    full[full_dst, full_src] = full_w
    if number == 1:  # a single module: its Jacobian is the oracle
        np.testing.assert_allclose(full, jacobian(module, shape), rtol=1e-12, atol=1e-12)
    expected = [(int(s), int(d)) for d in dst for s in src if full[d, s] != 0]
    assert list(zip(got_src.tolist(), got_dst.tolist(), strict=True)) == sorted(expected, key=lambda p: (p[1], p[0]))
    np.testing.assert_array_equal(w, [full[d, s] for s, d in zip(got_src, got_dst, strict=True)])


class TokenClassifier(nn.Module):
    def __init__(self, vocabulary: int = 11, features: int = 6) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocabulary, features)
        self.encoder = nn.TransformerEncoderLayer(features, nhead=2, dim_feedforward=8, batch_first=True, dropout=0.0)
        self.head = nn.Linear(features, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(ids)).mean(dim=1))


def test_an_embedding_is_a_linear_layer_on_one_hot_inputs() -> None:
    """The input's units are (position, vocabulary entry); the embedding's links applied to the one-hot
    encoding of any ids give the embedding's output, and equal the Jacobian of one_hot @ E."""
    model = randomized(TokenClassifier())
    positions, vocabulary, features = 4, 11, 6
    snapshot = as_snapshot(model, (positions,))
    assert snapshot.topology.node_layers[0].shape == (positions, vocabulary)
    src, dst, w = layer_links(snapshot, 1)
    links = np.zeros((positions * features, positions * vocabulary))
    links[dst, src] = w
    table = model.embed.weight.detach()
    one_hot_map = torch.autograd.functional.jacobian(lambda x: (x @ table).reshape(-1), torch.zeros(positions, vocabulary, dtype=torch.float64))
    np.testing.assert_array_equal(links, one_hot_map.reshape(positions * features, -1).numpy())
    ids = torch.tensor([[3, 0, 10, 3]])
    one_hot = nn.functional.one_hot(ids[0], vocabulary).double().reshape(-1).numpy()
    with torch.no_grad():
        np.testing.assert_allclose(links @ one_hot, model.embed(ids).reshape(-1).numpy(), rtol=1e-12)
    s_out = node_strength(snapshot).query("layer == 0")["s_out"].to_numpy().reshape(positions, vocabulary)
    np.testing.assert_allclose(s_out, np.tile(table.sum(dim=1).numpy(), (positions, 1)), rtol=1e-12)


def test_an_embedding_that_is_not_the_first_layer_is_refused() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Embedding(5, 4), nn.Embedding(5, 4)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.a(ids) + self.b(ids)

    with pytest.raises(TopologyError, match=r"module 'b' \(Embedding\) is read only as the first layer"):
        trace(Twice(), (3,))


def test_functional_adaptive_3d_pooling_reads_as_the_module() -> None:
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv3d(2, 3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return nn.functional.adaptive_avg_pool3d(self.conv(x), (2, 2, 3)).flatten(1)

    torch.manual_seed(0)
    functional = Functional()
    modules = nn.Sequential(functional.conv, nn.AdaptiveAvgPool3d((2, 2, 3)), nn.Flatten())
    shape = (2, 4, 6, 5)
    a, b = node_strength(functional, shape), node_strength(modules, shape)
    np.testing.assert_array_equal(a[["layer", "unit", "s_in", "s_out", "s"]], b[["layer", "unit", "s_in", "s_out", "s"]])
    assert [layer.kind for layer in trace(functional, shape).layers] == ["conv3d", "adaptivepool3d"]

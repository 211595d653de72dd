"""FathomConv against the dense reference A_a act(X) W, PyG's GCNConv, and autograd."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch_geometric.nn import GCNConv, Sequential

from fathom.graph import AggregationOperator
from fathom.nn.conv import FathomConv

KINDS = ("gcn", "mean", "sum")
WIDTHS = [(7, 3), (3, 7)]  # out < in: A (X W); out > in: (A X) W


def _features(n: int, width: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    return torch.randn(n, width, dtype=dtype, generator=torch.Generator().manual_seed(seed))


def _weight(conv: FathomConv) -> np.ndarray:
    """W with Z' = A act(Z) W: the transpose of the torch Linear weight."""
    return conv.lin.weight.detach().numpy().T


@pytest.mark.parametrize("in_channels, out_channels", WIDTHS)
@pytest.mark.parametrize("a", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("kind", KINDS)
def test_matches_dense_reference(make_er, dense_operator, kind, a, in_channels, out_channels):
    edge_index = make_er(20, 0.2, seed=1, directed=True)
    conv = FathomConv(in_channels, out_channels, kind, a).double()
    x = _features(20, in_channels)
    assert (x < 0).any()  # the ReLU has something to do
    expected = dense_operator(edge_index, 20, kind, a) @ np.maximum(x.numpy(), 0) @ _weight(conv)
    out = conv(x, edge_index)
    assert out.shape == (20, out_channels)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("in_channels, out_channels", WIDTHS)
@pytest.mark.parametrize("kind", KINDS)
def test_float32_matches_dense_reference(make_er, dense_operator, kind, in_channels, out_channels):
    edge_index = make_er(20, 0.2, seed=2)
    conv = FathomConv(in_channels, out_channels, kind, 0.3)
    x = _features(20, in_channels, dtype=torch.float32)
    expected = dense_operator(edge_index, 20, kind, 0.3) @ np.maximum(x.double().numpy(), 0) @ _weight(conv)
    np.testing.assert_allclose(conv(x, edge_index).detach().numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("in_channels, out_channels", WIDTHS)
def test_identity_activation(make_er, dense_operator, in_channels, out_channels):
    edge_index = make_er(20, 0.2, seed=3)
    conv = FathomConv(in_channels, out_channels, "mean", 0.3, activation="identity").double()
    x = _features(20, in_channels)
    linear = dense_operator(edge_index, 20, "mean", 0.3) @ x.numpy() @ _weight(conv)
    out = conv(x, edge_index).detach().numpy()
    np.testing.assert_allclose(out, linear, rtol=1e-10, atol=1e-12)
    conv.activation = "relu"
    assert not np.allclose(conv(x, edge_index).detach().numpy(), linear)  # the choice matters


@pytest.mark.parametrize("in_channels, out_channels", WIDTHS)
@pytest.mark.parametrize("activation", ["relu", "identity"])
@pytest.mark.parametrize("kind", KINDS)
def test_fast_path_equals_message_passing(make_er, kind, activation, in_channels, out_channels):
    edge_index = make_er(25, 0.2, seed=4, directed=True)
    edge_index = torch.cat([edge_index, edge_index[:, :5], torch.tensor([[2], [2]])], dim=1)  # dupes, loop
    fast = FathomConv(in_channels, out_channels, kind, 0.3, activation=activation, bias=True).double()
    slow = FathomConv(in_channels, out_channels, kind, 0.3, activation=activation, bias=True, fast=False).double()
    slow.load_state_dict(fast.state_dict())
    with torch.no_grad():
        fast.bias.normal_()
        slow.bias.copy_(fast.bias)
    x = _features(25, in_channels)
    torch.testing.assert_close(slow(x, edge_index), fast(x, edge_index), rtol=1e-12, atol=1e-12)


def test_message_passing_path_matches_dense_reference(make_er, dense_operator):
    """The reference path (fast=False) is itself checked against the numpy reference."""
    edge_index = make_er(20, 0.2, seed=5, directed=True)
    conv = FathomConv(4, 3, "gcn", 0.3, fast=False).double()
    x = _features(20, 4)
    expected = dense_operator(edge_index, 20, "gcn", 0.3) @ np.maximum(x.numpy(), 0) @ _weight(conv)
    np.testing.assert_allclose(conv(x, edge_index).detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_bias(make_er, dense_operator):
    edge_index = make_er(20, 0.2, seed=6)
    assert FathomConv(4, 3).bias is None
    conv = FathomConv(4, 3, "sum", bias=True).double()
    assert torch.count_nonzero(conv.bias) == 0  # zero at initialisation
    with torch.no_grad():
        conv.bias.copy_(torch.tensor([1.0, -2.0, 0.5]))
    x = _features(20, 4)
    expected = dense_operator(edge_index, 20, "sum") @ np.maximum(x.numpy(), 0) @ _weight(conv) + [1.0, -2.0, 0.5]
    np.testing.assert_allclose(conv(x, edge_index).detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    conv(x, edge_index).sum().backward()
    torch.testing.assert_close(conv.bias.grad, torch.full((3,), 20.0, dtype=torch.float64))


def test_same_as_pyg_gcnconv_for_gcn_operator(make_er):
    """An independent implementation: PyG's GCNConv (gcn_norm with self-loops) equals
    FathomConv(gcn, a=0, identity) with the same weight, directed graphs included."""
    edge_index = make_er(30, 0.15, seed=7, directed=True)  # no duplicate edges: PyG would count them twice
    gcn = GCNConv(5, 4).double()
    with torch.no_grad():
        gcn.bias.normal_()
    conv = FathomConv(5, 4, "gcn", 0.0, activation="identity", bias=True).double()
    with torch.no_grad():
        conv.lin.weight.copy_(gcn.lin.weight)
        conv.bias.copy_(gcn.bias)
    x = _features(30, 5)
    torch.testing.assert_close(conv(x, edge_index), gcn(x, edge_index), rtol=1e-12, atol=1e-12)


def test_inside_pyg_sequential(make_er, dense_operator):
    edge_index = make_er(20, 0.2, seed=8)
    model = Sequential("x, edge_index", [
        (FathomConv(6, 8, "mean", 0.3), "x, edge_index -> x"),
        (GCNConv(8, 2), "x, edge_index -> x"),
    ]).double()
    fathom_conv, gcn = model[0], model[1]
    x = _features(20, 6)
    out = model(x, edge_index)
    assert out.shape == (20, 2)
    hidden = dense_operator(edge_index, 20, "mean", 0.3) @ np.maximum(x.numpy(), 0) @ _weight(fathom_conv)
    expected = (dense_operator(edge_index, 20, "gcn") @ hidden @ gcn.lin.weight.detach().numpy().T
                + gcn.bias.detach().numpy())
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    out.pow(2).sum().backward()
    assert fathom_conv.lin.weight.grad.abs().sum() > 0 and gcn.lin.weight.grad.abs().sum() > 0


def test_cached_reuses_operator(make_er, dense_operator):
    edge_index = make_er(20, 0.2, seed=9)
    x = _features(20, 4, dtype=torch.float32)
    cached = FathomConv(4, 3, "sum", cached=True)
    first = cached.operator_for(edge_index, x)
    cached(x, edge_index)
    assert cached.operator_for(edge_index, x) is first

    other = make_er(20, 0.2, seed=10)  # a new edge_index object: a new operator, not a stale one
    assert cached.operator_for(other, x) is not first
    expected = dense_operator(other, 20, "sum") @ np.maximum(x.double().numpy(), 0) @ _weight(cached)
    np.testing.assert_allclose(cached(x, other).detach().numpy(), expected, rtol=1e-4, atol=1e-4)

    uncached = FathomConv(4, 3, "sum")
    assert uncached.operator_for(edge_index, x) is not uncached.operator_for(edge_index, x)

    before_reset = cached.operator_for(other, x)
    assert cached.operator_for(other, x) is before_reset
    cached.reset_parameters()  # clears the cache
    assert cached.operator_for(other, x) is not before_reset


def test_cached_operator_follows_dtype(make_er):
    edge_index = make_er(20, 0.2, seed=11)
    conv = FathomConv(4, 3, "gcn", cached=True)
    conv(_features(20, 4, dtype=torch.float32), edge_index)
    conv.double()
    out = conv(_features(20, 4), edge_index)
    assert out.dtype == torch.float64


@pytest.mark.parametrize("fast", [True, False])
def test_explicit_operator(make_er, dense_operator, fast):
    """operator= is used as given (its kind and a win over the layer's), with no edge_index."""
    edge_index = make_er(20, 0.2, seed=12, directed=True)
    conv = FathomConv(4, 3, "gcn", 0.0, fast=fast).double()
    operator = AggregationOperator(edge_index, 20, "sum", 0.3, dtype=torch.float64)
    x = _features(20, 4)
    expected = dense_operator(edge_index, 20, "sum", 0.3) @ np.maximum(x.numpy(), 0) @ _weight(conv)
    np.testing.assert_allclose(conv(x, operator=operator).detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_needs_edge_index_or_operator():
    with pytest.raises(ValueError, match="needs an edge_index or an operator"):
        FathomConv(4, 3)(torch.randn(5, 4))


def test_rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation must be one of relu, identity, gelu, leaky_relu; got 'tanh'"):
        FathomConv(4, 3, activation="tanh")


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("in_channels, out_channels", [(3, 2), (2, 3)])
@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck(tiny_graph, kind, in_channels, out_channels, fast):
    """Finite differences in float64 for the input and the weight, on a non-symmetric operator."""
    edge_index = torch.cat([tiny_graph.edge_index, torch.tensor([[0], [4]])], dim=1)  # one-way edge 0 -> 4
    conv = FathomConv(in_channels, out_channels, kind, 0.3, bias=True, fast=fast).double()
    x = _features(5, in_channels).requires_grad_()
    weight = conv.lin.weight.detach().clone().requires_grad_()
    bias = torch.randn(out_channels, dtype=torch.float64, requires_grad=True)

    def f(x, weight, bias):
        return torch.func.functional_call(conv, {"lin.weight": weight, "bias": bias}, (x, edge_index))

    assert torch.autograd.gradcheck(f, (x, weight, bias))


def test_repr():
    text = repr(FathomConv(4, 3, "mean", 0.3, activation="identity"))
    assert text == "FathomConv(4, 3, aggregation=mean, a=0.3, activation=identity)"


@pytest.mark.parametrize("kwargs, message", [
    ({"aggregation": "max"}, "aggregation must be one of gcn, mean, sum"),
    ({"residual_aggregation": 2.0}, r"must lie in \[0, 1\]"),
    ({"activation": "tanh"}, "activation must be one of relu, identity"),
])
def test_invalid_arguments_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FathomConv(4, 3, **kwargs)


@pytest.mark.parametrize("in_channels, out_channels, message", [
    (0, 16, r"in_channels must lie in \[1, inf\); got 0"),
    (16, 0, r"out_channels must lie in \[1, inf\); got 0"),
    (-2, 16, r"in_channels must lie in \[1, inf\); got -2"),
    (2.5, 16, r"in_channels must be an integer; got 2.5"),
])
def test_a_width_below_one_is_refused_naming_the_argument(in_channels, out_channels, message):
    """``FathomConv(0, 16)`` was accepted silently (an empty weight; every output zero)."""
    with pytest.raises(ValueError, match=message):
        FathomConv(in_channels, out_channels)


def test_operator_gcn2conv_equals_pygs_gcn2conv_on_the_same_operator(make_er):
    """Fathom's product (precomputed transpose) in place of PyG's: same output and gradients."""
    from torch_geometric.nn import GCN2Conv

    from fathom.graph import AggregationOperator
    from fathom.nn.conv import OperatorGCN2Conv

    edge_index = make_er(30, 0.15, seed=5, directed=True)
    operator = AggregationOperator(edge_index, 30, "mean", 0.3)
    ours = OperatorGCN2Conv(8, alpha=0.2, theta=0.5, layer=3, normalize=False)
    reference = GCN2Conv(8, alpha=0.2, theta=0.5, layer=3, normalize=False)
    reference.load_state_dict(ours.state_dict())
    outputs = []
    for conv, adjacency in ((ours, operator), (reference, operator.matrix)):
        x = torch.randn(30, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
        x0 = torch.randn(30, 8, generator=torch.Generator().manual_seed(1))
        out = conv(x, x0, adjacency)
        (out * torch.arange(8.0)).sum().backward()
        outputs.append((out.detach(), x.grad, conv.weight1.grad))
    for ours_tensor, reference_tensor in zip(*outputs):
        assert torch.allclose(ours_tensor, reference_tensor, atol=1e-5)


# --- activations: the functions, their gains (gnn_he) and Lipschitz constants (norm=layer) -----------

ACTIVATION_CASES = [("relu", 0.8), ("identity", 0.8), ("gelu", 0.8), ("leaky_relu", 0.8), ("leaky_relu", 0.1)]


@pytest.mark.parametrize("activation, slope", ACTIVATION_CASES)
def test_every_activation_matches_the_dense_reference(make_er, dense_operator, numpy_activation, activation,
                                                     slope):
    edge_index = make_er(20, 0.2, seed=1, directed=True)
    conv = FathomConv(5, 4, "mean", 0.3, activation=activation, negative_slope=slope).double()
    x = _features(20, 5)
    activated = numpy_activation(activation, x.numpy(), slope)
    expected = dense_operator(edge_index, 20, "mean", 0.3) @ activated @ _weight(conv)
    np.testing.assert_allclose(conv(x, edge_index).detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def _second_moment_by_quadrature(numpy_activation, activation: str, slope: float, variance: float) -> float:
    """E[act(z)^2], z ~ N(0, variance), by the trapezoid rule on [-14 s, 14 s] (numpy only)."""
    s = np.sqrt(variance)
    z = np.linspace(-14 * s, 14 * s, 400_001)
    density = np.exp(-z**2 / (2 * variance)) / np.sqrt(2 * np.pi * variance)
    return float(np.trapezoid(numpy_activation(activation, z, slope) ** 2 * density, z))


@pytest.mark.parametrize("activation, slope", ACTIVATION_CASES)
def test_activation_gain_is_the_second_moment_ratio(numpy_activation, activation, slope):
    """g = Var(z) / E[act(z)^2] for z ~ N(0, 1) (pre) and, for post, at z ~ N(0, g); relu, the
    identity and leaky_relu are homogeneous, so theirs holds at every scale; GELU's does not."""
    from fathom.nn.conv import activation_gain

    gain = activation_gain(activation, slope)
    assert gain * _second_moment_by_quadrature(numpy_activation, activation, slope, 1.0) == pytest.approx(1.0, rel=1e-9)
    post = activation_gain(activation, slope, "post")
    assert _second_moment_by_quadrature(numpy_activation, activation, slope, post) == pytest.approx(1.0, rel=1e-9)
    for variance in (0.25, 9.0):
        moment_ratio = variance / _second_moment_by_quadrature(numpy_activation, activation, slope, variance)
        if activation == "gelu":
            assert abs(moment_ratio - gain) > 0.25  # 2.99 at s = 0.5, 2.03 at s = 3
        else:
            assert moment_ratio == pytest.approx(gain, rel=1e-9)


@pytest.mark.parametrize("activation, slope", ACTIVATION_CASES)
def test_activation_gain_against_monte_carlo_of_the_torch_activation(activation, slope):
    from fathom.nn.conv import activate, activation_gain

    z = torch.randn(2_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    moment = activate(z, activation, slope).square()
    standard_error = float(moment.std() / moment.mean()) / math.sqrt(z.numel())
    assert activation_gain(activation, slope) * float(moment.mean()) == pytest.approx(1.0, abs=5 * standard_error)


@pytest.mark.parametrize("activation, slope", ACTIVATION_CASES)
def test_activation_lipschitz_is_the_largest_slope(activation, slope):
    """sup |act'| from a fine grid of difference quotients of the torch activation."""
    from fathom.nn.conv import activate, activation_lipschitz

    z = torch.linspace(-8, 8, 1_600_001, dtype=torch.float64)
    slopes = (activate(z, activation, slope).diff() / z.diff()).abs()
    assert float(slopes.max()) == pytest.approx(activation_lipschitz(activation, slope), rel=1e-8)


def test_fathom_conv_gain_follows_its_activation():
    assert FathomConv(4, 4, activation="leaky_relu", negative_slope=0.8).gain == pytest.approx(2 / 1.64)
    assert FathomConv(4, 4, activation="gelu").gain == pytest.approx(2.3517156, rel=1e-7)
    assert "activation=leaky_relu(0.5)" in repr(FathomConv(4, 4, activation="leaky_relu", negative_slope=0.5))


# --- OperatorGATConv: PyG's GATConv on the operator's graph, heads averaged ------------------------

@pytest.mark.parametrize("heads, a", [(1, 0.0), (3, 0.0), (2, 0.4)])
def test_operator_gat_conv_against_hand_computation(make_er, gat_by_hand, heads, a):
    from fathom.nn.conv import OperatorGATConv

    edge_index = make_er(12, 0.3, seed=2, directed=True)
    torch.manual_seed(0)
    conv = OperatorGATConv(5, heads, a).double()
    with torch.no_grad():  # attention vectors large enough that the attention is far from uniform
        conv.att_src.mul_(4.0)
        conv.att_dst.mul_(4.0)
    x = _features(12, 5)
    operator = AggregationOperator(edge_index, 12, "gcn", a, dtype=torch.float64)
    expected = gat_by_hand(conv, x.numpy(), edge_index, a)
    np.testing.assert_allclose(conv(x, operator=operator).detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    assert conv.lin.weight.shape == (heads * 5, 5) and conv.bias is None

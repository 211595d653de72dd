import numpy as np
import pytest
import torch
from torch.nn.utils import parametrize

from fathom import AggregationOperator, DeepGNN, ModelConfig
from fathom.data import csbm
from fathom.diagnostics import measure_at_init
from fathom.nn import FathomConv
from fathom.nn.models import DeepGNNBlock
from fathom.nn.norm import (SpectralNormEstimate, WeightBound, bound_weight_, raw_weight, settle_weight_bound_,
                            spectral_norm)


def big_weight(seed=0, rows=20, columns=12, scale=3.0):
    return scale * torch.randn(rows, columns, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_power_iteration_converges_to_the_largest_singular_value():
    weight = big_weight()
    estimate = SpectralNormEstimate(12).double()
    estimate.converge(weight)
    assert float(estimate(weight)) == pytest.approx(float(np.linalg.svd(weight.numpy(), compute_uv=False)[0]),
                                                   rel=1e-8)
    heads = SpectralNormEstimate(12, heads=4).double()  # 4 heads of 5 rows: the mean of their norms
    heads.converge(weight)
    expected = np.mean([np.linalg.svd(weight.numpy()[5 * h:5 * h + 5], compute_uv=False)[0] for h in range(4)])
    assert float(heads(weight)) == pytest.approx(float(expected), rel=1e-8)


def test_power_iteration_survives_a_zero_weight():
    estimate = SpectralNormEstimate(12).double()
    assert float(estimate(torch.zeros(20, 12, dtype=torch.float64))) == 0.0
    weight = big_weight()
    estimate.converge(weight)  # the stored vector was not wiped out by W = 0
    assert float(estimate(weight)) == pytest.approx(float(torch.linalg.matrix_norm(weight, 2)), rel=1e-8)


@pytest.mark.parametrize("bound, order", [("spectral", 2), ("frobenius", "fro")])
def test_weight_bound_caps_the_norm_at_c_and_leaves_small_weights_alone(bound, order):
    conv = FathomConv(12, 20).double()
    bound_weight_(conv, c=0.9, bound=bound)
    with torch.no_grad():
        raw_weight(conv.lin).copy_(big_weight())
    settle_weight_bound_(conv.lin)
    norm = float(torch.linalg.matrix_norm(conv.lin.weight.detach(), order))
    assert norm <= 0.9 * (1 + 1e-8) and norm == pytest.approx(0.9, rel=1e-6)
    with torch.no_grad():
        raw_weight(conv.lin).copy_(big_weight(scale=0.01))
    settle_weight_bound_(conv.lin)
    assert torch.equal(conv.lin.weight, raw_weight(conv.lin))


@pytest.mark.parametrize("bound", ["spectral", "frobenius"])
def test_weight_bound_gradients_match_finite_differences(bound):
    parametrization = WeightBound(12, c=0.9, bound=bound).double()
    weight = big_weight().requires_grad_()
    if parametrization.spectral is not None:
        parametrization.spectral.converge(weight.detach(), steps=500)  # later calls then leave v unchanged
    probe = torch.randn(20, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda w: (parametrization(w) * probe).sum(), (weight,), eps=1e-6, atol=1e-6)


def test_the_weight_bound_is_frobenius_by_default():
    """The authors' bound (W <- W / max(1, ||W||_F / 0.999)); spectral only when asked for."""
    assert ModelConfig().norm_bound == "frobenius"
    model = DeepGNN(ModelConfig(depth=2, width=8, norm="weight"), 4, 2)
    bound = model.blocks[0].conv.lin.parametrizations.weight[0]
    assert (bound.bound, bound.c, bound.spectral) == ("frobenius", 0.999, None)
    assert WeightBound(4).bound == "frobenius"


def _gat_bounded(bound, heads=3, width=6, scale=3.0):
    from fathom.nn.conv import OperatorGATConv

    conv = OperatorGATConv(width, heads).double()
    bound_weight_(conv, c=0.9, bound=bound)
    raw = big_weight(rows=heads * width, columns=width, scale=scale)
    raw[:width] *= 4.0  # heads of unequal norms: their mean differs from the whole matrix's norm
    with torch.no_grad():
        raw_weight(conv.lin).copy_(raw)
    settle_weight_bound_(conv.lin)
    return conv, raw.numpy().reshape(heads, width, width)


@pytest.mark.parametrize("bound", ["frobenius", "spectral"])
def test_gat_weight_bound_uses_the_mean_of_the_heads_norms(bound):
    """W <- W / max(1, mean_h ||W_h|| / c), every head by the same factor (the authors' GAT), by hand
    with numpy's norms; small weights are left alone."""
    conv, heads = _gat_bounded(bound)
    order = "fro" if bound == "frobenius" else 2
    mean_norm = np.mean([np.linalg.norm(head, order) for head in heads])
    assert mean_norm > 0.9 * 1.5  # the bound acts
    expected = heads.reshape(-1, heads.shape[2]) / max(1.0, mean_norm / 0.9)
    np.testing.assert_allclose(conv.lin.weight.detach().numpy(), expected, rtol=1e-7)
    bounded = conv.lin.weight.detach().numpy().reshape(heads.shape)
    assert np.mean([np.linalg.norm(head, order) for head in bounded]) == pytest.approx(0.9, rel=1e-7)
    small, raw = _gat_bounded(bound, scale=0.01)
    np.testing.assert_allclose(small.lin.weight.detach().numpy(), raw.reshape(-1, raw.shape[2]), rtol=1e-12)


def test_bound_weight_needs_a_weight():
    with pytest.raises(ValueError, match="no 2-d lin.weight"):
        bound_weight_(torch.nn.ReLU())


# --- the layer bound: Z' = (Z + beta A_a relu(Z) W) / (1 + beta ||A_a||_2 ||W||_2) -------------------------
#
# Each test takes the block's whole Jacobian at a point (N*d = 320 inputs) and its largest singular
# value: the stretch along the worst direction, which random input pairs almost never reach (with
# sum aggregation and the ||A_a|| factor dropped, random pairs stretch by 0.42, the worst direction
# by 2.05).


def layer_block(aggregation, seed=0, width=8, beta=None):
    torch.manual_seed(seed)
    residual = {"residual": "plain"} if beta is None else {"residual": "fixup", "beta": beta}
    config = ModelConfig(depth=4, width=width, aggregation=aggregation, norm="layer", **residual)
    return DeepGNNBlock(config).double()


def layer_operator(aggregation, residual=0.2):
    return AggregationOperator.from_data(csbm(num_nodes=40, num_features=4, seed=1), aggregation, residual,
                                         dtype=torch.float64)


def worst_stretch(block, operator, x):
    """||J||_2 of the block at ``x``: the largest local stretch, along the worst direction."""
    jacobian = torch.autograd.functional.jacobian(lambda z: block(z, operator), x)
    return float(torch.linalg.matrix_norm(jacobian.reshape(x.numel(), x.numel()), 2))


@pytest.mark.parametrize("aggregation", ["gcn", "mean", "sum"])
def test_layer_bound_makes_the_block_1_lipschitz_along_its_worst_direction(aggregation):
    block, operator = layer_block(aggregation), layer_operator(aggregation)
    with torch.no_grad():
        block.conv.lin.weight.mul_(5.0)  # a large weight, so the bound matters
    generator = torch.Generator().manual_seed(2)
    for _ in range(3):  # random points: ReLU active on about half the entries
        x = torch.randn(40, 8, generator=generator, dtype=torch.float64)
        assert worst_stretch(block, operator, x) <= 1 + 1e-6  # ||A_a|| is computed to a relative 1e-7


@pytest.mark.parametrize("aggregation", ["gcn", "sum"])
@pytest.mark.parametrize("scale", [0.3, 5.0])
@pytest.mark.parametrize("beta", [None, 0.25])  # None: the plain residual, beta = 1
def test_layer_bound_is_tight(aggregation, scale, beta):
    """Where the bound is reached the block stretches by exactly 1, from both sides. With ReLU active
    everywhere (x > 0) the Jacobian is dZ -> (dZ + beta A_a dZ W^T) / (1 + beta ||A_a|| ||W||); with a
    symmetric positive semi-definite W and a symmetric A_a (gcn, sum), a v w^T (a: the Perron vector,
    w: W's top eigenvector) is stretched by exactly (1 + beta lambda_1 s) / (1 + beta ||A_a|| s) = 1.
    A wrong denominator misses 1 on one side: ||W||^2 for ||W|| undershoots at s = 5 and overshoots
    at s = 0.3; dropping ||A_a|| (> 1 for sum) overshoots; dropping beta < 1 from the denominator
    undershoots."""
    block, operator = layer_block(aggregation, beta=beta), layer_operator(aggregation)
    assert operator.is_symmetric
    basis = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64))[0]
    spectrum = scale * torch.tensor([1.0, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0], dtype=torch.float64)
    with torch.no_grad():
        block.conv.lin.weight.copy_(basis @ torch.diag(spectrum) @ basis.t())
    x = torch.rand(40, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64) + 1.0  # ReLU active
    assert worst_stretch(block, operator, x) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("position", ["pre", "post"])
@pytest.mark.parametrize("activation", ["relu", "gelu", "leaky_relu"])
def test_layer_bound_makes_every_activation_and_position_1_lipschitz(activation, position):
    """(Z + beta B(Z)) / (1 + beta Lip(act) ||A_a|| ||W||) with B(Z) = A_a act(Z) W (pre) or act(A_a Z W)
    (post): 1-Lipschitz along the worst direction at random points."""
    torch.manual_seed(0)
    block = DeepGNNBlock(ModelConfig(depth=4, width=8, aggregation="sum", residual="plain", norm="layer",
                                     activation=activation, activation_position=position)).double()
    operator = layer_operator("sum")
    with torch.no_grad():
        block.conv.lin.weight.mul_(5.0)
    generator = torch.Generator().manual_seed(2)
    for _ in range(3):
        x = torch.randn(40, 8, generator=generator, dtype=torch.float64)
        assert worst_stretch(block, operator, x) <= 1 + 1e-6


@pytest.mark.parametrize("scale", [0.3, 5.0])
def test_layer_bound_uses_gelus_lipschitz_constant_where_it_is_reached(scale):
    """Post-activation GELU block on a 12-node cycle (mean aggregation: symmetric, A 1 = 1, ||A|| = 1),
    W symmetric positive definite, X = 1 h^T with X W = sqrt(2) everywhere, where GELU' peaks at
    Lip = 1.1289: along 1 w^T (w: W's top eigenvector) the stretch is (1 + Lip s) / (1 + Lip s) = 1.
    A denominator with Lip = 1 overshoots 1."""
    nodes = torch.arange(12)
    edges = torch.stack([torch.cat([nodes, (nodes + 1) % 12]), torch.cat([(nodes + 1) % 12, nodes])])
    operator = AggregationOperator(edges, 12, "mean", 0.0, dtype=torch.float64)
    block = DeepGNNBlock(ModelConfig(depth=4, width=8, residual="plain", norm="layer", activation="gelu",
                                     activation_position="post", residual_aggregation=0.0)).double()
    basis = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64))[0]
    spectrum = scale * torch.tensor([1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
    weight = basis @ torch.diag(spectrum) @ basis.t()
    with torch.no_grad():
        block.conv.lin.weight.copy_(weight)
    h = torch.linalg.solve(weight, torch.full((8,), 2.0**0.5, dtype=torch.float64))
    x = torch.ones(12, 1, dtype=torch.float64) * h
    torch.testing.assert_close(operator.propagate(x) @ weight, torch.full((12, 8), 2.0**0.5, dtype=torch.float64))
    assert worst_stretch(block, operator, x) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("norm, bound", [("weight", "frobenius"), ("weight", "spectral"), ("none", "frobenius")])
def test_weight_bound_makes_the_post_activation_block_1_plus_c_norm_a_lipschitz(norm, bound):
    """Z + relu(A_a Z W) with ||W||_2 <= c (either bound): at most (1 + c ||A_a||_2)-Lipschitz, probed
    along the worst direction of its Jacobian; unbounded (W x 5) it exceeds that."""
    torch.manual_seed(0)
    block = DeepGNNBlock(ModelConfig(depth=4, width=8, aggregation="sum", residual="plain", init="glorot",
                                     norm=norm, norm_bound=bound, activation_position="post")).double()
    operator = layer_operator("sum")
    with torch.no_grad():
        raw_weight(block.conv.lin).mul_(5.0)
    settle_weight_bound_(block.conv.lin)
    bound_value = 1 + 0.999 * operator.spectral_norm()
    x = torch.rand(40, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64) + 1.0  # relu active
    stretch = worst_stretch(block, operator, x)
    if norm == "weight":
        assert 1 < stretch <= bound_value * (1 + 1e-6)
    else:
        assert stretch > bound_value


def test_layer_bound_holds_right_after_an_optimizer_step():
    """An optimizer step that makes another singular direction the top one: a persistent power-
    iteration estimate (one step per forward) stays on the old direction, ||W v|| = 3 while
    ||W||_2 = 6, and under-normalises (the block then stretches by 1.86). The exact norm does not."""
    block, operator = layer_block("sum"), layer_operator("sum")
    with torch.no_grad():
        block.conv.lin.weight.copy_(torch.diag(torch.tensor([3.0, 1, 1, 1, 1, 1, 1, 1], dtype=torch.float64)))
    x = torch.rand(40, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64) + 1.0  # ReLU active
    for _ in range(5):  # forwards before the step (a persistent estimate would settle on e_1 here)
        block(x, operator)
    optimizer = torch.optim.SGD(block.parameters(), lr=1.0)
    optimizer.zero_grad()
    (-block.conv.lin.weight[1, 1] * 5.0).backward()  # W_11: 1 -> 6
    optimizer.step()
    assert float(torch.linalg.matrix_norm(block.conv.lin.weight.detach(), 2)) == pytest.approx(6.0)
    assert worst_stretch(block, operator, x) == pytest.approx(1.0, rel=1e-6)


def test_spectral_norm_is_exact_and_differentiable():
    weight = big_weight().requires_grad_()
    u, sigma, vh = torch.linalg.svd(weight.detach())
    norm = spectral_norm(weight)
    assert float(norm.detach()) == pytest.approx(float(sigma[0]), rel=1e-12)
    norm.backward()
    torch.testing.assert_close(weight.grad, torch.outer(u[:, 0], vh[0]), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("norm, bound", [("weight", "spectral"), ("weight", "frobenius"), ("none", "frobenius")])
def test_weight_bound_makes_a_scaled_residual_block_1_plus_beta_lipschitz(norm, bound):
    """scaled-residual+weight in the park2024 reproduction: ||A||_2 = 1 (gcn), ReLU is 1-Lipschitz
    and ||W||_2 <= c (either bound: ||W||_2 <= ||W||_F), so Z + beta A relu(Z) W is at most
    (1 + beta c)-Lipschitz, beta = 1/sqrt(L).
    Probed along u v^T (u: A's top eigenvector, v: W's top right singular vector) where ReLU is
    active: there the stretch is ||v + beta s_1 u_1|| >= beta s_1 - 1, which exceeds the bound
    when W is not bounded."""
    torch.manual_seed(0)
    graph = csbm(num_nodes=60, num_features=4, seed=1)
    operator = AggregationOperator.from_data(graph, "gcn", 0.0, dtype=torch.float64)
    config = ModelConfig(depth=16, width=16, residual="fixup", init="glorot", norm=norm, norm_bound=bound)
    block = DeepGNNBlock(config).double()
    with torch.no_grad():
        raw_weight(block.conv.lin).mul_(5.0)
    settle_weight_bound_(block.conv.lin)
    weight = block.conv.lin.weight.detach()
    top_node = torch.linalg.eigh(operator.to_dense())[1][:, -1]
    top_channel = torch.linalg.svd(weight)[2][0]
    x = torch.rand(60, 16, generator=torch.Generator().manual_seed(2), dtype=torch.float64) + 1.0  # ReLU active
    delta = 1e-3 * torch.outer(top_node, top_channel)
    with torch.no_grad():
        stretch = float((block(x + delta, operator) - block(x, operator)).norm() / delta.norm())
    bound = 1 + config.branch_scale * config.norm_c
    assert config.branch_scale == pytest.approx(0.25)
    if norm == "weight":
        assert 1 < stretch <= bound * (1 + 1e-6)
    else:
        assert stretch > bound and stretch >= config.branch_scale * float(torch.linalg.matrix_norm(weight, 2)) - 1


def test_operator_spectral_norm_matches_numpy():
    edges = torch.tensor([[0, 1, 1, 2, 3, 0], [1, 2, 3, 3, 0, 2]])
    for kind in ("gcn", "mean", "sum"):
        for residual in (0.0, 0.4):
            operator = AggregationOperator(edges, 4, kind, residual, dtype=torch.float64)
            expected = np.linalg.svd(operator.to_dense().numpy(), compute_uv=False)[0]
            assert operator.spectral_norm() == pytest.approx(expected, rel=1e-6)


def test_weight_norm_model_trains_its_raw_weights():
    model = DeepGNN(ModelConfig(depth=3, width=8, norm="weight", init="fixup"), 4, 2)
    assert parametrize.is_parametrized(model.blocks[0].conv.lin, "weight")
    assert torch.count_nonzero(raw_weight(model.blocks[0].conv.lin)) == 0  # fixup zeroed the stored weight
    x, edges = torch.randn(10, 4), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    model(x, edges).sum().backward()
    assert raw_weight(model.blocks[0].conv.lin).grad is not None


GRAPH = csbm(num_nodes=300, seed=0)


def expansion(depth, norm, bound="frobenius"):
    metrics = measure_at_init(ModelConfig(depth=depth, width=64, residual="plain", residual_aggregation=0.0,
                                          init="glorot", norm=norm, norm_bound=bound), GRAPH, seeds=[0, 1])
    return metrics["grad_norm"][0] / metrics["grad_norm"][-1]


def test_residual_gradients_expand_with_depth_unless_normalised():
    """Measured here: no norm 1.5 / 15 / 2e5 at depth 4 / 16 / 64; spectral weight bound 1.1 / 2.1 / 35
    at the same depths; Frobenius weight bound 1.13 at 64 (each branch ~sqrt(64)/2 = 4x weaker)."""
    plain = [expansion(depth, "none") for depth in (4, 16, 64)]
    assert plain[0] < plain[1] < plain[2] and plain[2] > 1e4
    spectral = expansion(64, "weight", "spectral")
    assert spectral < 100 and spectral < plain[2] / 1e3  # stated bound: below 100 at depth 64
    assert expansion(64, "weight") < 2 < spectral / 5
    assert expansion(64, "layer") <= 1 + 1e-6  # every block is 1-Lipschitz, so ||G_1|| <= ||G_L||


def test_batchnorm_trains_on_a_one_node_graph():
    """One node has no batch statistics: BatchNorm raised torch's ValueError in training mode
    (found by tests/nn/test_models_properties.py); the running statistics stand in."""
    model = DeepGNN(ModelConfig(depth=2, width=4, norm="batchnorm"), 3, 2).train()
    logits = model(torch.randn(1, 3), torch.zeros(2, 0, dtype=torch.long))
    logits.sum().backward()
    assert logits.shape == (1, 2) and bool(torch.isfinite(logits).all())


def test_pairnorm_centres_each_column_and_scales_rows_to_unit_mean_square_norm():
    """PairNorm (Zhao & Akoglu 2020), s = 1: X - 1 mean(X), then divided by sqrt(mean_i ||x_i||^2)."""
    from fathom.nn.norm import make_norm

    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 3.0
    y = make_norm("pairnorm", 4)(x)
    centred = x - x.mean(0)
    torch.testing.assert_close(y, centred / centred.pow(2).sum(1).mean().sqrt(), rtol=1e-4, atol=1e-6)
    assert type(make_norm("batchnorm", 4).norm).__name__ == "BatchNorm"

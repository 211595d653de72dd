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
    config = ModelConfig(depth=4, width=width, aggregation=aggregation, residual="plain", norm="layer",
                         **({} if beta is None else {"residual": "fixup", "beta": beta}))
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
def test_layer_bound_is_tight(aggregation, scale):
    """Where the bound is reached the block stretches by exactly 1, from both sides. With ReLU active
    everywhere (x > 0) the Jacobian is dZ -> (dZ + beta A_a dZ W^T) / (1 + beta ||A_a|| ||W||); with a
    symmetric positive semi-definite W and a symmetric A_a (gcn, sum), a v w^T (a: the Perron vector,
    w: W's top eigenvector) is stretched by exactly (1 + beta lambda_1 s) / (1 + beta ||A_a|| s) = 1.
    A wrong denominator misses 1 on one side: ||W||^2 for ||W|| undershoots at s = 5 and overshoots
    at s = 0.3; dropping ||A_a|| (> 1 for sum) overshoots."""
    block, operator = layer_block(aggregation), layer_operator(aggregation)
    assert operator.is_symmetric
    basis = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64))[0]
    spectrum = scale * torch.tensor([1.0, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0], dtype=torch.float64)
    with torch.no_grad():
        block.conv.lin.weight.copy_(basis @ torch.diag(spectrum) @ basis.t())
    x = torch.rand(40, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64) + 1.0  # ReLU active
    assert worst_stretch(block, operator, x) == pytest.approx(1.0, rel=1e-6)


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


@pytest.mark.parametrize("norm", ["weight", "none"])
def test_weight_bound_makes_a_scaled_residual_block_1_plus_beta_lipschitz(norm):
    """scaled-residual+weight in the park2024 reproduction: ||A||_2 = 1 (gcn), ReLU is 1-Lipschitz
    and ||W||_2 <= c, so Z + beta A relu(Z) W is at most (1 + beta c)-Lipschitz, beta = 1/sqrt(L).
    Probed along u v^T (u: A's top eigenvector, v: W's top right singular vector) where ReLU is
    active: there the stretch is ||v + beta s_1 u_1|| >= beta s_1 - 1, which exceeds the bound
    when W is not bounded."""
    torch.manual_seed(0)
    graph = csbm(num_nodes=60, num_features=4, seed=1)
    operator = AggregationOperator.from_data(graph, "gcn", 0.0, dtype=torch.float64)
    config = ModelConfig(depth=16, width=16, residual="fixup", init="glorot", norm=norm)
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


def expansion(depth, norm):
    metrics = measure_at_init(ModelConfig(depth=depth, width=64, residual="plain", residual_aggregation=0.0,
                                          init="glorot", norm=norm), GRAPH, seeds=[0, 1])
    return metrics["grad_norm"][0] / metrics["grad_norm"][-1]


def test_residual_gradients_expand_with_depth_unless_normalised():
    """Measured here: no norm 1.5 / 15 / 2e5 at depth 4 / 16 / 64; weight bound 1.1 / 2.1 / 35."""
    plain = [expansion(depth, "none") for depth in (4, 16, 64)]
    assert plain[0] < plain[1] < plain[2] and plain[2] > 1e4
    weight = expansion(64, "weight")
    assert weight < 100 and weight < plain[2] / 1e3  # stated bound: below 100 at depth 64
    assert expansion(64, "layer") <= 1 + 1e-6  # every block is 1-Lipschitz, so ||G_1|| <= ||G_L||

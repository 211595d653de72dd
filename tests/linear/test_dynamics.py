"""Gradient descent, Theorem 1's lambda_T and its bound, on tiny graphs with dense references."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from fathom.graph import AggregationOperator
from fathom.linear import (LinearizedGNN, LinearProblem, bound_violation, graph_quantities, one_hot_targets,
                           plain_lambda, propagated_features, restricted_lambda, row_space_basis, squared_loss,
                           theorem1_bound, train_full_graph, train_linear)
from fathom.linear.dynamics import DIVERGENCE_FACTOR, Trajectory, gradient_descent


def tiny_problem(make_er, features: int, train: int, seed: int = 0, nodes: int = 10, classes: int = 3):
    rng = np.random.default_rng(seed)
    mask = torch.zeros(nodes, dtype=torch.bool)
    mask[torch.from_numpy(rng.choice(nodes, train, replace=False))] = True
    data = Data(x=torch.from_numpy(2.0 * rng.normal(size=(nodes, features))), edge_index=make_er(nodes, 0.35, seed=seed),
                y=torch.from_numpy(rng.integers(0, classes, nodes)), train_mask=mask, num_nodes=nodes)
    index = mask.nonzero().squeeze(1)
    return data, index, one_hot_targets(data.y[index], classes)


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("features,train", [(4, 3), (3, 6)])  # wide (L* = 0) and tall (L* > 0) design matrices
def test_gradient_flow_obeys_theorem_1_at_every_step(make_er, skip, features, train):
    """Tiny step (GD ~ gradient flow), width >= m_x so the plain lambda is positive too."""
    data, _, targets = tiny_problem(make_er, features, train)
    depth = 2
    summary = graph_quantities(data, depth, skip)
    problem = LinearProblem.build(propagated_features(data, depth), depth, skip, reduce=False)
    torch.manual_seed(0)
    model = LinearizedGNN(features, 12, 3, depth, skip=skip).double()
    trajectory = train_linear(model, problem, targets, lr=2e-3, steps=1500, lambda_every=1)
    assert not trajectory.diverged and min(trajectory.lambda_plain) > 0
    gap = np.asarray(trajectory.loss) - summary.optimal_loss
    for restricted in (True, False):
        bound = theorem1_bound(trajectory, summary.optimal_loss, summary.sigma_min, restricted)
        assert np.all(gap <= bound * (1 + 1e-9) + 1e-12)
        assert bound_violation(trajectory, summary.optimal_loss, summary.sigma_min, restricted) <= 1e-9
    # the bound is not vacuous here: it has fallen well below the initial gap
    assert theorem1_bound(trajectory, summary.optimal_loss, summary.sigma_min)[-1] < 0.9 * gap[0]
    assert gap[-1] < 0.05 * gap[0]


def test_restricted_lambda_is_sigma_min_of_bbar_on_the_row_space(make_er):
    data, _, _ = tiny_problem(make_er, 7, 4)
    features = propagated_features(data, 3)
    model = LinearizedGNN(7, 5, 2, 3, skip=True).double()
    bases = [row_space_basis(m) for m in features]
    products, expected = np.eye(7), []
    for l, layer in enumerate(model.layers, start=1):
        products = layer.weight.detach().numpy() @ products  # B_l ... B_1
        expected.append(np.linalg.svd(products @ bases[l].numpy(), compute_uv=False)[-1] ** 2)
    assert restricted_lambda(model, bases) == pytest.approx(min(expected + [1.0]), rel=1e-10)
    model.skip = False
    assert restricted_lambda(model, bases) == pytest.approx(expected[-1], rel=1e-10)
    assert plain_lambda(model) == 0.0  # width 5 < m_x = 7: B_bar has a null space


def test_with_skips_level_zero_caps_both_lambdas_at_one(make_er):
    """With skips the readout also sees Z_0, whose factor B_bar(1:0) = I contributes sigma_min(V_0)^2 = 1:
    with weights large enough that every deeper level's value exceeds 1, lambda is exactly 1 with skips
    and the deepest level's value without."""
    data, _, _ = tiny_problem(make_er, 3, 2)
    bases = [row_space_basis(m) for m in propagated_features(data, 2)]
    torch.manual_seed(0)
    model = LinearizedGNN(3, 4, 2, 2, skip=True).double()
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.mul_(10.0)
    first = model.layers[0].weight.detach().numpy()
    plain = [np.linalg.svd(product, compute_uv=False)[-1] ** 2
             for product in (first, model.layers[1].weight.detach().numpy() @ first)]
    assert min(plain) > 1.0
    assert restricted_lambda(model, bases) == 1.0
    assert plain_lambda(model) == 1.0
    model.skip = False
    assert restricted_lambda(model, bases) > 1.0
    assert plain_lambda(model) == pytest.approx(plain[-1], rel=1e-10)


def test_restricted_lambda_is_at_least_the_plain_one(make_er):
    data, _, _ = tiny_problem(make_er, 3, 2)
    bases = [row_space_basis(m) for m in propagated_features(data, 2)]
    for seed in range(5):
        torch.manual_seed(seed)
        model = LinearizedGNN(3, 4, 2, 2).double()
        dense = model.layers[1].weight.detach().numpy() @ model.layers[0].weight.detach().numpy()
        assert plain_lambda(model) == pytest.approx(np.linalg.svd(dense, compute_uv=False)[-1] ** 2, rel=1e-10)
        assert restricted_lambda(model, bases) >= plain_lambda(model) - 1e-15


@pytest.mark.parametrize("skip", [False, True])
def test_row_space_reduction_gives_the_same_run_and_weights(make_er, skip):
    data, _, targets = tiny_problem(make_er, 9, 3)  # rank <= 3 per level, m_x = 9 > width 4
    features = propagated_features(data, 2)
    torch.manual_seed(1)
    model = LinearizedGNN(9, 4, 3, 2, skip=skip).double()
    twin = copy.deepcopy(model)
    full = train_linear(model, LinearProblem.build(features, 2, skip, reduce=False), targets, 1e-3, 200, 7)
    reduced_problem = LinearProblem.build(features, 2, skip)
    assert reduced_problem.features[0].size(1) < 9
    reduced = train_linear(twin, reduced_problem, targets, 1e-3, 200, 7)
    np.testing.assert_allclose(reduced.loss, full.loss, rtol=1e-10)
    np.testing.assert_allclose(reduced.lambda_restricted, full.lambda_restricted, rtol=1e-8)
    for a, b in zip(twin.parameters(), model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_linear_training_matches_full_graph_training(make_er):
    """GD on f_I from M_l and GD propagating through the whole graph: the same run."""
    data, index, targets = tiny_problem(make_er, 5, 4)
    torch.manual_seed(2)
    model = LinearizedGNN(5, 6, 3, 3, skip=True).double()
    twin = copy.deepcopy(model)
    operator = AggregationOperator.from_data(data, "gcn", dtype=torch.float64)
    fast = train_linear(model, LinearProblem.build(propagated_features(data, 3), 3, True), targets, 1e-3, 100)
    slow = train_full_graph(twin, data.x, operator, index, targets, 1e-3, 100)
    np.testing.assert_allclose(fast.loss, slow.loss, rtol=1e-10)


def test_divergence_is_recorded_not_raised(make_er):
    data, _, targets = tiny_problem(make_er, 4, 3)
    model = LinearizedGNN(4, 4, 3, 2).double()
    trajectory = train_linear(model, LinearProblem.build(propagated_features(data, 2), 2, False), targets, 10.0, 500)
    assert trajectory.diverged and trajectory.diverged_at < 500 and len(trajectory.loss) == trajectory.diverged_at + 1


def test_bound_formula_uses_the_running_minimum_of_lambda():
    trajectory = Trajectory(lr=0.1, loss=[10.0, 8.0, 7.0, 6.5, 6.0], lambda_steps=[0, 2, 4],
                            lambda_restricted=[0.5, 0.2, 0.3], lambda_plain=[0.0, 0.0, 0.0])
    sigma, optimal = 2.0, 1.0
    lam = np.array([0.5, 0.5, 0.2, 0.2, 0.2])
    expected = 9.0 * np.exp(-4 * lam * sigma ** 2 * 0.1 * np.arange(5))
    np.testing.assert_allclose(theorem1_bound(trajectory, optimal, sigma), expected)
    np.testing.assert_allclose(theorem1_bound(trajectory, optimal, sigma, restricted=False), 9.0)
    violation = bound_violation(trajectory, optimal, sigma)
    assert violation == pytest.approx(max((np.array(trajectory.loss) - 1.0 - expected) / 9.0))
    assert violation > 0  # this made-up loss falls more slowly than the bound says it must


def test_a_run_that_starts_at_or_below_the_optimal_loss_is_not_a_silent_pass():
    at_optimum = Trajectory(lr=0.1, loss=[1.0, 1.0, 1.0], lambda_steps=[0], lambda_restricted=[0.5], lambda_plain=[0.0])
    assert bound_violation(at_optimum, 1.0, 2.0) == 0.0
    rises = Trajectory(lr=0.1, loss=[1.0, 1.5, 1.2], lambda_steps=[0], lambda_restricted=[0.5], lambda_plain=[0.0])
    assert bound_violation(rises, 1.0, 2.0) == math.inf
    below = Trajectory(lr=0.1, loss=[0.8, 0.7, 0.6], lambda_steps=[0], lambda_restricted=[0.5], lambda_plain=[0.0])
    assert bound_violation(below, 1.0, 2.0) == math.inf  # L(0) < L*: the optimal loss is wrong


def _scripted(values):
    """A one-parameter model whose loss runs through ``values`` (its gradient is zero)."""
    model, script = torch.nn.Linear(1, 1, bias=False), iter(values)
    return model, lambda: model.weight.sum() * 0 + next(script)


def test_divergence_is_a_loss_above_the_factor_times_the_first_or_not_finite():
    model, loss_fn = _scripted([1.0, DIVERGENCE_FACTOR, DIVERGENCE_FACTOR * (1 + 1e-6)])  # float32 steps are 8 at 1e8
    trajectory = gradient_descent(model, loss_fn, lr=0.1, steps=2)
    assert trajectory.diverged and trajectory.diverged_at == 2 and len(trajectory.loss) == 3  # at the factor: kept
    model, loss_fn = _scripted([1.0, math.nan, 1.0])
    assert gradient_descent(model, loss_fn, lr=0.1, steps=2).diverged_at == 1


@pytest.mark.parametrize("steps,every,observed", [(7, 3, [0, 3, 6, 7]), (6, 3, [0, 3, 6]), (0, 3, [0])])
def test_observe_runs_every_k_steps_and_at_the_last(steps, every, observed):
    model, loss_fn = _scripted([1.0] * (steps + 1))
    seen = []
    gradient_descent(model, loss_fn, lr=0.1, steps=steps, observe=seen.append, observe_every=every)
    assert seen == observed


def test_bad_arguments_are_rejected(make_er):
    data, index, targets = tiny_problem(make_er, 4, 3)
    problem = LinearProblem.build(propagated_features(data, 2), 2, False)
    with pytest.raises(ValueError, match="does not match"):
        train_linear(LinearizedGNN(4, 4, 3, 1).double(), problem, targets, 1e-3, 5)
    with pytest.raises(ValueError, match="use train_full_graph"):
        train_linear(LinearizedGNN(4, 4, 3, 2, activation="relu").double(), problem, targets, 1e-3, 5)
    with pytest.raises(ValueError, match="learning rate must be positive"):
        train_linear(LinearizedGNN(4, 4, 3, 2).double(), problem, targets, 0.0, 5)
    assert min(train_linear(LinearizedGNN(4, 8, 3, 2).double(), problem, targets, 1e-3, 5).lambda_plain) > 0
    assert math.isfinite(train_full_graph(LinearizedGNN(4, 4, 3, 2, activation="relu").double(), data.x,
                                          AggregationOperator.from_data(data, "gcn", dtype=torch.float64),
                                          index, targets, 1e-3, 3).loss[-1])


# --- an independent reference: two nodes, readout-dominated gradient flow in closed form ------------------------------
#
# M_1 = sigma I (two training nodes, two features), B_1 = s I, W = 0, no skips. With B_1 frozen,
# f = A W^T with A = s sigma I, and GD on W gives R_(k+1) = (1 - 2 eta s^2 sigma^2) R_k exactly (the
# gradient of ||R||^2 is 2 R^T A), so L_k = L_0 (1 - 2 eta s^2 sigma^2)^(2k) -> L_0 exp(-4 s^2 sigma^2 T):
# the rate of Theorem 1 with lambda = s^2, attained. B_1 moves by O(|Y| / (s^2 sigma)) only, so for
# s = 10 the measured run follows this formula to ~1e-4, and the bound is tight to ~0.3 %.

SCALE, SIGMA, ETA, STEPS = 10.0, 1.0, 1e-5, 500
TARGETS = torch.tensor([[1.0, -0.5], [0.3, 2.0]], dtype=torch.float64)


def two_node_run():
    features = [torch.eye(2, dtype=torch.float64), SIGMA * torch.eye(2, dtype=torch.float64)]
    problem = LinearProblem.build(features, 1, False, reduce=False)
    model = LinearizedGNN(2, 2, 2, 1).double()
    with torch.no_grad():
        model.layers[0].weight.copy_(SCALE * torch.eye(2))
        model.readout.weight.zero_()
    return train_linear(model, problem, TARGETS, ETA, STEPS, lambda_every=1)


def test_squared_loss_is_the_plain_sum_of_squares():
    outputs = torch.tensor([[0.5, 1.0], [-2.0, 0.0]], dtype=torch.float64)
    expected = sum((o - t) ** 2 for o, t in zip(outputs.flatten().tolist(), TARGETS.flatten().tolist()))
    assert squared_loss(outputs, TARGETS).item() == pytest.approx(expected, rel=1e-15)  # 0.25+2.25+5.29+4 = 11.79


def test_two_node_gd_follows_the_closed_form():
    """Catches a rescaled loss (e.g. ||R||^2 / 2: half the initial loss, half the rate)."""
    trajectory = two_node_run()
    initial = float((TARGETS ** 2).sum())  # f = 0 at W = 0
    closed_form = initial * (1 - 2 * ETA * SCALE ** 2 * SIGMA ** 2) ** (2 * np.arange(STEPS + 1))
    np.testing.assert_allclose(trajectory.loss, closed_form, rtol=1e-3)
    assert trajectory.loss[-1] / trajectory.loss[0] == pytest.approx(math.exp(-2.0), rel=5e-3)  # 4 s^2 sigma^2 T = 2


def test_theorem_1_rate_is_attained_on_the_two_node_problem():
    """Catches a wrong exponent (8 instead of 4 breaks the bound; 2 leaves it e times loose at T) or lambda."""
    trajectory = two_node_run()
    assert min(trajectory.lambda_restricted) == pytest.approx(SCALE ** 2, rel=1e-3)  # sigma_min(B_1)^2
    assert min(trajectory.lambda_plain) == pytest.approx(SCALE ** 2, rel=1e-3)  # width 2 = m_x
    bound = theorem1_bound(trajectory, 0.0, SIGMA)
    ratio = bound / np.asarray(trajectory.loss)
    assert np.all(ratio >= 1 - 1e-9)  # the bound holds ...
    assert ratio.max() < 1.01  # ... and is tight: the closed form decays at exactly its rate
    assert bound[-1] / bound[0] == pytest.approx(math.exp(-4 * SCALE ** 2 * SIGMA ** 2 * ETA * STEPS), rel=2e-3)
    assert bound_violation(trajectory, 0.0, SIGMA) <= 1e-9

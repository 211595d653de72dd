"""Theorem 1's graph quantities against direct numpy computations on small random graphs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from fathom.linear import (Spectrum, depth_profile, design_matrix, graph_quantities, one_hot_targets,
                           propagated_features, spectral_summary)


def random_graph(make_er, seed: int, nodes: int = 14, features: int = 5, train: int = 9, classes: int = 3) -> Data:
    rng = np.random.default_rng(seed)
    mask = torch.zeros(nodes, dtype=torch.bool)
    mask[torch.from_numpy(rng.choice(nodes, train, replace=False))] = True
    return Data(x=torch.from_numpy(rng.normal(size=(nodes, features))).float(),
                edge_index=make_er(nodes, 0.3, seed=seed), y=torch.from_numpy(rng.integers(0, classes, nodes)),
                train_mask=mask, num_nodes=nodes)


def reference(data: Data, depth: int, skip: bool, dense_operator) -> tuple[float, float]:
    """sigma_min and L* straight from numpy: the matrix power, an SVD and a least-squares solve."""
    operator = dense_operator(data.edge_index, data.num_nodes, "gcn")
    x = data.x.double().numpy()
    index = data.train_mask.numpy()
    levels = [(np.linalg.matrix_power(operator, l) @ x)[index] for l in range(depth + 1)]
    matrix = np.hstack(levels) if skip else levels[-1]
    targets = np.eye(int(data.y.max()) + 1)[data.y.numpy()[index]]
    solution = np.linalg.lstsq(matrix, targets, rcond=None)[0]
    return float(np.linalg.svd(matrix, compute_uv=False)[-1]), float(((matrix @ solution - targets) ** 2).sum())


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("features", [5, 12])  # n_bar = 9 rows: tall and wide design matrices
def test_sigma_min_and_optimal_loss_match_numpy(make_er, dense_operator, depth, skip, features):
    data = random_graph(make_er, seed=depth + 10 * features, features=features)
    summary = graph_quantities(data, depth, skip)
    sigma, optimal = reference(data, depth, skip, dense_operator)
    assert summary.sigma_min == pytest.approx(sigma, rel=1e-9, abs=1e-12)
    assert summary.optimal_loss == pytest.approx(optimal, rel=1e-8, abs=1e-9)
    assert summary.rate == pytest.approx(4 * sigma ** 2, rel=1e-9, abs=1e-12)
    assert summary.method.startswith("exact")


def test_propagated_features_are_powers_of_the_operator(make_er, dense_operator):
    data = random_graph(make_er, seed=3)
    operator = dense_operator(data.edge_index, data.num_nodes, "sum")
    features = propagated_features(data, 3, kind="sum")
    for l, m in enumerate(features):
        expected = (np.linalg.matrix_power(operator, l) @ data.x.double().numpy())[data.train_mask.numpy()]
        np.testing.assert_allclose(m.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_label_spread_sums_to_the_explained_energy_and_gives_the_alignment():
    rng = np.random.default_rng(0)
    matrix, targets = rng.normal(size=(10, 4)), np.eye(3)[rng.integers(0, 3, 10)]
    summary = spectral_summary(matrix, targets)
    energy = np.asarray(summary.label_energy)
    assert energy.sum() == pytest.approx(1 - summary.optimal_loss / summary.target_energy, rel=1e-12)
    singular = np.asarray(summary.singular_values)
    assert summary.label_alignment == pytest.approx(float((singular ** 2 * energy).sum()), rel=1e-12)
    assert summary.label_alignment == pytest.approx(
        float(((matrix.T @ targets) ** 2).sum()) / summary.target_energy, rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_skips_never_hurt_sigma_min_or_the_optimal_loss(make_er, seed):
    # n_bar = 9 <= m_x = 12, as on Planetoid: sigma_min^2(G_H) = lambda_min(sum_l M_l M_l^T) >= sigma_min^2(M_H)
    data = random_graph(make_er, seed=seed, features=12, train=9)
    profile = depth_profile(data, 5)
    for noskip, skip in zip(profile["noskip"], profile["skip"]):
        assert skip.sigma_min >= noskip.sigma_min - 1e-12
        assert skip.optimal_loss <= noskip.optimal_loss + 1e-9
    skip_sigmas = [s.sigma_min for s in profile["skip"]]
    assert all(b >= a - 1e-12 for a, b in zip(skip_sigmas, skip_sigmas[1:]))  # more depth, more columns


@pytest.mark.parametrize("seed", range(4))
def test_skips_raise_every_singular_value_even_for_tall_matrices(make_er, seed):
    # n_bar = 10 > m_x = 3: sigma_min counts different indices (3rd vs 10th), but sigma_k(G) >= sigma_k(M)
    data = random_graph(make_er, seed=seed, features=3, train=10)
    features = propagated_features(data, 4)
    for depth in range(1, 5):
        plain = np.linalg.svd(design_matrix(features, depth, skip=False), compute_uv=False)
        skipped = np.linalg.svd(design_matrix(features, depth, skip=True), compute_uv=False)
        assert np.all(skipped[: len(plain)] >= plain - 1e-12)


def test_identical_training_rows_are_reported_degenerate():
    # nodes 0-1 form a two-node component with equal degrees: S x gives them identical rows
    edge_index = torch.tensor([[0, 1, 2, 3, 3, 4], [1, 0, 3, 2, 4, 3]])
    x = torch.tensor([[1.0, 0, 0, 0, 0, 2], [0, 1, 0, 0, 0, 2], [0, 0, 1, 0, 3, 0], [0, 0, 0, 1, 0, 1],
                      [1, 1, 1, 0, 0, 0]])
    data = Data(x=x, edge_index=edge_index, y=torch.tensor([0, 1, 0, 1, 0]),
                train_mask=torch.tensor([True, True, True, True, False]), num_nodes=5)
    with_skip = graph_quantities(data, 1, skip=True)
    propagated = graph_quantities(data, 1, skip=False)
    assert not with_skip.degenerate and propagated.degenerate
    assert propagated.sigma_min < 1e-12 and propagated.rank == 3 and propagated.sigma_min_nonzero > 0.1
    assert propagated.optimal_loss == pytest.approx(1.0)  # equal rows, labels 0 and 1: best fit is the mean


@pytest.mark.parametrize("shape", [(40, 25), (25, 40)])
def test_iterative_path_agrees_with_the_exact_one(shape):
    rng = np.random.default_rng(1)
    matrix, targets = rng.normal(size=shape), np.eye(3)[rng.integers(0, 3, shape[0])]
    exact, iterative = spectral_summary(matrix, targets), spectral_summary(matrix, targets, exact_limit=10)
    assert iterative.method.startswith("iterative") and iterative.rank is None
    assert iterative.sigma_min == pytest.approx(exact.sigma_min, rel=1e-6)
    assert iterative.sigma_max == pytest.approx(exact.sigma_max, rel=1e-6)
    assert iterative.optimal_loss == pytest.approx(exact.optimal_loss, rel=1e-6, abs=1e-8)


def test_one_spectrum_serves_many_targets():
    rng = np.random.default_rng(2)
    matrix = rng.normal(size=(12, 5))
    spectrum = Spectrum(matrix)
    for seed in range(3):
        targets = one_hot_targets(torch.from_numpy(np.random.default_rng(seed).integers(0, 4, 12)), 4).numpy()
        assert spectrum.summary(targets) == spectral_summary(matrix, targets)


def test_bad_inputs_fail_with_clear_messages(make_er):
    data = random_graph(make_er, seed=0)
    with pytest.raises(ValueError, match="depth must be an integer >= 1"):
        graph_quantities(data, 0, skip=False)
    with pytest.raises(ValueError, match="only 2 given"):
        design_matrix(propagated_features(data, 1), 2, skip=True)
    data.train_mask = torch.zeros(data.num_nodes, dtype=torch.bool)
    with pytest.raises(ValueError, match="selects no nodes"):
        graph_quantities(data, 1, skip=False)
    with pytest.raises(ValueError, match="NaN or infinite"):
        spectral_summary(np.array([[np.inf, 1.0]]), np.ones((1, 1)))


def test_the_rank_tolerance_is_size_times_eps_times_sigma_max():
    """diag(1, 1e-5): far above 2 eps, so full rank, not degenerate, and the least-squares fit is exact."""
    summary = spectral_summary(np.diag([1.0, 1e-5]), np.array([[0.0], [1.0]]))
    assert summary.tolerance == pytest.approx(2 * np.finfo(np.float64).eps)
    assert not summary.degenerate and summary.sigma_min == pytest.approx(1e-5)
    assert summary.optimal_loss == pytest.approx(0.0, abs=1e-12)

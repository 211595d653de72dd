import math

import numpy as np
import pytest
import torch

from fathom import AggregationOperator
from fathom.diagnostics import dirichlet_energy, dominant_direction, effective_rank, mad, mean_cosine, mu, second_moment

PATH = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])  # path 0-1-2-3, undirected
DEGREES = torch.tensor([2.0, 3.0, 3.0, 2.0], dtype=torch.float64)  # of Adj + I


def test_second_moment_is_the_mean_squared_entry():
    x = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    assert second_moment(x) == pytest.approx((1 + 4 + 9) / 4)


def test_mu_vanishes_on_constant_rows_and_measures_the_centred_norm():
    assert mu(torch.ones(5, 3) * torch.tensor([1.0, -2.0, 4.0])) == pytest.approx(0.0, abs=1e-12)
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(0)).double()
    assert mu(x) == pytest.approx(float(np.linalg.norm(x.numpy() - x.numpy().mean(axis=0))))


def test_mu_along_the_gcn_eigenvector_vanishes_on_its_rank_one_features():
    operator = AggregationOperator(PATH, 4, "gcn")
    direction = dominant_direction(operator)
    features = DEGREES.sqrt().unsqueeze(1) * torch.tensor([[2.0, -1.0, 0.5]], dtype=torch.float64)
    assert mu(features, direction) == pytest.approx(0.0, abs=1e-12)
    assert mu(features) > 0.1  # not constant rows, so the constant-vector mu does not vanish


@pytest.mark.parametrize("kind, residual", [("gcn", 0.0), ("mean", 0.5), ("sum", 0.0), ("sum", 0.3)])
def test_dominant_direction_is_an_eigenvector_of_the_perron_root(kind, residual):
    edges = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 0, 0, 2], [1, 0, 2, 1, 3, 2, 0, 3, 2, 0]])
    operator = AggregationOperator(edges, 4, kind, residual, dtype=torch.float64)
    v = dominant_direction(operator)
    assert torch.allclose(operator.propagate(v), operator.perron_root() * v, atol=1e-8)


def test_dirichlet_energy_matches_the_edge_sum_and_vanishes_on_the_eigenvector():
    operator = AggregationOperator(PATH, 4, "mean", 0.4)  # only the graph matters
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1)).double()
    adjacency_with_loops = torch.eye(4, dtype=torch.float64)
    adjacency_with_loops[PATH[1], PATH[0]] = 1.0
    scaled = x / DEGREES.sqrt().unsqueeze(1)
    edge_sum = 0.5 * sum(float(adjacency_with_loops[i, j]) * float((scaled[i] - scaled[j]).pow(2).sum())
                         for i in range(4) for j in range(4))
    assert dirichlet_energy(x, operator) == pytest.approx(edge_sum, rel=1e-10)
    assert dirichlet_energy(DEGREES.sqrt().unsqueeze(1).repeat(1, 3), operator) == pytest.approx(0.0, abs=1e-12)


def test_mean_cosine_matches_the_pairwise_definition():
    x = torch.randn(40, 5, generator=torch.Generator().manual_seed(2)).double()
    x[7] = 0.0  # a zero row has cosine 0 with every other row
    norms = x.norm(dim=1)
    pairs = [float(x[a] @ x[b] / (norms[a] * norms[b])) if norms[a] > 0 and norms[b] > 0 else 0.0
             for a in range(40) for b in range(40) if a != b]
    assert mean_cosine(x) == pytest.approx(sum(pairs) / len(pairs), abs=1e-12)


def test_mean_cosine_of_identical_and_opposite_rows():
    row = torch.tensor([[1.0, 2.0, -1.0]])
    assert mean_cosine(row.repeat(7, 1)) == pytest.approx(1.0)
    assert mean_cosine(torch.cat([row, -row])) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="two nodes"):
        mean_cosine(row)


def test_effective_rank_of_rank_k_matrices():
    generator = torch.Generator().manual_seed(3)
    q, _ = torch.linalg.qr(torch.randn(30, 30, generator=generator, dtype=torch.float64))
    for k in (1, 3, 8):
        equal_singular_values = q[:, :k] @ q[:, :k].t()  # a projection: k singular values equal to 1
        assert effective_rank(equal_singular_values) == pytest.approx(k, rel=1e-9)
    low_rank = torch.randn(30, 4, generator=generator, dtype=torch.float64) @ torch.randn(4, 10, generator=generator,
                                                                                          dtype=torch.float64)
    s = np.linalg.svd(low_rank.numpy(), compute_uv=False)
    p = s[s > 1e-12] / s.sum()
    assert effective_rank(low_rank) == pytest.approx(math.exp(-(p * np.log(p)).sum()), rel=1e-9)
    assert 1.0 < effective_rank(low_rank) <= 4.0 + 1e-9
    assert effective_rank(torch.zeros(5, 3)) == 0.0


def test_mad_by_hand_on_four_nodes():
    """Pairs of [1,0], [0,1], [1,1], [2,0]: distances 1 (0-1), 1 - 1/sqrt2 (0-2), 0 (0-3),
    1 - 1/sqrt2 (1-2), 1 (1-3), 1 - 1/sqrt2 (2-3); their mean is (2 + 3 (1 - 1/sqrt2)) / 6."""
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]])
    assert mad(x) == pytest.approx((2 + 3 * (1 - 1 / math.sqrt(2))) / 6, rel=1e-12)
    with_zero_row = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])  # zero row: distance 1
    assert mad(with_zero_row) == pytest.approx((4 + 2 * (1 - 1 / math.sqrt(2))) / 6, rel=1e-12)
    assert mad(torch.ones(4, 3) * torch.tensor([1.0, 2.0, 3.0])) == pytest.approx(0.0, abs=1e-12)


def test_effective_rank_of_an_overflowed_signal_is_nan_not_a_crash():
    """A 256-block residual model without a bound overflows at init: its diagnostics must still be made."""
    x = torch.ones(4, 3)
    x[1, 2] = float("inf")
    assert math.isnan(effective_rank(x))

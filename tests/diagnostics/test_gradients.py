import math

import numpy as np
import pytest
import torch

from fathom.diagnostics import expansion_ratio, grad_mu_ratio, grad_norm


def test_ratio_separates_collapse_from_vanishing():
    generator = torch.Generator().manual_seed(0)
    identical_rows = torch.randn(1, 4, generator=generator).repeat(10, 1)
    assert grad_mu_ratio(identical_rows) == pytest.approx(0.0, abs=1e-12)
    small_but_diverse = 1e-9 * torch.randn(10, 4, generator=generator)
    assert grad_norm(small_but_diverse) < 1e-7 and grad_mu_ratio(small_but_diverse) > 0.5
    assert grad_mu_ratio(torch.zeros(3, 2)) == 0.0


def test_grad_norm_and_mu_ratio_against_hand_and_numpy_values():
    assert grad_norm(torch.tensor([[3.0, 4.0]])) == pytest.approx(5.0)
    # centred [[1, 0], [-1, 0]]: mu = sqrt(2), ||G|| = 2
    assert grad_mu_ratio(torch.tensor([[2.0, 0.0], [0.0, 0.0]])) == pytest.approx(1 / math.sqrt(2))
    gradient = torch.randn(12, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    array = gradient.numpy()
    assert grad_norm(gradient) == pytest.approx(np.linalg.norm(array))
    assert grad_mu_ratio(gradient) == pytest.approx(np.linalg.norm(array - array.mean(0)) / np.linalg.norm(array))


def test_expansion_ratio():
    assert expansion_ratio([8.0, 4.0, 2.0]) == 4.0
    assert expansion_ratio([1.0, 0.0]) == float("inf")
    assert math.isnan(expansion_ratio([0.0, 0.0]))

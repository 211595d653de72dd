"""fathom.nn.dropout: F.dropout's distribution, with a cheaper mask on CPUs."""

from __future__ import annotations

import pytest
import torch

from fathom.nn.dropout import dropout


@pytest.mark.parametrize("p", [0.2, 0.6])
def test_keeps_each_entry_with_probability_one_minus_p_scaled_by_its_inverse(p):
    torch.manual_seed(0)
    x = torch.ones(400, 500)
    out = dropout(x, p)
    kept = out != 0
    assert float(kept.float().mean()) == pytest.approx(1 - p, abs=0.005)  # 200k Bernoulli draws: sd 0.0011
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / (1 - p)))
    assert float(out.mean()) == pytest.approx(1.0, abs=0.02)


def test_gradient_is_the_mask_over_one_minus_p():
    x = torch.randn(50, 20, requires_grad=True)
    out = dropout(x, 0.5)
    out.sum().backward()
    assert torch.equal(x.grad, (out.detach() != 0).float() * 2.0)


def test_identity_in_evaluation_or_at_zero_and_zero_at_one():
    x = torch.randn(10, 3)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))


def test_sparse_features_drop_their_stored_entries_at_the_same_rate():
    from fathom.graph import SparseFeatures

    torch.manual_seed(0)
    x = torch.ones(400, 500) * (torch.rand(400, 500) < 0.1)
    features = SparseFeatures(x)
    assert dropout(features, 0.5, training=False) is features
    out = dropout(features, 0.6).to_dense()
    kept = out != 0
    assert not kept[x == 0].any()  # zeros stay zero
    assert float(kept[x != 0].float().mean()) == pytest.approx(0.4, abs=0.01)  # ~20k draws: sd 0.0035
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.4))

"""Initializers: sample moments against the closed-form variances."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from fathom.init import glorot_, gnn_he_, kaiming_

FAN_OUT, FAN_IN = 512, 256  # weight shape [fan_out, fan_in]; non-square so swapped fans are caught
NUM = FAN_OUT * FAN_IN
# Sampling noise with NUM = 131072 iid entries of variance s2 (tolerances are 5 standard deviations):
# - sample variance of a normal sample: relative std sqrt(2 / NUM) ~ 0.0039 (kurtosis 3);
# - of a uniform sample: relative std sqrt((9/5 - 1) / NUM) ~ 0.0025 (kurtosis 9/5);
# - sample mean: std sqrt(s2 / NUM).
NORMAL_VAR_RTOL = 5 * math.sqrt(2 / NUM)
UNIFORM_VAR_RTOL = 5 * math.sqrt(0.8 / NUM)


def _weight(seed: int) -> tuple[torch.Tensor, torch.Generator]:
    return torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64), torch.Generator().manual_seed(seed)


def _assert_moments(weight: torch.Tensor, variance: float, var_rtol: float) -> None:
    assert weight.var().item() == pytest.approx(variance, rel=var_rtol)
    assert abs(weight.mean().item()) < 5 * math.sqrt(variance / NUM)


def _assert_normal_shape(weight: torch.Tensor, variance: float) -> None:
    """Fraction within one std is 0.6827 for a normal (0.577 for a uniform); binomial noise 5 sigma."""
    inside = (weight.abs() < math.sqrt(variance)).double().mean().item()
    p = math.erf(1 / math.sqrt(2))
    assert inside == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / NUM))


@pytest.mark.parametrize("perron_root", [1.0, 3.5, 0.6])
def test_gnn_he_variance(perron_root):
    weight, gen = _weight(0)
    out = gnn_he_(weight, perron_root, generator=gen)
    assert out is weight  # in place
    variance = 2.0 / (FAN_IN * perron_root**2)
    _assert_moments(weight, variance, NORMAL_VAR_RTOL)
    _assert_normal_shape(weight, variance)


def test_kaiming_variance():
    weight, gen = _weight(1)
    assert kaiming_(weight, generator=gen) is weight
    _assert_moments(weight, 2.0 / FAN_IN, NORMAL_VAR_RTOL)
    _assert_normal_shape(weight, 2.0 / FAN_IN)


def test_glorot_variance_and_bound():
    weight, gen = _weight(2)
    assert glorot_(weight, generator=gen) is weight
    bound = math.sqrt(6.0 / (FAN_IN + FAN_OUT))
    _assert_moments(weight, 2.0 / (FAN_IN + FAN_OUT), UNIFORM_VAR_RTOL)
    assert weight.abs().max().item() <= bound
    assert weight.abs().max().item() > 0.999 * bound  # fills the interval: P(max < 0.999 b) = 0.999^NUM
    # uniform, not normal: a quarter of the mass in each quarter of [-b, b]
    quarters = torch.histc(weight, bins=4, min=-bound, max=bound) / NUM
    torch.testing.assert_close(quarters, torch.full((4,), 0.25, dtype=torch.float64), atol=0.01, rtol=0)


def test_gnn_he_is_kaiming_divided_by_perron_root():
    """Same generator state: gnn_he_(lambda) = kaiming_ / lambda entry by entry; lambda = 1 is kaiming_."""
    he, gen = _weight(3)
    kaiming_(he, generator=gen)
    scaled, gen = _weight(3)
    gnn_he_(scaled, 3.5, generator=gen)
    torch.testing.assert_close(scaled, he / 3.5, rtol=1e-12, atol=0)
    unit, gen = _weight(3)
    gnn_he_(unit, 1.0, generator=gen)
    assert torch.equal(unit, he)


def test_initializers_work_on_parameters():
    """They run under no_grad, so an nn.Parameter (a leaf requiring grad) can be filled in place."""
    layer = nn.Linear(FAN_IN, FAN_OUT, bias=False)
    for init in (lambda w: gnn_he_(w, 2.0), kaiming_, glorot_):
        init(layer.weight)
        assert layer.weight.requires_grad and layer.weight.grad_fn is None


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_gnn_he_rejects_bad_perron_root(bad):
    with pytest.raises(ValueError, match="perron_root must be a positive finite number"):
        gnn_he_(torch.empty(4, 4), bad)


@pytest.mark.parametrize("init", [lambda w: gnn_he_(w, 2.0), kaiming_, glorot_], ids=["gnn_he", "kaiming", "glorot"])
def test_initializers_reject_non_matrix(init):
    with pytest.raises(ValueError, match=r"2-d weight \[fan_out, fan_in\], got shape \[3, 4, 5\]"):
        init(torch.empty(3, 4, 5))


def test_gnn_he_gain_scales_the_variance():
    torch.manual_seed(0)
    weight = gnn_he_(torch.empty(512, 256), perron_root=2.0, gain=1.0)
    assert weight.var().item() == pytest.approx(1 / (256 * 4.0), rel=5 * math.sqrt(2 / weight.numel()))
    with pytest.raises(ValueError, match="gain"):
        gnn_he_(torch.empty(3, 3), gain=0.0)

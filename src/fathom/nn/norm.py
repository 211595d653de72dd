"""Normalisations of a block: Lipschitz bounds (Park & Kim 2024) and PyG's baselines.

- ``weight``: before every forward, ``W <- W / max(1, ||W|| / c)`` (soft spectral
  normalisation): each layer's weight has norm at most ``c`` (default 0.999), with ``||W||`` the
  spectral norm (power iteration with a persistent vector) or the Frobenius norm (a cheap upper
  bound of it). Implemented as a ``torch.nn.utils.parametrize`` parametrization, so it is
  differentiable and applies to any layer with a ``lin.weight`` (or a weight of its own).
- ``layer``: the block output divided by the block's Lipschitz bound,
  ``Z' = (Z + beta A_a act(Z) W) / (1 + beta ||A_a||_2 ||W||_2)`` — for ``gcn``, where
  ``||A_a||_2 = 1``, the brief's ``(X + A X W) / (1 + ||W||_2)`` (see :class:`fathom.nn.DeepGNNBlock`).
  ``||W||_2`` is computed exactly on every forward (:func:`spectral_norm`), not estimated: a
  persistent power iteration approaches it from below, and right after an optimizer step that
  moves the top singular direction it can fall far short, so the block would not be 1-Lipschitz.
- ``pairnorm`` and ``batchnorm``: PyG's baselines (Zhao & Akoglu 2020; Ioffe & Szegedy 2015),
  applied to each block's branch output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch_geometric.nn import BatchNorm, PairNorm

from ..config import NORM_BOUNDS


def spectral_norm(weight: Tensor) -> Tensor:
    """``||W||_2``, the largest singular value, from LAPACK's singular values (exact to rounding).

    Differentiable: ``d||W||_2 / dW = u_1 v_1^T``. It costs one SVD of the (width x width) weight,
    about one ``N x width`` feature product on a Planetoid graph, per block and forward.
    """
    return torch.linalg.matrix_norm(weight, ord=2)


class SpectralNormEstimate(nn.Module):
    """``||W||_2`` by power iteration with a persistent vector (Miyato et al. 2018).

    Each call refines the stored right singular vector with ``iterations`` steps (without
    gradient) and returns ``u^T W v``, differentiable in ``W``. The estimate approaches
    ``||W||_2`` from below as the vector converges across calls.
    """

    def __init__(self, in_features: int, iterations: int = 1) -> None:
        super().__init__()
        self.iterations = iterations
        self.register_buffer("v", F.normalize(torch.randn(in_features), dim=0))

    def forward(self, weight: Tensor) -> Tensor:
        with torch.no_grad():
            v = self.v.to(weight.dtype)
            for _ in range(self.iterations):
                w_v = weight @ v
                if not bool(w_v.any()):  # W v = 0 (e.g. a zero-initialised weight): keep v as it is
                    break
                v = F.normalize(weight.t() @ F.normalize(w_v, dim=0), dim=0)
            self.v.copy_(v)
        u = F.normalize(weight @ v, dim=0).detach()
        return u @ weight @ v.detach()

    @torch.no_grad()
    def converge(self, weight: Tensor, steps: int = 200) -> None:
        """Run enough power-iteration steps for the stored vector to settle (after re-initialising W)."""
        iterations, self.iterations = self.iterations, steps
        self(weight)
        self.iterations = iterations


class WeightBound(nn.Module):
    """The parametrization ``W -> W / max(1, ||W|| / c)``: ``||W|| <= c`` after it."""

    def __init__(self, in_features: int, c: float = 0.999, bound: str = "spectral") -> None:
        super().__init__()
        if bound not in NORM_BOUNDS:
            raise ValueError(f"norm_bound must be one of {', '.join(NORM_BOUNDS)}; got {bound!r}")
        if not c > 0:
            raise ValueError(f"the weight bound c must be positive; got {c}")
        self.c = float(c)
        self.bound = bound
        self.spectral = SpectralNormEstimate(in_features) if bound == "spectral" else None

    def norm(self, weight: Tensor) -> Tensor:
        return self.spectral(weight) if self.spectral is not None else torch.linalg.matrix_norm(weight)

    def forward(self, weight: Tensor) -> Tensor:
        return weight / torch.clamp(self.norm(weight) / self.c, min=1.0)


def bound_weight_(module: nn.Module, c: float = 0.999, bound: str = "spectral") -> nn.Module:
    """Register :class:`WeightBound` on ``module.lin.weight`` (a PyG conv) or ``module.weight``.

    Returns ``module``. Re-initialise through :func:`raw_weight`, the unconstrained tensor.
    """
    target = module.lin if hasattr(module, "lin") and hasattr(module.lin, "weight") else module
    if not isinstance(getattr(target, "weight", None), Tensor) or target.weight.dim() != 2:
        raise ValueError(f"{type(module).__name__} has no 2-d lin.weight or weight to bound")
    parametrize.register_parametrization(target, "weight", WeightBound(target.weight.size(1), c, bound))
    return module


def raw_weight(linear: nn.Module) -> Tensor:
    """The stored (unconstrained) weight of ``linear``, parametrized or not: what initializers fill."""
    if parametrize.is_parametrized(linear, "weight"):
        return linear.parametrizations.weight.original
    return linear.weight


@torch.no_grad()
def settle_weight_bound_(linear: nn.Module) -> None:
    """After re-initialising a bounded weight, converge its spectral-norm vector (no-op otherwise)."""
    if parametrize.is_parametrized(linear, "weight"):
        for parametrization in linear.parametrizations.weight:
            if isinstance(parametrization, WeightBound) and parametrization.spectral is not None:
                parametrization.spectral.converge(linear.parametrizations.weight.original)


class _NodeNorm(nn.Module):
    """Calls a PyG norm with the node features only (one graph, full batch)."""

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.norm = norm

    def reset_parameters(self) -> None:
        if hasattr(self.norm, "reset_parameters"):
            self.norm.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x)


def make_norm(kind: str, width: int) -> nn.Module:
    """The module applied to each branch output for ``ModelConfig.norm`` (identity for the
    Lipschitz norms, which act on the weight or on the whole block instead)."""
    if kind in ("none", "weight", "layer"):
        return nn.Identity()
    if kind == "pairnorm":
        return _NodeNorm(PairNorm())
    if kind == "batchnorm":
        return _NodeNorm(BatchNorm(width))
    raise ValueError(f"norm must be one of none, weight, layer, pairnorm, batchnorm; got {kind!r}")

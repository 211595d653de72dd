"""Normalisations of a block: Lipschitz bounds (Park & Kim 2024) and PyG's baselines.

- ``weight``: before every forward, ``W <- W / max(1, ||W|| / c)``: each layer's weight has norm
  at most ``c`` (default 0.999), with ``||W||`` the Frobenius norm (what the authors' code runs) or
  the spectral norm (power iteration with a persistent vector). For a weight of ``H`` stacked heads
  (GAT), ``||W||`` is the mean of the heads' norms, ``(1/H) sum_h ||W_h||``, and every head is
  divided by the same factor, as in the authors' GAT. Implemented as a ``torch.nn.utils.parametrize``
  parametrization, so it is differentiable and applies to any layer with a ``lin.weight`` (or a
  weight of its own).
- ``layer``: the block output divided by the block's Lipschitz bound,
  ``Z' = (Z + beta A_a act(Z) W) / (1 + beta Lip(act) ||A_a||_2 ||W||_2)``, with ``Lip(act) = 1``
  for relu (1.1289 for GELU); the same bound holds for the post-activation branch
  ``act(A_a Z W)``. For ``gcn`` and relu, where ``||A_a||_2 = 1``, it is the brief's
  ``(X + A X W) / (1 + ||W||_2)`` (see :class:`fathom.nn.DeepGNNBlock`).
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
    """``||W||_2`` by power iteration with a persistent vector (Miyato et al. 2018); for ``heads``
    stacked heads (rows ``h*out`` to ``(h+1)*out``), the mean of the heads' estimates.

    Each call refines the stored right singular vector(s) with ``iterations`` steps (without
    gradient) and returns ``u^T W v``, differentiable in ``W``. The estimate approaches
    ``||W||_2`` from below as the vector converges across calls.
    """

    def __init__(self, in_features: int, iterations: int = 1, heads: int = 1) -> None:
        super().__init__()
        self.iterations = iterations
        self.heads = heads
        v = F.normalize(torch.randn(heads, in_features), dim=1)
        self.register_buffer("v", v[0] if heads == 1 else v)

    def forward(self, weight: Tensor) -> Tensor:
        w = weight.view(self.heads, -1, weight.size(1))  # [H, out, in]
        with torch.no_grad():
            v = self.v.to(weight.dtype).view(self.heads, -1)
            for _ in range(self.iterations):
                w_v = torch.einsum("hoi,hi->ho", w, v)
                step = F.normalize(torch.einsum("hoi,ho->hi", w, F.normalize(w_v, dim=1)), dim=1)
                v = torch.where(w_v.any(dim=1, keepdim=True), step, v)  # W_h v = 0 (a zeroed weight): keep v
            self.v.copy_(v.view_as(self.v))
        u = F.normalize(torch.einsum("hoi,hi->ho", w, v), dim=1).detach()
        return torch.einsum("ho,hoi,hi->h", u, w, v.detach()).mean()

    @torch.no_grad()
    def converge(self, weight: Tensor, steps: int = 200) -> None:
        """Run enough power-iteration steps for the stored vector to settle (after re-initialising W)."""
        iterations, self.iterations = self.iterations, steps
        self(weight)
        self.iterations = iterations


class WeightBound(nn.Module):
    """The parametrization ``W -> W / max(1, ||W|| / c)``: ``||W|| <= c`` after it; with ``heads``
    stacked heads ``W_h``, ``||W|| = (1/H) sum_h ||W_h||``."""

    def __init__(self, in_features: int, c: float = 0.999, bound: str = "frobenius", heads: int = 1) -> None:
        super().__init__()
        if bound not in NORM_BOUNDS:
            raise ValueError(f"norm_bound must be one of {', '.join(NORM_BOUNDS)}; got {bound!r}")
        if not c > 0:
            raise ValueError(f"the weight bound c must be positive; got {c}")
        self.c = float(c)
        self.bound = bound
        self.heads = int(heads)
        self.spectral = SpectralNormEstimate(in_features, heads=self.heads) if bound == "spectral" else None

    def norm(self, weight: Tensor) -> Tensor:
        if self.spectral is not None:
            return self.spectral(weight)
        return torch.linalg.matrix_norm(weight.view(self.heads, -1, weight.size(1))).mean()

    def forward(self, weight: Tensor) -> Tensor:
        return weight / torch.clamp(self.norm(weight) / self.c, min=1.0)


def bound_weight_(module: nn.Module, c: float = 0.999, bound: str = "frobenius") -> nn.Module:
    """Register :class:`WeightBound` on ``module.lin.weight`` (a PyG conv) or ``module.weight``; a
    module with ``heads`` (GATConv) is bounded by the mean of its heads' norms.

    Returns ``module``. Re-initialise through :func:`raw_weight`, the unconstrained tensor.
    """
    target = module.lin if hasattr(module, "lin") and hasattr(module.lin, "weight") else module
    if not isinstance(getattr(target, "weight", None), Tensor) or target.weight.dim() != 2:
        raise ValueError(f"{type(module).__name__} has no 2-d lin.weight or weight to bound")
    heads = int(getattr(module, "heads", 1))
    parametrize.register_parametrization(target, "weight", WeightBound(target.weight.size(1), c, bound, heads))
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
    if kind == "batchnorm":  # a one-node graph has no batch statistics: its running ones are used
        return _NodeNorm(BatchNorm(width, allow_single_element=True))
    raise ValueError(f"norm must be one of none, weight, layer, pairnorm, batchnorm; got {kind!r}")

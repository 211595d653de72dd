"""Gradient metrics: node gradients ``G_k = dL/dX_k`` (rows are nodes), Park & Kim (2024).

``mu(G_k)`` measures how different the nodes' gradients are; dividing by ``||G_k||_F`` separates
gradient *oversmoothing* (the ratio falls towards 0: every node gets the same gradient) from
plain vanishing gradients (the norm falls, the ratio need not). In a linear GCN,
``G_k = A^T G_(k+1) W_k^T``, so ``mu`` contracts by the operator's second eigenvalue per layer;
residual blocks add ``G_(k+1)`` and the norm can expand instead.
"""

from __future__ import annotations

from torch import Tensor

from .smoothing import mu


def grad_norm(gradient: Tensor) -> float:
    """``||G||_F``."""
    return float(gradient.double().norm())


def grad_mu(gradient: Tensor, direction: Tensor | None = None) -> float:
    """``mu(G) = ||G - v v^T G||_F`` (see :func:`fathom.diagnostics.smoothing.mu`)."""
    return mu(gradient, direction)


def grad_mu_ratio(gradient: Tensor, direction: Tensor | None = None) -> float:
    """``mu(G) / ||G||_F`` in ``[0, 1]``: 0 when all node gradients are equal (0 for ``G = 0``)."""
    norm = grad_norm(gradient)
    return grad_mu(gradient, direction) / norm if norm > 0 else 0.0


def expansion_ratio(grad_norms: list[float]) -> float:
    """``||G_1|| / ||G_L||``: above 1 the gradient grows from the last block back to the first
    (``inf`` if only ``G_L`` is zero, NaN if both are: e.g. after the signal underflowed)."""
    if grad_norms[-1] > 0:
        return grad_norms[0] / grad_norms[-1]
    return float("inf") if grad_norms[0] > 0 else float("nan")

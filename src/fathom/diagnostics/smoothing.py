"""Feature metrics of a node-feature matrix ``X`` (``N x d``, rows are nodes).

Pure functions of ``X`` (and, where the metric needs one, a graph operator); they never run
inside a layer. Used for features ``X_k`` and, in :mod:`.gradients`, for node gradients ``G_k``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..graph import AggregationOperator


def second_moment(x: Tensor) -> float:
    """``M(X) = ||X||_F^2 / (N d)``: the mean squared entry (DeZoort & Hanin's scale ``M(l)``)."""
    return float(x.double().pow(2).mean())


def dominant_direction(operator: AggregationOperator) -> Tensor:
    """Unit vector spanning the operator's dominant eigenvector, the direction oversmoothing tends to.

    ``mean``: the constant vector (``A 1 = 1``); ``gcn``: ``D^1/2 1`` (``A D^1/2 1 = D^1/2 1``);
    ``sum``: the Perron vector from power iteration. Residual mixing ``A_a`` keeps the vector.
    """
    if operator.kind == "mean":
        vector = torch.ones(operator.num_nodes, dtype=torch.float64)
    elif operator.kind == "gcn":
        vector = operator.degree().sqrt()
    else:
        vector = operator.perron_vector()
    return vector / vector.norm()


def mu(x: Tensor, direction: Tensor | None = None) -> float:
    """``mu(X) = ||X - v v^T X||_F``: the distance of ``X`` from rank-one features along ``v``.

    With ``direction=None``, ``v = 1/sqrt(N)`` and this is ``||X - 1 mean(X)||_F`` (Park & Kim
    2024). Pass :func:`dominant_direction` of a ``gcn`` operator to measure the distance from the
    subspace that operator actually contracts towards.
    """
    x = x.double()
    if direction is None:
        return float((x - x.mean(dim=0, keepdim=True)).norm())
    v = direction.double().to(x.device).reshape(-1, 1)
    v = v / v.norm()
    return float((x - v @ (v.t() @ x)).norm())


def dirichlet_energy(x: Tensor, operator: AggregationOperator) -> float:
    """``E(X) = trace(X^T (I - A_sym) X)`` with ``A_sym = D^-1/2 (Adj + I) D^-1/2``.

    Equals ``1/2 sum_ij (Adj + I)[i,j] ||x_i/sqrt(d_i) - x_j/sqrt(d_j)||^2`` on undirected graphs,
    and vanishes exactly on ``X = D^1/2 1 c^T`` (the eigenvector of eigenvalue 1).
    Only the graph of ``operator`` is used: the normalised Laplacian is built from its edges.
    """
    laplacian_operator = operator.gcn_operator()
    x = x.double().to(laplacian_operator.matrix.device)
    return float((x * x).sum() - (x * laplacian_operator.propagate(x)).sum())


def mean_cosine(x: Tensor) -> float:
    """Mean pairwise cosine similarity ``1/(N(N-1)) sum_(a != b) <x_a, x_b> / (|x_a| |x_b|)``.

    Computed exactly in ``O(N d)``: with unit rows ``u_a``, ``sum_(a != b) <u_a, u_b> =
    ||sum_a u_a||^2 - sum_a ||u_a||^2``. A zero row has cosine 0 with every other row.
    """
    n = x.size(0)
    if n < 2:
        raise ValueError("mean pairwise cosine needs at least two nodes")
    x = x.double()
    norms = x.norm(dim=1, keepdim=True)
    units = torch.where(norms > 0, x / norms.clamp_min(1e-300), torch.zeros_like(x))
    total = units.sum(dim=0)
    return float((total @ total - units.pow(2).sum()) / (n * (n - 1)))


def mad(x: Tensor) -> float:
    """Mean average distance (Chen et al. 2020): the mean cosine distance over ordered node pairs,
    ``1/(N(N-1)) sum_(a != b) (1 - cos(x_a, x_b)) = 1 - mean_cosine(x)``.

    0 when every node's features point the same way (oversmoothed), 1 for orthogonal features.
    Chen et al.'s code averages each node's row over its non-zero distances; distances between
    distinct nodes are not exactly zero in floating point, so that is the mean over pairs here.
    A zero row has distance 1 to every other row, as its cosine is 0.
    """
    return 1.0 - mean_cosine(x)


def effective_rank(x: Tensor) -> float:
    """``exp(H(p))`` with ``p_i = s_i / sum s`` the normalised singular values (Roy & Vetterli 2007).

    Between 1 (rank one) and ``min(N, d)`` (all singular values equal); 0 for ``X = 0``; NaN when
    ``X`` holds a non-finite entry (an overflowed signal has no spectrum).
    """
    if not bool(torch.isfinite(x).all()):
        return math.nan
    singular = torch.linalg.svdvals(x.double())
    total = singular.sum()
    if total <= 0:
        return 0.0
    p = singular / total
    p = p[p > 0]
    return math.exp(float(-(p * p.log()).sum()))

"""The graph's side of Theorem 1 of Xu et al. (2021): sigma_min, the optimal loss L*, the label spread.

Xu, Zhang, Jegelka, Kawaguchi, "Optimization of Graph Neural Networks: Implicit Acceleration by
Skip Connections and More Depth", ICML 2021. The paper writes nodes as columns; PyG stores
``data.x = X^T`` (nodes as rows), so the training-set design matrix of a depth-``H`` linear GNN is

    M_H = (S^H X^T)[I]  (n_bar x m_x)  =  (X (S^H)_(*I))^T,

with ``S`` the aggregation operator and ``I`` the labelled (training) nodes. With multiscale skip
connections every depth feeds the readout and the design matrix is ``G_H = [M_0, M_1, ..., M_H]``
(side by side). :class:`Spectrum` computes one matrix's SVD once; for targets ``Y_I`` (one-hot,
``n_bar x m_y``) its :meth:`Spectrum.summary` gives:

- ``sigma_min``: the smallest of the ``min(n_bar, m)`` singular values of ``M_H`` (or ``G_H``);
  Theorem 1's rate is ``4 lambda_T sigma_min^2``.
- ``L* = ||(I - P) Y_I||_F^2`` with ``P`` the projector onto the column space of ``M_H``: the optimal
  loss of the linear GNN (a least-squares residual), ``= ||Y||^2 - sum_(i <= r) ||u_i^T Y||^2``.
- the label spread: the fraction of ``||Y_I||_F^2`` along each left singular vector ``u_i``, and
  ``label_alignment = ||M^T Y||_F^2 / ||Y||_F^2 = sum_i sigma_i^2 e_i``: the rate at which the
  loss starts to fall through the readout when ``f ~ 0`` (labels along large singular directions
  train fast; noise labels spread evenly).

Rank: singular values ``<= tol = max(n_bar, m) * eps * sigma_max`` (numpy's ``matrix_rank`` rule)
count as zero, and so does an ``L*`` below ``||Y||^2 (max(n_bar, m) eps)^2`` (a rounding residual).
A matrix with rank ``< min(n_bar, m)`` is reported ``degenerate``: its ``sigma_min`` is zero to machine precision and Theorem 1 gives no rate with it (the proof's bound
still holds with the smallest *non-zero* singular value, ``sigma_min_nonzero``).

Skips never hurt: ``L*_(1:H) <= L*_H`` (more columns), every singular value of ``G_H`` is at least
the same-index one of ``M_H``, and when ``n_bar <= m_x`` (Planetoid's splits)
``sigma_min^2(G_H) = lambda_min(sum_l M_l M_l^T) >= sigma_min^2(M_H)``.

Matrices whose smaller side is at most ``EXACT_LIMIT`` get a dense SVD (LAPACK, exact to rounding);
larger ones iterative solvers (ARPACK for sigma_min/sigma_max, LSMR for L*), with ``method``
saying which.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..data import num_classes
from ..graph import AggregationOperator

if TYPE_CHECKING:
    from torch_geometric.data import Data

EXACT_LIMIT = 4000  # dense SVD when min(n_bar, m) is at most this
EXACT_METHOD = "exact (dense SVD, LAPACK)"
ITERATIVE_METHOD = "iterative (ARPACK svds for sigma_min/sigma_max, LSMR least squares for L*)"


@dataclass(frozen=True)
class SpectralSummary:
    """What Theorem 1 needs from one design matrix (``M_H`` or ``G_H``) and the targets."""

    sigma_min: float
    sigma_min_nonzero: float
    sigma_max: float
    rank: int | None
    optimal_loss: float
    target_energy: float  # ||Y_I||_F^2, the loss of f = 0
    label_alignment: float
    degenerate: bool
    tolerance: float
    method: str
    label_energy: list[float] = field(default_factory=list, repr=False)
    singular_values: list[float] = field(default_factory=list, repr=False)

    @property
    def rate(self) -> float:
        """``4 sigma_min^2``: Theorem 1's exponent per unit of ``lambda_T * T``."""
        return 4.0 * self.sigma_min ** 2

    def to_dict(self, spectrum: bool = False) -> dict[str, Any]:
        values = asdict(self)
        values["rate"] = self.rate
        if not spectrum:
            values.pop("label_energy")
            values.pop("singular_values")
        return values


def check_depth(depth: int) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1 (number of propagation layers H); got {depth!r}")
    return depth


def training_index(data: "Data", mask: Tensor | None = None) -> Tensor:
    """Indices of the labelled nodes ``I`` (``data.train_mask`` unless ``mask`` is given)."""
    mask = data.train_mask if mask is None else mask
    if mask is None or not bool(mask.any()):
        raise ValueError("the training mask selects no nodes: the linearized analysis needs labelled nodes")
    return mask.nonzero().squeeze(1)


def one_hot_targets(labels: Tensor, classes: int) -> Tensor:
    """``Y_I``: one-hot rows (``n_bar x m_y``, float64) of integer labels."""
    return F.one_hot(labels.long(), classes).double()


def propagated_features(data: "Data", depth: int, kind: str = "gcn", index: Tensor | None = None) -> list[Tensor]:
    """``[M_0, ..., M_H]`` with ``M_l = (S^l X^T)[I]``, float64, from the sparse operator ``S``.

    ``kind`` is the :class:`~fathom.graph.AggregationOperator` kind (``gcn``; ``sum`` is GIN's
    ``A + (1 + eps) I`` with ``eps = 0``). ``index`` defaults to the training nodes.
    """
    check_depth(depth)
    index = training_index(data) if index is None else index
    operator = AggregationOperator.from_data(data, kind, dtype=torch.float64)
    z = data.x.to(torch.float64)
    features = [z[index]]
    for _ in range(depth):
        z = operator.propagate(z)
        features.append(z[index])
    return features


def design_matrix(features: Sequence[Tensor], depth: int, skip: bool) -> np.ndarray:
    """``M_H`` (no skip) or ``G_H = [M_0, ..., M_H]`` (multiscale skips) as a numpy array."""
    check_depth(depth)
    if depth >= len(features):
        raise ValueError(f"depth {depth} needs features M_0..M_{depth}; only {len(features)} given")
    if skip:
        return torch.cat(list(features[: depth + 1]), dim=1).numpy()
    return features[depth].numpy()


class Spectrum:
    """The singular values (and, exactly, left singular vectors) of one design matrix, computed
    once and summarised against any number of target matrices (true and shuffled labels)."""

    def __init__(self, matrix: np.ndarray, exact_limit: int = EXACT_LIMIT) -> None:
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or 0 in matrix.shape:
            raise ValueError(f"the design matrix must be a non-empty 2-d array; got shape {matrix.shape}")
        if not np.isfinite(matrix).all():
            raise ValueError("the design matrix has NaN or infinite entries (features or operator overflowed)")
        self.shape = matrix.shape
        self.exact = min(matrix.shape) <= exact_limit
        if self.exact:  # keep U and the singular values, not the (possibly wide) matrix
            self.matrix = None
            self.left, singular, _ = np.linalg.svd(matrix, full_matrices=False)
            self.singular_values = singular
            self.sigma_max, self.sigma_min = float(singular[0]), float(singular[-1])
        else:
            from scipy.sparse.linalg import svds

            self.matrix = matrix
            start = np.ones(min(matrix.shape))  # deterministic ARPACK start vector
            self.sigma_max = float(svds(matrix, k=1, which="LM", v0=start, return_singular_vectors=False)[0])
            self.sigma_min = float(svds(matrix, k=1, which="SM", v0=start, return_singular_vectors=False,
                                        maxiter=20000)[0])
        self.tolerance = float(max(matrix.shape) * np.finfo(np.float64).eps * self.sigma_max)
        self.degenerate = bool(self.sigma_min <= self.tolerance)
        self.rank = int((self.singular_values > self.tolerance).sum()) if self.exact else None
        self.method = EXACT_METHOD if self.exact else ITERATIVE_METHOD

    def sigma_min_nonzero(self) -> float:
        """The smallest singular value above the rank tolerance (NaN if unknown: iterative, degenerate)."""
        if self.exact:
            return float(self.singular_values[self.rank - 1]) if self.rank else 0.0
        return float("nan") if self.degenerate else self.sigma_min

    def summary(self, targets: np.ndarray) -> SpectralSummary:
        """L*, the label spread and sigma_min against ``targets`` (``n_bar x m_y``)."""
        targets = np.asarray(targets, dtype=np.float64)
        if targets.ndim != 2 or targets.shape[0] != self.shape[0]:
            raise ValueError(f"targets {targets.shape} must be 2-d with {self.shape[0]} rows like the matrix")
        energy = float((targets ** 2).sum())
        spread: list[float] = []
        if self.exact:
            coefficients = self.left.T @ targets  # u_i^T Y
            along = (coefficients ** 2).sum(axis=1)
            span = self.left[:, : self.rank]
            optimal = float(((targets - span @ coefficients[: self.rank]) ** 2).sum())  # ||(I - U_r U_r^T) Y||^2
            if optimal <= energy * (max(self.shape) * np.finfo(np.float64).eps) ** 2:
                optimal = 0.0  # a residual of rounding size (~1e-28 on Cora): Y lies in the column space
            spread = (along / energy if energy > 0 else along).tolist()
            alignment = float((self.singular_values ** 2 * along).sum())  # ||M^T Y||^2
        else:
            optimal = self._least_squares_residual(targets)
            alignment = float(((self.matrix.T @ targets) ** 2).sum())
        alignment = alignment / energy if energy > 0 else 0.0
        return SpectralSummary(
            sigma_min=self.sigma_min, sigma_min_nonzero=self.sigma_min_nonzero(), sigma_max=self.sigma_max,
            rank=self.rank, optimal_loss=optimal, target_energy=energy, label_alignment=alignment,
            degenerate=self.degenerate, tolerance=self.tolerance, method=self.method, label_energy=spread,
            singular_values=self.singular_values.tolist() if self.exact else [])

    def _least_squares_residual(self, targets: np.ndarray) -> float:
        from scipy.sparse.linalg import lsmr

        residual = 0.0
        for column in targets.T:
            solution = lsmr(self.matrix, column, atol=1e-12, btol=1e-12, maxiter=10 * min(self.matrix.shape))[0]
            residual += float(((column - self.matrix @ solution) ** 2).sum())
        return residual


def spectral_summary(matrix: np.ndarray, targets: np.ndarray, exact_limit: int = EXACT_LIMIT) -> SpectralSummary:
    """sigma_min, rank, L* and the label spread of ``matrix`` (``n_bar x m``) against ``targets``."""
    return Spectrum(matrix, exact_limit).summary(targets)


def graph_quantities(data: "Data", depth: int, skip: bool, kind: str = "gcn", labels: Tensor | None = None,
                     exact_limit: int = EXACT_LIMIT) -> SpectralSummary:
    """Theorem 1's graph quantities for a depth-``H`` linear GNN on ``data``'s training nodes.

    ``sigma_min`` of ``M_H = (X (S^H)_(*I))^T`` (``skip=False``) or of ``G_H = [M_0..M_H]``
    (``skip=True``), the optimal loss ``L*_H`` (or ``L*_(1:H)``) for one-hot targets of ``labels``
    (default ``data.y`` of the training nodes) and the label spread. See the module docstring.
    """
    index = training_index(data)
    features = propagated_features(data, depth, kind, index)
    labels = data.y[index] if labels is None else labels
    targets = one_hot_targets(labels, num_classes(data)).numpy()
    return spectral_summary(design_matrix(features, depth, skip), targets, exact_limit)


def depth_profile(data: "Data", max_depth: int, kind: str = "gcn",
                  exact_limit: int = EXACT_LIMIT) -> dict[str, list[SpectralSummary]]:
    """:func:`graph_quantities` at depths ``1..max_depth``, ``{"noskip": [...], "skip": [...]}``.

    The features ``M_0..M_H`` are propagated once and shared by every depth.
    """
    check_depth(max_depth)
    index = training_index(data)
    features = propagated_features(data, max_depth, kind, index)
    targets = one_hot_targets(data.y[index], num_classes(data)).numpy()
    return {
        name: [spectral_summary(design_matrix(features, depth, skip), targets, exact_limit)
               for depth in range(1, max_depth + 1)]
        for name, skip in (("noskip", False), ("skip", True))
    }


def profile_record(profile: dict[str, list[SpectralSummary]]) -> dict[str, Any]:
    """A :func:`depth_profile` as JSON-ready lists aligned with ``depth``: every summary field as
    ``{"noskip": [...], "skip": [...]}`` (the per-singular-vector spectra left out)."""
    depths = list(range(1, len(profile["noskip"]) + 1))
    fields = profile["noskip"][0].to_dict().keys()
    return {"depth": depths, **{name: {variant: [summary.to_dict()[name] for summary in summaries]
                                       for variant, summaries in profile.items()} for name in fields}}

"""Aggregation operators: the fixed N x N matrix every Fathom layer propagates with.

For a graph with adjacency ``Adj`` (``Adj[i, j] = 1`` when an edge ``j -> i`` exists, PyG's
``source_to_target`` flow) and ``D = diag(rowsum(Adj + I))``:

- ``gcn``:  ``A = D^-1/2 (Adj + I) D^-1/2``
- ``mean``: ``A = D^-1 (Adj + I)``
- ``sum``:  ``A = Adj + I``

and the residual aggregation operator of DeZoort & Hanin (2023) is
``A_a = (1 - a) A + a I`` for ``a`` in ``[0, 1]``.

Disconnected graphs (``component_scaling="perron"``): ``A_a`` is block-diagonal over the connected
components ``c``, and ``gnn_he``'s ``C_W = 2 / lambda_1(A_a)^2`` keeps the scale of order one only
in the components whose Perron root ``lambda_c`` equals the graph's ``lambda_1``. Once a
component's features are correlated its squared scale changes by ``C_W lambda_c^2 / 2 =
(lambda_c / lambda_1)^2`` per layer, so under ``sum`` aggregation a small component of Cora
(``lambda_c`` down to 1 for an isolated node, against 15.4) vanishes within a few layers. A shared
``W`` cannot have a variance per component; instead the option scales each component's block by
``s_c = lambda_1(A_a) / lambda_c(A_a)``, so that every block has the Perron root ``lambda_1(A_a)``
and the same ``C_W`` is right for all of them. The component holding ``lambda_1`` (and every
connected graph) is left as it is. For ``gcn`` and ``mean`` every component already has
``lambda_c = 1``, so the option changes nothing there.

``component_scaling="unit"`` divides every component's block by its own Perron root instead, so
that every block, and the operator, has Perron root 1. A batch of many graphs (graph
classification) needs this fixed target: its largest root changes from batch to batch while the
weights, initialised once with ``C_W = 2``, do not (see :mod:`fathom.tasks.graph`).

The operator is built once per graph (normalised once, stored as CSR together with its
transpose) and shared by every layer; layers never re-normalise.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    from torch_geometric.data import Data

AGGREGATIONS = ("gcn", "mean", "sum")
DENSE_COMPONENT_LIMIT = 512  # components up to this size get their Perron root from a dense eigensolver
COMPONENT_SCALINGS = ("none", "perron", "unit")  # see AggregationOperator: per-component Perron-root scaling


def validate_edge_index(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Check that ``edge_index`` is a ``[2, E]`` integer tensor of node ids below ``num_nodes``.

    Returns it as ``torch.long``. Raises ``ValueError``/``TypeError`` naming the problem.
    """
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"edge_index must be a torch.Tensor, got {type(edge_index).__name__}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape [2, num_edges], got {list(edge_index.shape)}")
    if edge_index.is_floating_point() or edge_index.is_complex() or edge_index.dtype == torch.bool:
        raise TypeError(f"edge_index must hold integer node ids, got dtype {edge_index.dtype}")
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, int) or num_nodes <= 0:
        raise ValueError(f"the graph must have at least one node (num_nodes={num_nodes!r})")
    if edge_index.numel() > 0:
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0:
            raise ValueError(f"edge_index contains a negative node id ({low})")
        if high >= num_nodes:
            raise ValueError(
                f"edge_index refers to node {high} but the graph has only {num_nodes} nodes "
                f"(ids must lie in [0, {num_nodes - 1}])"
            )
    return edge_index.long()


def _csr(rows: Tensor, cols: Tensor, values: Tensor, n: int) -> Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        coo = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, (n, n))
        return coo.coalesce().to_sparse_csr()


def _largest_symmetric_eigenvalue(rows: Tensor, cols: Tensor, values: Tensor, n: int) -> float:
    """Largest eigenvalue of the symmetric ``n x n`` matrix with these entries (its Perron root when
    they are non-negative), by Lanczos (ARPACK), to machine precision."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import eigsh

    matrix = coo_matrix((values.numpy(), (rows.numpy(), cols.numpy())), shape=(n, n)).tocsr()
    if n < 3:  # ARPACK needs k < n - 1 Lanczos vectors to spare
        return float(np.linalg.eigvalsh(matrix.toarray()).max())
    return float(eigsh(matrix, k=1, which="LA", return_eigenvectors=False)[0])


class _Propagate(torch.autograd.Function):
    """``Y = A X`` with the backward ``dX = A^T dY`` using a precomputed transpose.

    Autograd's own backward of a CSR matmul transposes the matrix on every call, which costs
    about 20x the forward product; deep models propagate hundreds of times per step.
    """

    @staticmethod
    def forward(ctx, x: Tensor, matrix: Tensor, matrix_t: Tensor) -> Tensor:  # type: ignore[override]
        ctx.matrix_t = matrix_t
        return matrix @ x

    @staticmethod
    def backward(ctx, grad_output: Tensor):  # type: ignore[override]
        return ctx.matrix_t @ grad_output, None, None


def sparse_matmul(matrix: Tensor, matrix_t: Tensor, dense: Tensor) -> Tensor:
    """``matrix @ dense`` for a fixed sparse CSR ``matrix``, differentiable in ``dense`` through
    the precomputed transpose ``matrix_t``."""
    return _Propagate.apply(dense, matrix, matrix_t)


class SparseFeatures:
    """A fixed, mostly-zero node-feature matrix ``X`` (CSR with its transpose): ``X W`` costs
    ``O(nnz(X) d)`` instead of ``O(N m d)``. Cora's bag-of-words features are 1.3% non-zero.

    Stands in for ``x`` in :meth:`fathom.nn.DeepGNN.forward`.
    """

    def __init__(self, x: Tensor) -> None:
        if x.dim() != 2:
            raise ValueError(f"node features must be a 2-d [N, F] matrix; got shape {list(x.shape)}")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            self.matrix = x.to_sparse_csr()
            self.matrix_t = x.t().contiguous().to_sparse_csr()
        self.shape = x.shape
        self._transpose_order: Tensor | None = None

    def dropout(self, p: float, training: bool = True) -> "SparseFeatures":
        """``dropout(X)``: each non-zero kept with probability ``1-p`` and scaled by ``1/(1-p)``
        (identity when not ``training`` or ``p = 0``); the zeros stay zero, as in dense dropout."""
        if not training or p == 0:
            return self
        if self._transpose_order is None:  # matrix_t.values() == matrix.values()[order]
            rows = torch.repeat_interleave(torch.arange(self.shape[0], device=self.device),
                                           self.matrix.crow_indices().diff())
            self._transpose_order = torch.argsort(self.matrix.col_indices() * self.shape[0] + rows)
        values = torch.nn.functional.dropout(self.matrix.values(), p, True)
        dropped = object.__new__(SparseFeatures)
        dropped.shape, dropped._transpose_order = self.shape, self._transpose_order
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse (CSR tensor support is in beta|invariant checks)")
            dropped.matrix = torch.sparse_csr_tensor(self.matrix.crow_indices(), self.matrix.col_indices(),
                                                     values, self.shape)
            dropped.matrix_t = torch.sparse_csr_tensor(self.matrix_t.crow_indices(), self.matrix_t.col_indices(),
                                                       values[self._transpose_order], (self.shape[1], self.shape[0]))
        return dropped

    def size(self, dim: int) -> int:
        return self.shape[dim]

    @property
    def dtype(self) -> torch.dtype:
        return self.matrix.dtype

    @property
    def device(self) -> torch.device:
        return self.matrix.device

    def to_dense(self) -> Tensor:
        return self.matrix.to_dense()

    def linear(self, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """``X W^T + b`` for an ``nn.Linear``'s ``weight`` ``[out, F]`` and ``bias``."""
        out = sparse_matmul(self.matrix, self.matrix_t, weight.t())
        return out if bias is None else out + bias


def input_linear(layer: torch.nn.Linear, x: Tensor | SparseFeatures) -> Tensor:
    """``layer(x)``: a sparse product when ``x`` is :class:`SparseFeatures`."""
    return x.linear(layer.weight, layer.bias) if isinstance(x, SparseFeatures) else layer(x)


def pyg_input(x: Tensor | SparseFeatures) -> Tensor:
    """``x`` as PyG's layers take it: :class:`SparseFeatures` as its CSR tensor, which their
    ``Linear`` (``F.linear``) multiplies sparsely, autograd differentiating the weight."""
    return x.matrix if isinstance(x, SparseFeatures) else x


def density(x: Tensor) -> float:
    """Fraction of non-zero entries of ``x``."""
    return float((x != 0).sum()) / max(1, x.numel())


class AggregationOperator:
    """The residual aggregation operator ``A_a = (1 - a) A + a I`` of one graph.

    Args:
        edge_index: ``[2, E]`` edges ``j -> i`` (row 0 sources, row 1 targets). Self-loops in the
            input are dropped (the operator adds exactly one per node) and duplicate edges
            count once.
        num_nodes: number of nodes ``N``; inferred as ``max(edge_index) + 1`` when omitted.
        kind: ``"gcn"``, ``"mean"`` or ``"sum"`` (see the module docstring).
        residual: the residual-aggregation weight ``a`` in ``[0, 1]`` (``0`` gives ``A``).
        component_scaling: ``"none"``; ``"perron"``: scale each (weakly) connected component's
            block so that its Perron root equals the graph's; ``"unit"``: so that it equals 1
            (see the module docstring).
        dtype, device: of the stored sparse matrices.
    """

    def __init__(
        self,
        edge_index: Tensor,
        num_nodes: int | None = None,
        kind: str = "gcn",
        residual: float = 0.0,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        component_scaling: str = "none",
    ) -> None:
        if kind not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}; got {kind!r}")
        if component_scaling not in COMPONENT_SCALINGS:
            raise ValueError(f"component_scaling must be one of {', '.join(COMPONENT_SCALINGS)}; "
                             f"got {component_scaling!r}")
        residual = float(residual)
        if not (0.0 <= residual <= 1.0):
            raise ValueError(f"residual_aggregation a must lie in [0, 1]; got {residual}")
        if not isinstance(edge_index, Tensor):
            raise TypeError(f"edge_index must be a torch.Tensor, got {type(edge_index).__name__}")
        if num_nodes is None:
            if edge_index.numel() == 0:
                raise ValueError("num_nodes must be given for a graph without edges")
            num_nodes = int(edge_index.max()) + 1
        edge_index = validate_edge_index(edge_index, int(num_nodes))
        self.kind = kind
        self.residual = residual
        self.num_nodes = int(num_nodes)
        self.dtype = dtype
        self.device = torch.device(device) if device is not None else edge_index.device
        self._rows, self._cols, self._base_values = self._normalised_coo(edge_index.cpu())
        self._base_perron_root: float | None = None
        self.component_scaling = component_scaling
        self._components: tuple[Tensor, Tensor] | None = None
        self._build_matrices()

    @classmethod
    def from_data(cls, data: "Data", kind: str = "gcn", residual: float = 0.0, **kwargs) -> "AggregationOperator":
        """Build the operator of a PyG ``Data`` object (its ``edge_index`` and ``num_nodes``)."""
        return cls(data.edge_index, data.num_nodes, kind, residual, **kwargs)

    # --- construction -------------------------------------------------------------------

    def _normalised_coo(self, edge_index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Rows, columns and float64 values of ``A`` (before residual mixing), coalesced."""
        n = self.num_nodes
        src, dst = edge_index
        keep = src != dst
        rows, cols = dst[keep], src[keep]
        key = torch.unique(rows * n + cols)  # sorted, deduplicated
        loops = torch.arange(n)
        rows = torch.cat([key // n, loops])
        cols = torch.cat([key % n, loops])
        order = torch.argsort(rows * n + cols)
        rows, cols = rows[order], cols[order]
        values = torch.ones(rows.numel(), dtype=torch.float64)
        degree = torch.zeros(n, dtype=torch.float64).index_add_(0, rows, values)
        if self.kind == "gcn":
            inv_sqrt = degree.rsqrt()
            values = inv_sqrt[rows] * inv_sqrt[cols]
        elif self.kind == "mean":
            values = 1.0 / degree[rows]
        key, transposed_key = rows * n + cols, cols * n + rows
        order = torch.argsort(transposed_key)
        self.is_symmetric = bool(
            torch.equal(key, transposed_key[order]) and torch.allclose(values, values[order], rtol=1e-12, atol=0)
        )
        return rows, cols, values

    def _values(self) -> Tensor:
        """float64 values of ``A_a`` at ``(rows, cols)``, each component's block scaled if asked."""
        a = self.residual
        values = (1.0 - a) * self._base_values + a * (self._rows == self._cols).double()
        if self.component_scaling != "none" and self.kind == "sum":  # gcn, mean: every lambda_c = 1
            values = values * self.component_scales()[self._rows]
        return values

    def component_scales(self) -> Tensor:
        """Per node, the factor of its component's block: ``s_c = lambda_1(A_a) / lambda_c(A_a)``
        (``perron``; 1 in the component holding ``lambda_1``) or ``1 / lambda_c(A_a)`` (``unit``).
        float64. See the module docstring."""
        labels, roots = self.component_roots()
        a = self.residual
        if self.component_scaling == "unit":
            return (1.0 / ((1.0 - a) * roots + a))[labels]
        scales = self.perron_root() / ((1.0 - a) * roots + a)
        scales[roots >= roots.max() * (1 - 1e-6)] = 1.0  # the dominant component stays exactly as it is
        return scales[labels]

    def component_roots(self, tol: float = 1e-9, max_iter: int = 20000) -> tuple[Tensor, Tensor]:
        """``(labels, roots)``: each node's weakly connected component and each component's Perron
        root ``lambda_c(A)`` (no residual), the largest over the strongly connected components it
        holds (exact for small components; Collatz-Wielandt brackets of a power iteration for large ones, as in
        :meth:`perron_root`). Cached."""
        if self._components is None:
            from scipy.sparse.csgraph import connected_components

            pattern = self._pattern()
            count, weak = connected_components(pattern, directed=True, connection="weak")
            strong_count, strong = connected_components(pattern, directed=True, connection="strong")
            strong = torch.from_numpy(strong).long()
            lower, upper = self._block_roots(strong, strong_count, tol, max_iter)
            weak = torch.from_numpy(weak).long()
            owner = torch.zeros(strong_count, dtype=torch.long).scatter_(0, strong, weak)  # weak label of each
            roots = _per_component(0.5 * (lower + upper), owner, count, "amax")
            self._components = (weak, roots)
        return self._components

    def _block_roots(self, strong: Tensor, count: int, tol: float, max_iter: int) -> tuple[Tensor, Tensor]:
        """Lower and upper bounds on the Perron root of each strongly connected component's block of
        ``A``: exact (dense eigenvalues, both bounds equal) for blocks of up to
        :data:`DENSE_COMPONENT_LIMIT` nodes; for larger ones, Lanczos when ``A`` is symmetric (exact
        too), else Collatz-Wielandt brackets of a power iteration, which can crawl when a block's two
        leading eigenvalues nearly tie (a graph of two loosely joined clusters)."""
        inside = strong[self._rows] == strong[self._cols]
        rows, cols, values = self._rows[inside], self._cols[inside], self._base_values[inside]
        sizes = torch.bincount(strong, minlength=count)
        lower = torch.empty(count, dtype=torch.float64)
        upper = torch.empty(count, dtype=torch.float64)
        large = sizes > DENSE_COMPONENT_LIMIT
        local = torch.empty_like(strong)  # each node's position inside its component
        order = torch.argsort(strong, stable=True)
        local[order] = torch.arange(self.num_nodes) - (torch.cumsum(sizes, 0) - sizes)[strong[order]]
        single = rows == cols  # a one-node block's root is its diagonal entry (most blocks of a digraph)
        lonely = sizes[strong[rows[single]]] == 1
        lower[strong[rows[single]][lonely]] = values[single][lonely]
        upper[strong[rows[single]][lonely]] = values[single][lonely]
        small = ((~large) & (sizes > 1)).nonzero().flatten()
        if small.numel():
            roots = self._dense_block_roots(small, sizes, strong, local, rows, cols, values)
            lower[small], upper[small] = roots, roots
        if large.any() and self.is_symmetric:
            edge_order = torch.argsort(strong[rows], stable=True)
            edge_ends = torch.cumsum(torch.bincount(strong[rows], minlength=count), 0).tolist()
            for component in large.nonzero().flatten().tolist():
                edges = edge_order[(edge_ends[component - 1] if component else 0):edge_ends[component]]
                lower[component] = upper[component] = _largest_symmetric_eigenvalue(
                    local[rows[edges]], local[cols[edges]], values[edges], int(sizes[component]))
        elif large.any():
            blocks = _csr(rows, cols, values, self.num_nodes)
            x = torch.ones(self.num_nodes, 1, dtype=torch.float64)
            for _ in range(max_iter):
                y = blocks @ x
                ratios = (y / x).squeeze(1)
                low = _per_component(ratios, strong, count, "amin")
                high = _per_component(ratios, strong, count, "amax")
                x = y / _per_component(y.squeeze(1), strong, count, "amax")[strong].unsqueeze(1)
                if bool(((high - low) <= tol * high)[large].all()):
                    break
            else:
                warnings.warn(f"per-component power iteration did not reach tol={tol} in {max_iter} steps")
            lower[large], upper[large] = low[large], high[large]
        return lower, upper

    def _dense_block_roots(self, components: Tensor, sizes: Tensor, strong: Tensor, local: Tensor, rows: Tensor,
                           cols: Tensor, values: Tensor) -> Tensor:
        """Exact Perron roots of the blocks of ``components`` (``rows, cols, values``: the entries
        inside the strongly connected components), one batched dense eigensolve per size class
        ``(2^(k-1), 2^k]``: a block padded with zero rows and columns keeps its nonzero eigenvalues,
        and adds only zeros, which never exceed a nonnegative matrix's Perron root. Padding to the
        class's largest block stores at most four times the blocks' own entries."""
        classes = torch.ceil(torch.log2(sizes[components].double())).long()
        position = torch.full((sizes.numel(),), -1, dtype=torch.long)
        roots = torch.empty(components.numel(), dtype=torch.float64)
        for size_class in torch.unique(classes).tolist():
            members = (classes == size_class).nonzero().flatten()
            chosen = components[members]
            position[chosen] = torch.arange(chosen.numel())
            edges = (position[strong[rows]] >= 0).nonzero().flatten()
            width = int(sizes[chosen].max())
            blocks = torch.zeros(chosen.numel(), width, width, dtype=torch.float64)
            blocks[position[strong[rows[edges]]], local[rows[edges]], local[cols[edges]]] = values[edges]
            roots[members] = (torch.linalg.eigvalsh(blocks).amax(-1) if self.is_symmetric
                              else torch.linalg.eigvals(blocks).abs().amax(-1))
            position[chosen] = -1
        return roots

    def _pattern(self):
        from scipy.sparse import coo_matrix

        n = self.num_nodes
        return coo_matrix((torch.ones(self._rows.numel()).numpy(), (self._rows.numpy(), self._cols.numpy())),
                          shape=(n, n))

    def _build_matrices(self) -> None:
        n = self.num_nodes
        values = self._values().to(self.dtype)
        self.matrix = _csr(self._rows, self._cols, values, n).to(self.device)
        if self.is_symmetric:
            self.matrix_t = self.matrix
        else:
            self.matrix_t = _csr(self._cols, self._rows, values, n).to(self.device)

    def with_residual(self, residual: float) -> "AggregationOperator":
        """The same graph and kind with another residual-aggregation weight ``a``."""
        return self._clone(residual=float(residual))

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "AggregationOperator":
        """A copy whose sparse matrices live on ``device`` with ``dtype``."""
        return self._clone(device=torch.device(device) if device is not None else self.device,
                           dtype=dtype or self.dtype)

    def _clone(self, **changes) -> "AggregationOperator":
        if "residual" in changes and not (0.0 <= changes["residual"] <= 1.0):
            raise ValueError(f"residual_aggregation a must lie in [0, 1]; got {changes['residual']}")
        clone = object.__new__(AggregationOperator)
        clone.__dict__.update(self.__dict__)
        clone.__dict__.update(changes)
        if "residual" in changes:
            clone._spectral_norm = None
        clone._build_matrices()
        return clone

    # --- use ----------------------------------------------------------------------------

    def propagate(self, x: Tensor) -> Tensor:
        """``A_a x`` for node features ``x`` of shape ``[N]`` or ``[N, d]`` (differentiable)."""
        if x.size(0) != self.num_nodes:
            raise ValueError(
                f"features have {x.size(0)} rows but the operator's graph has {self.num_nodes} nodes"
            )
        if x.dtype != self.dtype or x.device != self.matrix.device:
            raise ValueError(
                f"features are {x.dtype} on {x.device} but the operator is {self.dtype} on "
                f"{self.matrix.device}: use operator.to(device, dtype)"
            )
        if x.dim() == 1:
            return self.propagate(x.unsqueeze(1)).squeeze(1)
        return sparse_matmul(self.matrix, self.matrix_t, x)

    __call__ = propagate

    def weighted_edges(self) -> tuple[Tensor, Tensor]:
        """``(edge_index, edge_weight)`` of ``A_a`` in PyG's layout (row 0 source, row 1 target)."""
        coo = self.matrix.to_sparse_coo().coalesce()
        target, source = coo.indices()
        return torch.stack([source, target]), coo.values()

    def to_dense(self) -> Tensor:
        """The dense ``N x N`` matrix ``A_a`` (for references and small graphs)."""
        return self.matrix.to_dense()

    def degree(self) -> Tensor:
        """``D``: row sums of ``Adj + I`` (in-degree plus one), float64 on the CPU."""
        ones = torch.ones(self._rows.numel(), dtype=torch.float64)
        return torch.zeros(self.num_nodes, dtype=torch.float64).index_add_(0, self._rows, ones)

    def gcn_operator(self) -> "AggregationOperator":
        """The symmetric-normalised ``D^-1/2 (Adj + I) D^-1/2`` of the same graph, float64, no residual."""
        if self.kind == "gcn" and self.residual == 0.0 and self.dtype == torch.float64:
            return self
        pattern = torch.stack([self._cols, self._rows])  # sources, targets of Adj + I
        return AggregationOperator(pattern, self.num_nodes, "gcn", 0.0, dtype=torch.float64,
                                   device=self.matrix.device)

    def spectral_norm(self, tol: float = 1e-9, max_iter: int = 20000) -> float:
        """``||A_a||_2``, the largest singular value (cached): the Lipschitz constant of propagation.

        Equal to the Perron root for symmetric operators; otherwise ``sqrt(lambda_max(A_a^T A_a))``
        by power iteration on ``A_a^T A_a`` (symmetric, so the Rayleigh quotient converges).
        """
        if getattr(self, "_spectral_norm", None) is None:
            if self.is_symmetric:
                self._spectral_norm = self.perron_root()
            else:
                values = self._values()
                matrix = _csr(self._rows, self._cols, values, self.num_nodes)
                matrix_t = _csr(self._cols, self._rows, values, self.num_nodes)
                x = torch.full((self.num_nodes, 1), self.num_nodes ** -0.5, dtype=torch.float64)
                estimate = math.nan
                for _ in range(max_iter):
                    y = matrix @ x
                    new_estimate = float(y.norm())  # ||A x|| with ||x|| = 1: sqrt of the Rayleigh quotient
                    z = matrix_t @ y
                    x = z / z.norm()
                    if abs(new_estimate - estimate) <= tol * new_estimate:
                        break
                    estimate = new_estimate
                self._spectral_norm = new_estimate
        return self._spectral_norm

    def perron_vector(self, tol: float = 1e-10, max_iter: int = 20000) -> Tensor:
        """Unit-norm non-negative dominant right eigenvector of ``A`` (power iteration, float64).

        Raises ``ValueError`` when power iteration does not converge to one: a defective
        ``lambda_1`` (directed graphs whose strongly connected components in series share it).
        """
        self.perron_root()
        root = self._base_perron_root
        if self.is_symmetric:
            return self._perron_vector.clone()
        matrix = _csr(self._rows, self._cols, self._base_values, self.num_nodes)
        x = torch.ones(self.num_nodes, 1, dtype=torch.float64)
        x /= x.norm()
        for _ in range(max_iter):
            y = matrix @ x
            y /= y.norm()
            converged = float((y - x).norm()) <= tol
            x = y
            if converged:
                break
        residual = float((matrix @ x - root * x).norm())
        if residual > 1e-6 * root:
            raise ValueError(f"no dominant eigenvector found: ||A v - lambda_1 v|| = {residual:.3g} after "
                             f"{max_iter} steps (a defective lambda_1: strongly connected components in "
                             "series that share it?)")
        return x.squeeze(1)

    @property
    def num_entries(self) -> int:
        """Stored non-zeros of ``A_a`` (edges without self-loops, plus ``N`` diagonal entries)."""
        return int(self._rows.numel())

    def perron_root(self, tol: float = 1e-7, max_iter: int = 20000) -> float:
        """Spectral radius ``lambda_1(A_a) = (1 - a) lambda_1(A) + a`` (1 with ``unit`` scaling).

        ``lambda_1(A)``, the Perron root (``A`` is non-negative with a positive diagonal), comes
        from power iteration on the sparse operator in float64 and is cached:

        - symmetric ``A``: the Rayleigh quotient, until it changes by less than ``tol`` (relative);
        - otherwise ``lambda_1(A)`` is the largest Perron root of the diagonal blocks of ``A``'s
          strongly connected components. Each block is irreducible with a positive diagonal, so
          power iteration on it converges geometrically, and the Collatz-Wielandt bounds
          ``min_i (Bx)_i/x_i <= lambda_1(B) <= max_i (Bx)_i/x_i`` certify the result: iteration
          stops once they agree to ``tol``.
        """
        if self.component_scaling == "unit" and self.kind == "sum":
            return 1.0  # every block scaled to root 1 (gcn, mean: lambda_1(A) = 1 already)
        if self._base_perron_root is None:
            self._base_perron_root = self._power_iteration(tol, max_iter)
        a = self.residual
        return (1.0 - a) * self._base_perron_root + a

    def _power_iteration(self, tol: float, max_iter: int) -> float:
        if self.is_symmetric:
            return self._symmetric_power_iteration(tol, max_iter)
        return self._component_power_iteration(tol, max_iter)

    def _symmetric_power_iteration(self, tol: float, max_iter: int) -> float:
        n = self.num_nodes
        matrix = _csr(self._rows, self._cols, self._base_values, n)
        x = torch.full((n, 1), 1.0 / math.sqrt(n), dtype=torch.float64)
        estimate = math.nan
        for _ in range(max_iter):
            y = matrix @ x
            new_estimate = float((x * y).sum())
            x = y / y.norm()
            if abs(new_estimate - estimate) <= tol * abs(new_estimate):
                break
            estimate = new_estimate
        else:
            warnings.warn(f"power iteration for the Perron root did not reach tol={tol} in {max_iter} steps")
        self._perron_vector = x.squeeze(1)
        return new_estimate

    def _component_power_iteration(self, tol: float, max_iter: int) -> float:
        from scipy.sparse.csgraph import connected_components

        n = self.num_nodes
        count, labels = connected_components(self._pattern(), directed=True, connection="strong")
        component = torch.from_numpy(labels).long()
        inside = component[self._rows] == component[self._cols]
        blocks = _csr(self._rows[inside], self._cols[inside], self._base_values[inside], n)

        def per_component(values: Tensor, reduce: str) -> Tensor:
            return _per_component(values, component, count, reduce)

        x = torch.ones(n, 1, dtype=torch.float64)  # stays positive: every block has a positive diagonal
        for _ in range(max_iter):
            y = blocks @ x
            ratios = (y / x).squeeze(1)
            lower = float(per_component(ratios, "amin").max())
            upper = float(per_component(ratios, "amax").max())
            x = y / per_component(y.squeeze(1), "amax")[component].unsqueeze(1)
            if upper - lower <= tol * upper:
                break
        else:
            warnings.warn(f"power iteration for the Perron root stopped at the bracket [{lower}, {upper}] "
                          f"after {max_iter} steps (tol={tol})")
        return 0.5 * (lower + upper)

    def __repr__(self) -> str:
        scaling = "" if self.component_scaling == "none" else f", component_scaling={self.component_scaling!r}"
        return (
            f"AggregationOperator(kind={self.kind!r}, residual={self.residual}{scaling}, "
            f"num_nodes={self.num_nodes}, nnz={self.num_entries}, dtype={self.dtype}, "
            f"device={self.matrix.device})"
        )


def _per_component(values: Tensor, component: Tensor, count: int, reduce: str) -> Tensor:
    """``reduce`` (``amin`` | ``amax``) of ``values`` over the nodes of each of ``count`` components."""
    start = values.new_full((count,), -math.inf if reduce == "amax" else math.inf)
    return start.scatter_reduce(0, component, values, reduce=reduce)


class OperatorCache:
    """The operator of the last ``edge_index`` seen, rebuilt only when the graph changes.

    Keyed by the identity of the ``edge_index`` tensor and the node count, like PyG's
    ``cached=True``; converted to the dtype and device of the features it is asked for.
    """

    def __init__(self, kind: str, residual: float, component_scaling: str = "none") -> None:
        self.kind = kind
        self.residual = float(residual)
        self.component_scaling = component_scaling
        self._key: tuple[Tensor, int] | None = None
        self._operator: AggregationOperator | None = None

    def get(self, edge_index: Tensor, x: Tensor) -> AggregationOperator:
        num_nodes = x.size(0)
        if self._operator is None or self._key is None or self._key[0] is not edge_index \
                or self._key[1] != num_nodes:
            self._operator = AggregationOperator(edge_index, num_nodes, self.kind, self.residual,
                                                 dtype=x.dtype, device=x.device,
                                                 component_scaling=self.component_scaling)
            self._key = (edge_index, num_nodes)
        elif self._operator.dtype != x.dtype or self._operator.matrix.device != x.device:
            self._operator = self._operator.to(x.device, x.dtype)
        return self._operator

    def clear(self) -> None:
        self._key, self._operator = None, None

    def __getstate__(self) -> dict:
        """Copies and pickles (``copy.deepcopy``, ``torch.save(model)``) leave the operator behind,
        to be rebuilt on first use: sparse CSR tensors cannot be deep-copied."""
        return {**self.__dict__, "_key": None, "_operator": None}

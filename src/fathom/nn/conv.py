"""Message passing with a fixed, pre-normalised aggregation operator: FathomConv, and PyG's GCN2Conv on it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GCN2Conv, MessagePassing

from ..config import ACTIVATIONS
from ..graph import AGGREGATIONS, AggregationOperator, OperatorCache
from ..init import glorot_


class FathomConv(MessagePassing):
    r"""The layer of DeZoort & Hanin (2023):

    .. math::
        Z' = A_a \, \sigma(Z) \, W, \qquad A_a = (1 - a) A + a I,

    with :math:`\sigma` the activation (``relu`` or ``identity``) and :math:`A` the ``gcn``,
    ``mean`` or ``sum`` operator of :mod:`fathom.graph`. The product is evaluated as
    :math:`A_a (\sigma(Z) W)` or :math:`(A_a \sigma(Z)) W`, whichever is cheaper for the widths.

    Args:
        in_channels, out_channels: widths of :math:`Z` and :math:`Z'`.
        aggregation: ``"gcn"``, ``"mean"`` or ``"sum"``.
        residual_aggregation: :math:`a \in [0, 1]`.
        activation: applied to the input, ``"relu"`` or ``"identity"``.
        bias: add a learnable bias after aggregation (off by default, as in the analysis).
        cached: keep the operator built for the last ``edge_index`` (transductive use).
        fast: propagate with the operator's CSR product (default) or, if ``False``, with PyG's
            ``MessagePassing.propagate`` over the operator's weighted edges (a reference path).

    Shapes: ``x`` is ``[N, in_channels]``, ``edge_index`` is ``[2, E]``; output ``[N, out_channels]``.
    Pass ``operator=`` to reuse one :class:`~fathom.graph.AggregationOperator` across layers.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        aggregation: str = "gcn",
        residual_aggregation: float = 0.0,
        activation: str = "relu",
        bias: bool = False,
        cached: bool = False,
        fast: bool = True,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}; got {aggregation!r}")
        if not 0.0 <= float(residual_aggregation) <= 1.0:
            raise ValueError(f"residual_aggregation a must lie in [0, 1]; got {residual_aggregation}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.aggregation = aggregation
        self.residual_aggregation = float(residual_aggregation)
        self.activation = activation
        self.cached = cached
        self.fast = fast
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self._cache = OperatorCache(aggregation, self.residual_aggregation)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights (PyG's ``GCNConv`` default) and a zero bias; models re-initialise."""
        super().reset_parameters()
        glorot_(self.lin.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._cache.clear()

    def operator_for(self, edge_index: Tensor, x: Tensor) -> AggregationOperator:
        """The operator of ``edge_index`` with ``x``'s dtype and device (kept if ``cached``)."""
        if not self.cached:
            self._cache.clear()
        return self._cache.get(edge_index, x)

    def forward(self, x: Tensor, edge_index: Tensor | None = None,
                operator: AggregationOperator | None = None) -> Tensor:
        if operator is None:
            if edge_index is None:
                raise ValueError("FathomConv needs an edge_index or an operator")
            operator = self.operator_for(edge_index, x)
        h = F.relu(x) if self.activation == "relu" else x
        if not self.fast:
            edges, weights = operator.weighted_edges()
            out = self.propagate(edges, x=self.lin(h), edge_weight=weights)
        elif self.out_channels <= self.in_channels:
            out = operator.propagate(self.lin(h))
        else:
            out = self.lin(operator.propagate(h))
        return out if self.bias is None else out + self.bias

    def message(self, x_j: Tensor, edge_weight: Tensor) -> Tensor:
        return edge_weight.view(-1, 1) * x_j

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"aggregation={self.aggregation}, a={self.residual_aggregation}, "
                f"activation={self.activation})")


class OperatorGCN2Conv(GCN2Conv):
    r"""PyG's ``GCN2Conv`` (Chen et al. 2020) aggregating with a Fathom operator :math:`A_a`:

    .. math::
        Z' = \big[(1-\alpha) A_a X + \alpha X_0\big]\big((1-\beta) I + \beta W\big),
        \qquad \beta = \ln(\theta / \ell + 1),

    called as ``conv(x, x_0, operator)``. The operator's product (:func:`fathom.graph.sparse_matmul`,
    with its precomputed transpose) replaces PyG's sparse product, whose backward converts the
    matrix to CSR and sorts it on every call (measured: a third of a 32-block step on Cora).
    Called with an ``edge_index`` (and ``edge_weight``) instead, it is PyG's ``GCN2Conv``.
    """

    def forward(self, x: Tensor, x_0: Tensor, operator: AggregationOperator | Tensor,  # type: ignore[override]
                edge_weight: Tensor | None = None) -> Tensor:
        if not isinstance(operator, AggregationOperator):
            return super().forward(x, x_0, operator, edge_weight)
        self._operator = operator
        try:
            return super().forward(x, x_0, operator.matrix)
        finally:
            self._operator = None

    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:  # type: ignore[override]
        return self._operator.propagate(x)

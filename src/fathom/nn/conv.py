"""Message passing with a fixed, pre-normalised aggregation operator: FathomConv, PyG's GCN2Conv and
GATConv on it, and the activations of the blocks with their gains and Lipschitz constants."""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCN2Conv, MessagePassing
from torch_geometric.nn.inits import glorot

from ..config import ACTIVATIONS, check_number
from ..graph import AGGREGATIONS, AggregationOperator, OperatorCache
from ..init import glorot_
from .residual import _mix_identity

# g with E[act(z)^2] = Var(z) / g for z ~ N(0, s^2): the gain gnn_he multiplies the variance by.
# ReLU 2 and the identity 1 at every s (homogeneous); leaky_relu(k) 2 / (1 + k^2) (activation_gain).
# GELU is not homogeneous: 1 / E[(z Phi(z))^2] at s = 1, by numerical integration; it runs from 4
# (s -> 0, GELU ~ z/2) to 2 (s -> inf, GELU ~ relu): 2.99 at s = 0.5, 2.07 at s = 2.
GELU_GAIN = 2.351715614073372
# After the aggregation (activation_position="post") GELU acts on A Z W, whose second moment is g
# times Z's: the second moment is kept when E[gelu(y)^2] = 1 for y ~ N(0, g), i.e. at the fixed
# point g = 1 / E[(z Phi(z))^2] at s^2 = g (numerically, 2.1551).
GELU_POST_GAIN = 2.1550570610921844
ACTIVATION_GAIN = {"relu": 2.0, "identity": 1.0, "gelu": GELU_GAIN}
# sup |act'|: GELU's derivative Phi(z) + z phi(z) peaks at z = sqrt(2): Phi(sqrt 2) + sqrt(2) phi(sqrt 2).
GELU_LIPSCHITZ = 1.128904145185155


def activation_gain(activation: str, negative_slope: float = 0.8, position: str = "pre") -> float:
    """``g`` with ``E[act(z)^2] = Var(z) / g`` for ``z ~ N(0, 1)`` (``position="pre"``), or for
    ``z ~ N(0, g)`` (``"post"``: the activation after the aggregation); they differ for GELU only
    (see ``ACTIVATION_GAIN``, ``GELU_POST_GAIN``)."""
    if activation == "leaky_relu":
        return 2.0 / (1.0 + negative_slope**2)
    if activation == "gelu" and position == "post":
        return GELU_POST_GAIN
    return ACTIVATION_GAIN[activation]


def activation_lipschitz(activation: str, negative_slope: float = 0.8) -> float:
    """``sup |act'|``: 1 for relu and the identity, ``max(1, s)`` for leaky_relu, 1.1289 for GELU."""
    if activation == "leaky_relu":
        return max(1.0, abs(negative_slope))
    return GELU_LIPSCHITZ if activation == "gelu" else 1.0


def activate(z: Tensor, activation: str, negative_slope: float = 0.8) -> Tensor:
    """``relu(z)``, ``z``, ``gelu(z) = z Phi(z)`` (exact, erf) or ``leaky_relu(z) = max(z, s z)`` (s <= 1)."""
    if activation == "relu":
        return F.relu(z)
    if activation == "gelu":
        return F.gelu(z)
    if activation == "leaky_relu":
        return F.leaky_relu(z, negative_slope)
    return z


class FathomConv(MessagePassing):
    r"""The layer of DeZoort & Hanin (2023):

    .. math::
        Z' = A_a \, \sigma(Z) \, W, \qquad A_a = (1 - a) A + a I,

    with :math:`\sigma` the activation (``relu``, ``identity``, ``gelu`` or ``leaky_relu``) and :math:`A` the ``gcn``,
    ``mean`` or ``sum`` operator of :mod:`fathom.graph`. The product is evaluated as
    :math:`A_a (\sigma(Z) W)` or :math:`(A_a \sigma(Z)) W`, whichever is cheaper for the widths.

    Args:
        in_channels, out_channels: widths of :math:`Z` and :math:`Z'`.
        aggregation: ``"gcn"``, ``"mean"`` or ``"sum"``.
        residual_aggregation: :math:`a \in [0, 1]`.
        activation: applied to the input: ``"relu"``, ``"identity"``, ``"gelu"`` or ``"leaky_relu"``.
        negative_slope: the slope ``s`` of ``leaky_relu``, ``max(z, s z)``.
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
        negative_slope: float = 0.8,
        bias: bool = False,
        cached: bool = False,
        fast: bool = True,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        check_number("in_channels", in_channels, 1, integer=True)
        check_number("out_channels", out_channels, 1, integer=True)
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
        self.negative_slope = float(negative_slope)
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
        h = activate(x, self.activation, self.negative_slope)
        if not self.fast:
            edges, weights = operator.weighted_edges()
            out = self.propagate(edges, x=self.lin(h), edge_weight=weights)
        elif self.out_channels <= self.in_channels:
            out = operator.propagate(self.lin(h))
        else:
            out = self.lin(operator.propagate(h))
        return out if self.bias is None else out + self.bias

    @property
    def gain(self) -> float:
        """The activation's gain ``g`` (:func:`activation_gain`), what ``gnn_he`` uses."""
        return activation_gain(self.activation, self.negative_slope)

    def message(self, x_j: Tensor, edge_weight: Tensor) -> Tensor:
        return edge_weight.view(-1, 1) * x_j

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"aggregation={self.aggregation}, a={self.residual_aggregation}, "
                f"activation={self.activation}"
                + (f"({self.negative_slope:g})" if self.activation == "leaky_relu" else "") + ")")


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


_EDGES: "weakref.WeakKeyDictionary[AggregationOperator, Tensor]" = weakref.WeakKeyDictionary()


def operator_edges(operator: AggregationOperator) -> Tensor:
    """``[2, E]`` edges (source, target) of the operator's pattern: the graph's edges, each once,
    and one self-loop per node (cached per operator)."""
    edges = _EDGES.get(operator)
    if edges is None:
        edges = _EDGES[operator] = operator.weighted_edges()[0]
    return edges


class OperatorGATConv(GATConv):
    r"""PyG's ``GATConv`` (Velickovic et al. 2018) on the graph of a Fathom operator, heads averaged:

    .. math::
        Z' = \frac{1}{H} \sum_{h=1}^H \big((1 - a) P_h + a I\big) Z W_h, \qquad
        (P_h)_{ij} = \mathrm{softmax}_{j \in N(i) \cup \{i\}}
        \big(\mathrm{leaky\_relu}_{0.2}(a_{h,dst}^\top W_h^\top z_i + a_{h,src}^\top W_h^\top z_j)\big),

    every head of the full width (``concat=False``), no bias, one self-loop per node (the
    operator's pattern), called as ``conv(x, operator=operator)``. Attention rows sum to one, so
    :math:`\lambda_1(P_h) = 1` and :math:`\lambda_1((1-a) P_h + a I) = 1`. ``lin.weight`` stacks
    the heads' :math:`W_h^\top` (rows ``h*width`` to ``(h+1)*width``).
    """

    def __init__(self, width: int, heads: int = 1, residual_aggregation: float = 0.0) -> None:
        super().__init__(width, width, heads=heads, concat=False, add_self_loops=False, bias=False)
        self.residual_aggregation = float(residual_aggregation)
        if not 0.0 <= self.residual_aggregation <= 1.0:
            raise ValueError(f"residual_aggregation a must lie in [0, 1]; got {residual_aggregation}")
        self.register_propagate_forward_hook(_mix_identity)  # P_h -> (1 - a) P_h + a I (fathom.nn.residual)

    def reset_attention(self) -> None:
        """Glorot attention vectors, as ``GATConv.reset_parameters`` draws them (models set the weight)."""
        glorot(self.att_src)
        glorot(self.att_dst)

    def forward(self, x: Tensor, edge_index: Tensor | None = None,  # type: ignore[override]
                operator: AggregationOperator | None = None) -> Tensor:
        if operator is not None:
            edge_index = operator_edges(operator)
        if edge_index is None:
            raise ValueError("OperatorGATConv needs an edge_index or an operator")
        return super().forward(x, edge_index)

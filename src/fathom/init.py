"""Weight initializers, PyTorch-style: each fills a ``[fan_out, fan_in]`` weight in place.

The GNN generalisation of He initialisation (DeZoort & Hanin 2023, derived in
``shared/papers/dezoort2023.md``): for ``Z' = A relu(Z) W`` the node Gram matrix grows by
``C_W lambda_1(A)^2 / 2`` per layer once features are correlated, so the scale stays of order
one exactly when ``Var(W_ij) = 2 / (fan_in * lambda_1(A)^2)``, with ``lambda_1`` the Perron root
(spectral radius, not the operator norm) of the aggregation operator. The 2 is ReLU's gain;
a linearized GNN (identity activation) needs 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCNConv, GINConv, GraphConv, MessagePassing, SAGEConv
from torch_geometric.utils import is_undirected

from .graph import AggregationOperator, validate_edge_index

if TYPE_CHECKING:
    from torch_geometric.data import Data


def _fans(weight: Tensor) -> tuple[int, int]:
    if weight.dim() != 2:
        raise ValueError(f"expected a 2-d weight [fan_out, fan_in], got shape {list(weight.shape)}")
    return weight.size(1), weight.size(0)


def _normal_(weight: Tensor, std: Callable[[int], float], generator: torch.Generator | None) -> Tensor:
    """``W_ij ~ N(0, std(fan_in)^2)``; a weight without entries (``fan_in = 0``) is left as it is.

    Raises ``ValueError`` when the standard deviation would overflow the weight's dtype (a Perron
    root near zero or a huge gain): the weights would be infinite.
    """
    fan_in, _ = _fans(weight)
    if weight.numel() == 0:
        return weight
    try:
        scale = std(fan_in)
    except OverflowError:
        scale = math.inf
    if not 10 * scale <= torch.finfo(weight.dtype).max:
        raise ValueError(f"the weight's standard deviation {scale:.3g} overflows {weight.dtype}: "
                         "a Perron root near zero or a huge gain?")
    return weight.normal_(0.0, scale, generator=generator)


@torch.no_grad()
def gnn_he_(weight: Tensor, perron_root: float = 1.0, gain: float = 2.0,
            generator: torch.Generator | None = None) -> Tensor:
    """``W_ij ~ N(0, gain / (fan_in * lambda_1(A)^2))``: He initialisation for a GNN with operator ``A``.

    ``perron_root`` is ``lambda_1`` of the operator the layer aggregates with (for the residual
    operator ``A_a``: ``(1 - a) lambda_1(A) + a``). ``gain`` is 2 for ReLU (it halves the second
    moment) and 1 for the identity of a linearized GNN. ``gcn`` and ``mean`` have
    ``lambda_1 = 1``, where this is exactly He (:func:`kaiming_`) for ReLU.
    """
    if not (perron_root > 0 and math.isfinite(perron_root)):
        raise ValueError(f"perron_root must be a positive finite number; got {perron_root}")
    if not (gain > 0 and math.isfinite(gain)):
        raise ValueError(f"gain must be a positive finite number; got {gain}")
    return _normal_(weight, lambda fan_in: math.sqrt(gain / fan_in) / perron_root, generator)


@torch.no_grad()
def kaiming_(weight: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """He (Kaiming) normal initialisation for ReLU: ``W_ij ~ N(0, 2 / fan_in)``."""
    return _normal_(weight, lambda fan_in: math.sqrt(2.0 / fan_in), generator)


@torch.no_grad()
def glorot_(weight: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Glorot (Xavier) uniform, PyG's ``GCNConv`` default: ``U(-b, b)``, ``b = sqrt(6 / (fan_in + fan_out))``.

    Its variance is ``2 / (fan_in + fan_out)``.
    """
    fan_in, fan_out = _fans(weight)
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return weight.uniform_(-bound, bound, generator=generator)


# --- principled_: the same rule for every message-passing layer of any PyG model -------------------
#
# A layer of the form ``Z' = A x W`` (``x`` = the activation's output) keeps the second moment once
# features are correlated when ``Var(W) = g / (fan_in lambda_1(A)^2)``, ``g`` the activation's gain
# (the derivation above). Layers with a second, *root* weight,
#
#     Z' = x W_root + (A x) W_rel          (GraphConv; SAGEConv with root_weight; GATConv(residual=True)),
#
# add two independent zero-mean terms, so ``E Z'^2 = Var(W_root) n ||x_i||^2 + Var(W_rel) n ||(A x)_i||^2``.
# In the correlated regime ``x ~ v h^T`` (``v`` the Perron vector, ``A v = lambda_1 v``) this is
# ``n (Var(W_root) + lambda_1^2 Var(W_rel)) v_i^2 ||h||^2``, which the activation shrinks by ``g``: the
# second moment is kept exactly when ``n (Var(W_root) + lambda_1^2 Var(W_rel)) = g``. We give each
# term half of it, ``Var(W_root) = g / (2 n)``, ``Var(W_rel) = g / (2 n lambda_1^2)``: the root term
# then also carries half the signal while features are still uncorrelated (when ``A`` shrinks it).

SUPPORTED_LAYERS = ("GCNConv", "GraphConv", "SAGEConv", "GINConv", "GATConv", "FathomConv")
_LINEARS = ("Linear",)  # torch.nn.Linear and torch_geometric.nn.Linear


def gain_of(activation: nn.Module | str | None) -> float:
    """``g`` with ``E[act(z)^2] = Var(z) / g`` for symmetric ``z``: the square of
    :func:`torch.nn.init.calculate_gain` (ReLU 2, identity 1, LeakyReLU(s) ``2 / (1 + s^2)``)."""
    if activation is None:
        return 1.0
    if isinstance(activation, str):
        name, param = activation.lower(), None
    else:
        names = {nn.ReLU: "relu", nn.Identity: "linear", nn.LeakyReLU: "leaky_relu", nn.Tanh: "tanh",
                 nn.Sigmoid: "sigmoid", nn.SELU: "selu"}
        name = names.get(type(activation))
        if name is None:
            raise ValueError(f"cannot work out the gain of the activation {type(activation).__name__}: "
                             "pass activation_gain (2 for ReLU, 1 for the identity)")
        param = activation.negative_slope if name == "leaky_relu" else None
    name = {"identity": "linear"}.get(name, name)
    try:
        return float(nn.init.calculate_gain(name, param)) ** 2
    except ValueError as error:
        raise ValueError(f"cannot work out the gain of the activation {activation!r}: pass activation_gain "
                         "(2 for ReLU, 1 for the identity)") from error


class GraphSpectra:
    """Perron roots of the operators PyG's layers aggregate with, on one simple graph (cached).

    - ``gcn``: ``D^-1/2 (Adj + I) D^-1/2`` (GCNConv's default), from :class:`~fathom.graph.AggregationOperator`;
    - ``adjacency``: ``Adj`` (sum over neighbours): ``lambda_1(Adj + I) - 1``, exact since the two
      matrices share eigenvectors;
    - ``neighbour_mean``: ``D^-1 Adj`` (mean over neighbours, no self-loop), and
      ``D^-1/2 Adj D^-1/2``, its similar matrix: ``1`` on an undirected graph with an edge (rows of
      nodes with neighbours sum to one, the constant vector on a component is an eigenvector, and no
      eigenvalue exceeds the largest row sum).

    Raises ``ValueError`` for graphs with self-loops or duplicate edges (PyG counts them, the
    operators here do not): remove them first (``torch_geometric.utils.coalesce`` /
    ``remove_self_loops``).
    """

    def __init__(self, edge_index: Tensor, num_nodes: int) -> None:
        edge_index = validate_edge_index(edge_index, int(num_nodes))
        self.edge_index, self.num_nodes = edge_index, int(num_nodes)
        loops = int((edge_index[0] == edge_index[1]).sum())
        keys = edge_index[0] * self.num_nodes + edge_index[1]
        duplicates = keys.numel() - torch.unique(keys).numel()
        if loops or duplicates:
            raise ValueError(f"the graph's edge_index has {loops} self-loops and {duplicates} duplicate edges; "
                             "the Perron roots here are for simple graphs: remove them with "
                             "torch_geometric.utils.remove_self_loops and coalesce")
        self._roots: dict[str, float] = {}

    @classmethod
    def from_data(cls, data: "Data") -> "GraphSpectra":
        return cls(data.edge_index, data.num_nodes)

    def _operator_root(self, kind: str) -> float:
        if kind not in self._roots:
            self._roots[kind] = AggregationOperator(self.edge_index, self.num_nodes, kind).perron_root()
        return self._roots[kind]

    def gcn(self) -> float:
        return self._operator_root("gcn")

    def mean(self) -> float:
        """``D^-1 (Adj + I)``: rows sum to one, ``lambda_1 = 1``."""
        return self._operator_root("mean")

    def adjacency(self) -> float:
        return self._operator_root("sum") - 1.0

    def neighbour_mean(self, layer: str) -> float:
        if self.edge_index.numel() == 0:
            raise ValueError(f"{layer} averages over neighbours, but the graph has no edges")
        if not is_undirected(self.edge_index, num_nodes=self.num_nodes):
            raise ValueError(f"{layer} averages over neighbours without a self-loop; its Perron root on a "
                             "directed graph depends on the graph's strongly connected components and is not "
                             "computed here: make the graph undirected (torch_geometric.utils.to_undirected) "
                             "or add self-loops in the layer")
        return 1.0


@dataclass(frozen=True)
class WeightTerm:
    """One weight of a layer and how it is initialised: ``Var = gain * share / (fan_in * lambda^2)``,
    with ``lambda`` the layer's Perron root when ``aggregated`` (the weight acts on ``A x``) and 1
    otherwise."""

    linear: nn.Module
    share: float = 1.0
    aggregated: bool = True
    gain: float | None = None  # None: the gain of what the layer receives (layer_input_gains)


@dataclass(frozen=True)
class LayerPlan:
    """What :func:`principled_` does to one layer: the Perron root of its propagation operator
    ``A`` (before residual aggregation), the residual-aggregation weight ``a`` and its weights."""

    layer: str
    perron_root: float
    residual: float
    terms: tuple[WeightTerm, ...]

    @property
    def residual_perron_root(self) -> float:
        """``lambda_1((1 - a) A + a I) = (1 - a) lambda_1(A) + a``."""
        return (1.0 - self.residual) * self.perron_root + self.residual


def _aggr(conv: MessagePassing, allowed: tuple[str, ...]) -> str:
    aggr = conv.aggr if isinstance(conv.aggr, str) else type(conv.aggr).__name__
    aggr = {"sum": "add"}.get(aggr, aggr)
    if aggr not in allowed:
        raise ValueError(f"{type(conv).__name__} with aggr={aggr!r} is not supported by principled_ (its aggregation "
                         f"is not a fixed linear operator); supported: aggr in {allowed}")
    return aggr


def _neighbour_root(conv: MessagePassing, spectra: GraphSpectra, aggr: str) -> float:
    name = type(conv).__name__
    return spectra.adjacency() if aggr == "add" else spectra.neighbour_mean(f"{name}(aggr='mean')")


def _linears(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if type(m).__name__ in _LINEARS and hasattr(m, "weight")]


def _gcn_plan(conv: GCNConv, spectra: GraphSpectra) -> tuple[float, tuple[WeightTerm, ...]]:
    if conv.improved:
        raise ValueError("GCNConv(improved=True) is not supported by principled_ (self-loops of weight 2)")
    if not conv.normalize:
        root = spectra.adjacency()  # PyG forbids add_self_loops without normalize
    elif conv.add_self_loops:
        root = spectra.gcn()
    else:
        root = spectra.neighbour_mean("GCNConv(add_self_loops=False)")
    return root, (WeightTerm(conv.lin),)


def _graph_conv_plan(conv: GraphConv, spectra: GraphSpectra) -> tuple[float, tuple[WeightTerm, ...]]:
    root = _neighbour_root(conv, spectra, _aggr(conv, ("add", "mean")))
    return root, (WeightTerm(conv.lin_rel, 0.5), WeightTerm(conv.lin_root, 0.5, aggregated=False))


def _sage_plan(conv: SAGEConv, spectra: GraphSpectra) -> tuple[float, tuple[WeightTerm, ...]]:
    if conv.project:
        raise ValueError("SAGEConv(project=True) is not supported by principled_ (an MLP before aggregation)")
    root = _neighbour_root(conv, spectra, _aggr(conv, ("add", "mean")))
    if not conv.root_weight:
        return root, (WeightTerm(conv.lin_l),)
    return root, (WeightTerm(conv.lin_l, 0.5), WeightTerm(conv.lin_r, 0.5, aggregated=False))


def _gin_plan(conv: GINConv, spectra: GraphSpectra) -> tuple[float, tuple[WeightTerm, ...]]:
    aggr = _aggr(conv, ("add", "mean"))
    self_weight = 1.0 + float(conv.eps)
    if self_weight < 0:
        raise ValueError(f"GINConv with eps={float(conv.eps)} < -1 has a negative self weight; not supported")
    linears = _linears(conv.nn)
    if not linears:  # principled_ says so; the Perron root is still defined
        return self_weight + _neighbour_root(conv, spectra, aggr), ()
    inner = getattr(conv.nn, "act", None)
    inner_gain = gain_of(inner) if isinstance(inner, nn.Module) else None
    later = tuple(WeightTerm(linear, aggregated=False, gain=inner_gain) for linear in linears[1:])
    return self_weight + _neighbour_root(conv, spectra, aggr), (WeightTerm(linears[0]), *later)


def _gat_plan(conv: GATConv, spectra: GraphSpectra) -> tuple[float, tuple[WeightTerm, ...]]:
    # attention rows are a softmax over each node's in-edges: row-stochastic, lambda_1 = 1 whenever
    # every node has one (self-loops added); heads are independent, so concat keeps each head's
    # scale and the mean over H heads divides the variance by H (compensated below).
    root = spectra.mean() if conv.add_self_loops else spectra.neighbour_mean("GATConv(add_self_loops=False)")
    heads = 1 if conv.concat else conv.heads
    linear = conv.lin if conv.lin is not None else conv.lin_src
    if conv.res is None:
        return root, (WeightTerm(linear, heads),)
    return root, (WeightTerm(linear, 0.5 * heads), WeightTerm(conv.res, 0.5, aggregated=False))


def _fathom_plan(conv: MessagePassing, spectra: GraphSpectra) -> tuple[float, tuple[WeightTerm, ...]]:
    root = {"gcn": spectra.gcn, "mean": spectra.mean, "sum": lambda: spectra.adjacency() + 1.0}[conv.aggregation]()
    return root, (WeightTerm(conv.lin, gain=conv.gain),)  # FathomConv.gain: leaky_relu's slope, GELU


_PLANS: dict[str, Callable[..., tuple[float, tuple[WeightTerm, ...]]]] = {
    f"{GCNConv.__module__}.GCNConv": _gcn_plan,
    f"{GraphConv.__module__}.GraphConv": _graph_conv_plan,
    f"{SAGEConv.__module__}.SAGEConv": _sage_plan,
    f"{GINConv.__module__}.GINConv": _gin_plan,
    f"{GATConv.__module__}.GATConv": _gat_plan,
    "fathom.nn.conv.FathomConv": _fathom_plan,  # keyed by name: init imports nothing above it
}


def layer_plan(conv: MessagePassing, spectra: GraphSpectra) -> LayerPlan:
    """The :class:`LayerPlan` of one message-passing layer; ``ValueError`` naming the layer type when
    principled_ cannot reason about it (subclasses included: they may change the propagation)."""
    kind = type(conv)
    plan = _PLANS.get(f"{kind.__module__}.{kind.__qualname__}")
    if plan is None:
        raise ValueError(f"principled_ cannot reason about the layer type {kind.__qualname__} ({kind.__module__}): "
                         f"its aggregation operator is unknown. Supported: {', '.join(SUPPORTED_LAYERS)}")
    root, terms = plan(conv, spectra)
    residual = float(getattr(conv, "residual_aggregation", 0.0))
    if not 0.0 <= residual <= 1.0:
        raise ValueError(f"{kind.__qualname__}: residual_aggregation a must lie in [0, 1]; got {residual}")
    return LayerPlan(kind.__qualname__, root, residual, terms)


def message_passing_layers(model: nn.Module) -> Iterator[tuple[str, MessagePassing]]:
    """``(name, layer)`` for every :class:`~torch_geometric.nn.MessagePassing` module of ``model``, in order."""
    return ((name, m) for name, m in model.named_modules() if isinstance(m, MessagePassing))


def layer_input_gains(model: nn.Module, layers: list[MessagePassing],
                      activation_gain: float | None = None) -> list[float]:
    """The gain ``g`` of what each layer receives: ``activation_gain`` if given, else a PyG
    ``BasicGNN``'s ``act`` (:func:`gain_of`), else ReLU's 2; except a ``BasicGNN``'s first layer,
    which receives the raw features (``g = 1``: nothing halved them)."""
    from torch_geometric.nn.models.basic_gnn import BasicGNN

    basic = isinstance(model, BasicGNN)
    if activation_gain is not None:
        gain = float(activation_gain)
    else:
        gain = gain_of(model.act) if basic else 2.0
    first = model.convs[0] if basic else None
    return [1.0 if layer is first else gain for layer in layers]


@torch.no_grad()
def principled_(model: nn.Module, data: "Data", *, activation_gain: float | None = None) -> nn.Module:
    """Set every message-passing layer's weights to the ``gnn_he`` variance for ``data``'s graph.

    For each :class:`~torch_geometric.nn.MessagePassing` layer, ``lambda`` is the Perron root of the
    operator it propagates with on ``data.edge_index``, mixed with the identity when the layer was
    wrapped by :func:`fathom.nn.residual_aggregation` (``(1 - a) lambda + a``), and each weight gets
    ``W_ij ~ N(0, g s / (fan_in lambda^2))``, biases zero (DeZoort & Hanin 2023; see the module
    notes for two-weight layers):

    - ``GCNConv``: ``D^-1/2 (Adj + I) D^-1/2`` (normalize), ``D^-1/2 Adj D^-1/2`` (no self-loops) or ``Adj``;
    - ``GraphConv``, ``SAGEConv``: root weight plus ``Adj`` (``aggr="add"``) or the neighbour mean
      ``D^-1 Adj``; each weight gets half of the variance budget (``s = 1/2``; ``lambda = 1`` for the root);
    - ``GINConv``: ``(1 + eps) I + Adj``; the first Linear of its ``nn`` gets that ``lambda``, later
      Linears plain He with the gain of the MLP's ``act``;
    - ``GATConv``: the attention matrix is row-stochastic, ``lambda = 1``; ``concat=True`` keeps every
      head at the rule, ``concat=False`` averages ``H`` independent heads, so ``s = H``; ``att_*`` keep
      PyG's init (they shape the attention, not the scale);
    - ``FathomConv``: its own operator and activation.

    ``g`` is the gain of the activation before the layer (:func:`layer_input_gains`):
    ``activation_gain`` when given (2 for ReLU, 1 for the identity), else inferred from a
    ``BasicGNN``'s ``act``, else ReLU's 2. A layer it cannot reason about raises ``ValueError``
    naming its type; nothing is skipped and nothing is changed then. Other modules (encoders,
    heads, norms) keep their weights. Returns ``model``.
    """
    named = list(message_passing_layers(model))
    if not named:
        raise ValueError(f"principled_ found no MessagePassing layer in {type(model).__name__}")
    layers = [conv for _, conv in named]
    gains = layer_input_gains(model, layers, activation_gain)
    spectra = GraphSpectra.from_data(data)
    plans = [layer_plan(conv, spectra) for conv in layers]  # every layer checked before any is changed
    for plan, input_gain in zip(plans, gains):
        root = plan.residual_perron_root
        if not root > 0:
            raise ValueError(f"{plan.layer}: its operator has Perron root {root} on this graph (no edges?)")
        if not plan.terms:
            raise ValueError(f"{plan.layer} has no Linear weight for principled_ to set (a GINConv's nn needs one)")
        for term in plan.terms:
            weight = term.linear.weight
            if isinstance(weight, nn.parameter.UninitializedParameter):
                raise ValueError(f"{plan.layer} has a lazy Linear (in_channels=-1): run one forward pass first")
            gain = term.gain if term.gain is not None else input_gain
            gnn_he_(weight, root if term.aggregated else 1.0, gain=gain * term.share)
            if getattr(term.linear, "bias", None) is not None:
                term.linear.bias.zero_()
    for conv in layers:
        if isinstance(getattr(conv, "bias", None), Tensor):
            conv.bias.zero_()
    return model


def perron_root_of(conv: MessagePassing, data: "Data") -> float:
    """``lambda_1`` of the operator ``conv`` propagates with on ``data``'s graph, residual aggregation included."""
    return layer_plan(conv, GraphSpectra.from_data(data)).residual_perron_root

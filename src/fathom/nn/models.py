"""DeepGNN: an encoder, ``L`` message-passing blocks and a head, from a ModelConfig."""

from __future__ import annotations

import ctypes
import functools
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint
from torch_geometric.nn import GroupAddRev

from ..config import ModelConfig, check_number
from ..graph import AggregationOperator, OperatorCache, SparseFeatures, input_linear
from ..init import glorot_, gnn_he_, kaiming_
from .conv import ACTIVATION_GAIN  # noqa: F401  (re-exported: its home was here)
from .conv import FathomConv, OperatorGATConv, OperatorGCN2Conv, activate, activation_gain, activation_lipschitz
from .dropout import dropout
from .norm import bound_weight_, make_norm, raw_weight, settle_weight_bound_, spectral_norm

if TYPE_CHECKING:
    from torch_geometric.data import Data


class DeepGNNBlock(nn.Module):
    r"""One block: with ``activation_position="pre"`` the branch
    :math:`B(Z) = \mathrm{norm}(A_a \sigma(\mathrm{dropout}(Z)) W)` (DeZoort & Hanin 2023), with
    ``"post"`` :math:`B(Z) = \mathrm{norm}(\sigma(A_a \,\mathrm{dropout}(Z) W))` (Park & Kim's block
    ``x + relu(GCNConv(x))``), and

    .. math::
        Z' = B(Z) \ \ (\text{none}), \qquad Z' = Z + \beta B(Z) \ \ (\text{plain: } \beta = 1;
        \ \text{fixup: } \beta = 1/\sqrt{L} \text{ by default}).

    With ``conv="gat"``, :math:`A_a Z W` is GAT's :math:`\frac1H \sum_h ((1-a) P_h + a I) Z W_h`
    (:class:`fathom.nn.conv.OperatorGATConv`).

    With ``norm="weight"`` the weight is bounded, :math:`\|W\| \le c` (for GAT, the mean of the
    heads' norms); with ``norm="layer"`` the residual block is divided by its Lipschitz bound,
    :math:`Z' = (Z + \beta B(Z)) / (1 + \beta\, \mathrm{Lip}(\sigma) \|A_a\|_2 \|W\|_2)` (Park & Kim
    2024), with :math:`\|W\|_2` computed exactly on every forward
    (:func:`fathom.nn.norm.spectral_norm`) and :math:`\mathrm{Lip}(\sigma) = \sup|\sigma'|` (1 for
    relu, :math:`\max(1, s)` for leaky_relu, 1.1289 for GELU): a bound for either position, since
    :math:`\|\sigma(A U W) - \sigma(A V W)\| \le \mathrm{Lip}(\sigma) \|A\|_2 \|W\|_2 \|U - V\|`.

    With an initial residual :math:`\alpha` or identity mapping :math:`\theta` (GCNII, Chen et al.
    2020) the branch is PyG's ``GCN2Conv`` on Fathom's operator,

    .. math::
        B(Z) = \mathrm{norm}\big(\big[(1-\alpha) A_a \sigma(\mathrm{dropout}(Z)) + \alpha \sigma(Z_0)\big]
        \big((1-\beta_l) I + \beta_l W\big)\big), \qquad \beta_l = \ln(\theta / l + 1),

    with :math:`Z_0` the encoder's output and :math:`\beta_l = 1` without identity mapping.
    """

    def __init__(self, config: ModelConfig, layer: int = 1) -> None:
        super().__init__()
        self.initial = config.initial_residual > 0 or config.identity_mapping is not None
        self.post = config.activation_position == "post"
        self.gat = config.conv == "gat"
        if self.initial:
            self.conv = OperatorGCN2Conv(config.width, config.initial_residual, config.identity_mapping,
                                         layer if config.identity_mapping is not None else None, normalize=False)
        elif self.gat:
            self.conv = OperatorGATConv(config.width, config.heads, config.residual_aggregation)
        else:
            self.conv = FathomConv(config.width, config.width, config.aggregation, config.residual_aggregation,
                                   "identity" if self.post else config.activation, config.negative_slope)
        self.norm = make_norm(config.norm, config.width)
        if config.norm == "weight":
            bound_weight_(self.conv, config.norm_c, config.norm_bound)
        self.layer_bound = config.norm == "layer"
        self.dropout = config.dropout
        self.activation = config.activation
        self.negative_slope = config.negative_slope
        self.residual = config.residual != "none"
        self.branch_scale = config.branch_scale

    def forward(self, z: Tensor, operator: AggregationOperator, z0: Tensor | None = None) -> Tensor:
        h = dropout(z, self.dropout, self.training)
        if self.initial:
            if z0 is None:
                raise ValueError("a block with an initial residual needs the encoder's output z0")
            branch = self.conv(self._act(h), self._act(z0), operator)
        elif self.gat and not self.post:
            branch = self.conv(self._act(h), operator=operator)
        else:  # FathomConv applies a pre activation itself
            branch = self.conv(h, operator=operator)
        if self.post:
            branch = self._act(branch)
        branch = self.norm(branch)
        out = z + self.branch_scale * branch if self.residual else branch
        if self.layer_bound:  # divide by the block's Lipschitz bound 1 + beta Lip(act) ||A_a||_2 ||W||_2
            lipschitz = (activation_lipschitz(self.activation, self.negative_slope) * operator.spectral_norm()
                         * spectral_norm(self.conv.lin.weight))
            out = out / (1.0 + self.branch_scale * lipschitz)
        return out

    def _act(self, z: Tensor) -> Tensor:
        return activate(z, self.activation, self.negative_slope)


class ScaledBranch(nn.Module):
    """``beta A_a act(X) W`` (pre) or ``beta act(A_a X W)`` (post) on one channel group: the coupling
    function of a reversible block."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        half = config.width // 2
        self.post = config.activation_position == "post"
        self.conv = FathomConv(half, half, config.aggregation, config.residual_aggregation,
                               "identity" if self.post else config.activation, config.negative_slope)
        if config.norm == "weight":
            bound_weight_(self.conv, config.norm_c, config.norm_bound)
        self.branch_scale = config.branch_scale
        self.activation, self.negative_slope = config.activation, config.negative_slope

    def reset_parameters(self) -> None:  # weights are set by DeepGNN.reset_parameters
        pass

    def forward(self, x: Tensor, operator: AggregationOperator) -> Tensor:
        branch = self.conv(x, operator=operator)
        return self.branch_scale * (activate(branch, self.activation, self.negative_slope) if self.post else branch)


def reversible_block(config: ModelConfig) -> GroupAddRev:
    r"""A grouped reversible residual block (RevGNN, Li et al. 2021) with Fathom's branch:
    channels split in halves :math:`X_1, X_2`; :math:`Y_1 = X_1 + \beta B_1(X_2)`,
    :math:`Y_2 = X_2 + \beta B_2(Y_1)`. Its input is recomputed from its output in the backward
    pass, so activation memory does not grow with depth."""
    return GroupAddRev(nn.ModuleList([ScaledBranch(config), ScaledBranch(config)]))


def _run_blocks(blocks: nn.ModuleList, z: Tensor, operator: AggregationOperator, z0: Tensor | None) -> Tensor:
    for block in blocks:
        z = block(z, operator) if z0 is None else block(z, operator, z0)
    return z


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, Windows)
        return None


def release_free_memory() -> bool:
    """Hand the C heap's free pages back to the operating system (glibc's ``malloc_trim``).

    Returns whether it could (glibc only). Freed CPU activations stay in glibc's heap as holes
    that later activations of the same size do not reuse (torch allocates them aligned, which
    glibc serves by over-allocating and freeing the ends, where autograd's small long-lived
    allocations then settle), so the heap, and the process's RSS, grows with every block although
    autograd holds little: measured on Cora at 256 blocks, the checkpointed forward pass grew the
    RSS by 740 MB while autograd held 12 MB. Trimming returns the holes' pages.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def _release_free_memory_now_and_in_backward(z: Tensor) -> None:
    """Trim the heap now (forward pass) and when the backward pass reaches ``z`` (after it has
    gone through the blocks that follow ``z``)."""
    release_free_memory()
    if z.requires_grad:
        z.register_hook(_release_on_gradient)


def _release_on_gradient(grad: Tensor) -> None:
    release_free_memory()


class DeepGNN(nn.Module):
    r"""Encoder, blocks :math:`Z_l = \mathrm{block}_l(Z_{l-1})` and head; ``config.io``:

    - ``linear``: :math:`Z_0 = \mathrm{dropout}_{p_{in}}(X) W_{in} + b`,
      :math:`Y = \mathrm{dropout}(\sigma(Z_L)) W_{out} + b`;
    - ``park`` (Park & Kim's code): :math:`Z_0 = \mathrm{relu}(\mathrm{dropout}(\mathrm{dropout}_{p_{in}}(X)
      W_{in} + b))`, :math:`Y = \mathrm{relu}(Z_L W_1 + b_1) W_{out} + b` (``head_hidden`` is
      :math:`W_1`, width x width; ReLU whatever ``activation``, as in that code; no dropout in it).

    Block weights follow ``config.init``:

    - ``gnn_he``: :math:`\mathrm{Var}(W_{ij}) = g / (n \lambda_1(A_a)^2)` (DeZoort & Hanin 2023),
      with the activation's gain :math:`g`, :math:`E[\sigma(z)^2] = \mathrm{Var}(z)/g`
      (:func:`fathom.nn.conv.activation_gain`): 2 for ReLU, 1 for the identity (linearized GNN),
      :math:`2/(1+s^2)` for leaky_relu, 2.3517 for GELU (at unit variance; GELU is not homogeneous, so
      no single gain keeps every scale). The same rule holds for ``activation_position="post"``:
      :math:`A_a Z W` then has :math:`g` times :math:`Z`'s second moment and :math:`\sigma` divides it
      by :math:`g` (for GELU, whose gain depends on the scale, the fixed point :math:`g = 2.1551`).
      For ``conv="gat"`` the operator is the attention matrix, whose rows sum to 1, so
      :math:`\lambda_1 = 1` (and :math:`\lambda_1((1-a)P + aI) = 1`) whatever ``perron_root`` says;
      averaging :math:`H` independent heads divides the variance by :math:`H`, so
      :math:`\mathrm{Var}(W_{ij}) = g H / n`.
    - ``kaiming``: :math:`2/n` (He), ``glorot``: PyG's default,
    - ``fixup``: ``gnn_he`` then the last weight of every residual branch set to zero.

    The encoder and head are Glorot-initialised in every case; biases start at zero.

    ``config.memory`` trades compute for activation memory in training: ``checkpoint`` keeps
    only the inputs of segments of ``ceil(sqrt(L))`` blocks and recomputes the rest in the
    backward pass (``O(sqrt(L))`` memory); ``reversible`` uses grouped reversible blocks
    (``O(1)`` in depth). Both are exact: the gradients equal those of the plain computation.
    Both also hand the C heap's free pages back to the system after every segment of
    ``ceil(sqrt(L))`` blocks, forward and backward (:func:`release_free_memory`).

    Args:
        config: the architecture.
        in_channels: input feature width.
        out_channels: number of outputs (classes).
        perron_root: :math:`\lambda_1(A_a)` of the graph's residual operator. ``gcn`` and
            ``mean`` have :math:`\lambda_1 = 1` exactly, so it may be omitted for them; ``sum``
            depends on the graph and must be given (see :meth:`for_graph`).
    """

    accepts_sparse_features = True  # forward takes fathom.graph.SparseFeatures for x

    def __init__(self, config: ModelConfig, in_channels: int, out_channels: int,
                 perron_root: float | None = None) -> None:
        super().__init__()
        check_number("in_channels", in_channels, 1, integer=True)
        check_number("out_channels", out_channels, 1, integer=True)
        self.config = config
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.encoder = nn.Linear(in_channels, config.width)
        self.head_hidden = nn.Linear(config.width, config.width) if config.io == "park" else None
        if config.memory == "reversible":
            self.blocks = nn.ModuleList(reversible_block(config) for _ in range(config.depth))
        else:
            self.blocks = nn.ModuleList(DeepGNNBlock(config, layer) for layer in range(1, config.depth + 1))
        self.head = nn.Linear(config.width, out_channels)
        self._operators = OperatorCache(config.aggregation, config.residual_aggregation, config.component_scaling)
        self.reset_parameters(perron_root)

    @staticmethod
    def graph_operator(config: ModelConfig, data: "Data") -> AggregationOperator:
        """The operator ``A_a`` that a model of ``config`` applies on ``data``'s graph."""
        return AggregationOperator.from_data(data, config.aggregation, config.residual_aggregation,
                                             component_scaling=config.component_scaling)

    @classmethod
    def for_graph(cls, config: ModelConfig, data: "Data", out_channels: int) -> "DeepGNN":
        """A model for ``data`` whose initialisation uses the Perron root of the graph's operator."""
        return cls(config, data.num_features, out_channels, perron_root=cls.graph_operator(config, data).perron_root())

    def reset_parameters(self, perron_root: float | None = None) -> None:
        """Re-initialise every weight following ``config.init`` (see the class docstring).

        Without ``perron_root`` the one given before (at construction) is reused.
        """
        config = self.config
        if perron_root is None:
            perron_root = getattr(self, "perron_root", None)
        if perron_root is None:
            if config.init in ("gnn_he", "fixup") and config.aggregation == "sum" and config.component_scaling != "unit":
                raise ValueError(
                    f"init={config.init} with aggregation=sum needs the Perron root of the graph's "
                    "operator: pass perron_root=AggregationOperator(...).perron_root() or build the "
                    "model with DeepGNN.for_graph(config, data, out_channels)"
                )
            perron_root = 1.0  # lambda_1(A) = 1 for gcn and mean, hence lambda_1(A_a) = 1
        self.perron_root = 1.0 if config.conv == "gat" else float(perron_root)  # attention: rows sum to 1
        gain = (activation_gain(config.activation, config.negative_slope, config.activation_position)
                * (config.heads if config.conv == "gat" else 1))
        for linear in filter(None, (self.encoder, self.head_hidden, self.head)):
            glorot_(linear.weight)
            nn.init.zeros_(linear.bias)
        for block in self.blocks:
            norm = getattr(block, "norm", None)
            if hasattr(norm, "reset_parameters"):
                norm.reset_parameters()
        for weight in self.branch_weights():
            if config.init in ("gnn_he", "fixup"):
                gnn_he_(weight, self.perron_root, gain=gain)
            elif config.init == "kaiming":
                kaiming_(weight)
            else:
                glorot_(weight)
        if config.init == "fixup":
            fixup_(self)
        for conv in self.branch_convs():
            settle_weight_bound_(conv.lin)
            if isinstance(conv, OperatorGATConv):
                conv.reset_attention()
        self._operators.clear()

    def branch_convs(self) -> Iterator[FathomConv | OperatorGATConv]:
        """Every block's FathomConv or GAT convolution (two per block in reversible mode), in order."""
        for block in self.blocks:
            yield from (module for module in block.modules() if isinstance(module, (FathomConv, OperatorGATConv)))

    def branch_weights(self) -> Iterator[Tensor]:
        """The stored weight ``W`` of every block's branch, in order: what initialisers fill."""
        for block in self.blocks:
            for module in block.modules():
                if isinstance(module, (FathomConv, OperatorGATConv)):
                    yield raw_weight(module.lin)
                elif isinstance(module, OperatorGCN2Conv):
                    yield module.weight1

    def message_passing_parameters(self) -> Iterator[nn.Parameter]:
        """The blocks' parameters (not the encoder's or the head's): what ``block_weight_decay``
        penalises."""
        return self.blocks.parameters()

    def operator_for(self, edge_index: Tensor, x: Tensor) -> AggregationOperator:
        """The (cached) residual operator ``A_a`` of ``edge_index``, matching ``x``."""
        return self._operators.get(edge_index, x)

    def forward(self, x: Tensor | SparseFeatures, edge_index: Tensor | None = None,
                operator: AggregationOperator | None = None) -> Tensor:
        """Logits ``[N, out_channels]`` for node features ``x`` (dense, or
        :class:`~fathom.graph.SparseFeatures`) on the graph ``edge_index`` (or ``operator``)."""
        if operator is None:
            if edge_index is None:
                raise ValueError("DeepGNN needs an edge_index or an operator")
            operator = self.operator_for(edge_index, x)
        elif operator.component_scaling != self.config.component_scaling:
            raise ValueError(f"the operator has component_scaling={operator.component_scaling!r} but the model's "
                             f"config asks for {self.config.component_scaling!r}: build it with "
                             "DeepGNN.graph_operator(config, data)")
        z = input_linear(self.encoder, dropout(x, self.config.input_dropout, self.training))
        if self.head_hidden is not None:  # io=park
            z = self._blocks(F.relu(dropout(z, self.config.dropout, self.training)), operator)
            return self.head(F.relu(self.head_hidden(z)))
        z = self._blocks(z, operator)
        h = activate(z, self.config.activation, self.config.negative_slope)
        return self.head(dropout(h, self.config.dropout, self.training))

    def _blocks(self, z: Tensor, operator: AggregationOperator) -> Tensor:
        """The blocks, with the memory mode's savings only where a backward pass will follow."""
        saving = self.training and torch.is_grad_enabled()
        if self.config.memory == "reversible":
            for block in self.blocks:
                block.disable = not saving  # keep every activation when no backward pass follows
            if saving:  # the first block frees its input's storage: never a tensor autograd saved (io=park's relu)
                z = z.clone()
        size = math.ceil(math.sqrt(len(self.blocks)))  # segments of sqrt(L) blocks
        z0 = z if self.blocks_need_input() else None
        for start in range(0, len(self.blocks), size):
            segment = self.blocks[start:start + size]
            if self.config.memory == "checkpoint" and saving:
                z = checkpoint(_run_blocks, segment, z, operator, z0, use_reentrant=False)
            else:
                z = _run_blocks(segment, z, operator, z0)
            if saving and self.config.memory != "full":  # (no_grad frees and reuses as it goes)
                _release_free_memory_now_and_in_backward(z)
        return z

    def blocks_need_input(self) -> bool:
        """Whether the blocks read the encoder's output ``Z_0`` (an initial residual or identity mapping)."""
        return self.config.initial_residual > 0 or self.config.identity_mapping is not None

    def __repr__(self) -> str:
        c = self.config
        residual = c.residual if c.residual == "none" else f"{c.residual}(beta={c.branch_scale:.4g})"
        return (
            f"DeepGNN({self.in_channels} -> {c.width} x {c.depth} blocks -> {self.out_channels}, "
            f"aggregation={c.aggregation}, a={c.residual_aggregation}, residual={residual}, "
            f"init={c.init}, norm={c.norm}" + (f"({c.norm_bound})" if c.norm == "weight" else "")
            + f", activation={c.activation}" + (f"({c.negative_slope:g})" if c.activation == "leaky_relu" else "")
            + (f" {c.activation_position}" if c.activation_position != "pre" else "")
            + (f", conv=gat(heads={c.heads})" if c.conv == "gat" else "") + (f", io={c.io}" if c.io != "linear" else "")
            + f", dropout={c.dropout}, memory={c.memory}"
            + (f", initial_residual={c.initial_residual}, identity_mapping={c.identity_mapping}"
               if self.blocks_need_input() else "")
            + (f", input_dropout={c.input_dropout}" if c.input_dropout else "") + ")"
        )


@torch.no_grad()
def fixup_(model: DeepGNN) -> DeepGNN:
    """Zero the last weight of every residual branch of ``model`` (Fixup, Zhang et al. 2019).

    Each block is then the identity at initialisation, while the branch weights still receive
    gradient (``dL/dW = (A act(Z))^T dL/dZ'`` does not depend on ``W``).
    """
    if model.config.residual == "none":
        raise ValueError("fixup_ needs a model with residual connections (residual=plain or fixup)")
    for weight in model.branch_weights():
        weight.zero_()
    return model

"""Baselines built from PyG's own layers, with their papers' hyper-parameters as defaults.

Each factory's parameter class cites the paper and the table or script its defaults come from;
``training=`` holds the paper's optimiser settings and ``per_dataset=`` its per-dataset ones (see
:meth:`~fathom.models.ModelFactory.published`). Every model but GAT propagates with the GCN
operator ``D^-1/2 (A + I) D^-1/2`` normalised once per graph by :class:`GCNAdjacency` (a sparse
``adj_t``; the convolutions are built with ``normalize=False``); DropEdge renormalises the
dropped graph at every training step, as the paper does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn import APPNP, GATConv, GCNConv, DeepGCNLayer, PairNorm
from torch_geometric.nn.models import GCN, GIN
from torch_geometric.utils import dropout_edge

from ..config import Config, check_choice, check_number, option
from ..graph import OperatorCache, SparseFeatures, input_linear, pyg_input
from ..nn.conv import OperatorGCN2Conv
from ..nn.dropout import dropout
from .adjacency import GCNAdjacency
from .registry import register_model


def _check_sizes(params: Config) -> None:
    """``depth``/``width`` positive integers and ``dropout`` in [0, 0.99]: fields every baseline has."""
    check_number("depth", params.depth, 1, integer=True)  # type: ignore[attr-defined]
    check_number("width", params.width, 1, integer=True)  # type: ignore[attr-defined]
    check_number("dropout", params.dropout, 0.0, 0.99)  # type: ignore[attr-defined]


# --- GCN, JKNet, DropEdge: PyG's GCN model on the cached operator -----------------------------------

class GCNStack(GCN):
    """PyG's :class:`~torch_geometric.nn.models.GCN` (``GCNConv`` -> ReLU -> dropout, optionally a
    jumping-knowledge readout) propagating with :class:`GCNAdjacency`'s operator."""

    accepts_sparse_features = True  # the first GCNConv's Linear multiplies the CSR features

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, normalize=False, **kwargs)
        self.adjacency = GCNAdjacency(sparse=True)

    def forward(self, x: Tensor | SparseFeatures, edge_index: Tensor) -> Tensor:  # type: ignore[override]
        return super().forward(pyg_input(x), *self.adjacency(edge_index, x.size(0), x.dtype))


@dataclass(frozen=True)
class GCNParams(Config):
    """A stack of PyG ``GCNConv`` layers (Kipf & Welling, ICLR 2017, Sec. 5.2 and Appendix B:
    2 layers, 16 hidden units, dropout 0.5; Adam lr 0.01, weight decay 5e-4, 200 epochs).
    Depth above 2 is a deeper stack of the same layers (cf. their Appendix B, without its residuals)."""

    depth: int = option(2, "Number of GCNConv layers.", low=1)
    width: int = option(16, "Hidden width.", low=1)
    dropout: float = option(0.5, "Dropout after every hidden layer.", low=0.0, high=0.99)

    def __post_init__(self) -> None:
        _check_sizes(self)


@register_model("gcn", GCNParams, "PyG's GCN (Kipf & Welling 2017): GCNConv layers with ReLU and dropout",
                training={"lr": 0.01, "weight_decay": 5e-4, "epochs": 200})
def build_gcn(params: GCNParams, data: Data, out_channels: int) -> nn.Module:
    return GCNStack(data.num_features, params.width, params.depth, out_channels, dropout=params.dropout)


JK_MODES = ("cat", "max", "lstm")


@dataclass(frozen=True)
class JKNetParams(Config):
    """Jumping-knowledge GCN (Xu et al., ICML 2018, Sec. 6.2 and Table 2: GCN layers, hidden 16 or
    32, 1-6 layers, concatenation / max-pooling / LSTM readout; Adam lr 0.005, L2 5e-4, dropout
    0.5, early stopping on validation; Cora and CiteSeer split 60/20/20 at random). Defaults: the
    largest depth searched (6) with concatenation, and the larger width (32); the paper's exact
    per-dataset choice (Table 2) could not be checked here, so no per-dataset entry. The paper gives
    no epoch budget: 1000 epochs with patience 100 here."""

    depth: int = option(6, "Number of GCNConv layers.", low=1)
    width: int = option(32, "Hidden width.", low=1)
    dropout: float = option(0.5, "Dropout after every hidden layer.", low=0.0, high=0.99)
    jk: str = option("cat", "Layer aggregation: cat (concatenate), max (element-wise max), lstm (attention).",
                     choices=JK_MODES)

    def __post_init__(self) -> None:
        _check_sizes(self)
        check_choice("jk", self.jk, JK_MODES)


@register_model("jknet", JKNetParams, "PyG's GCN with a jumping-knowledge readout (Xu et al. 2018)",
                training={"lr": 0.005, "weight_decay": 5e-4, "epochs": 1000, "patience": 100})
def build_jknet(params: JKNetParams, data: Data, out_channels: int) -> nn.Module:
    return GCNStack(data.num_features, params.width, params.depth, out_channels, dropout=params.dropout,
                    jk=params.jk)


class DropEdgeGCN(GCNStack):
    """A :class:`GCNStack` that, in training mode, keeps each directed edge with probability
    ``1 - p`` (``dropout_edge``) and renormalises the kept graph before the forward pass."""

    def __init__(self, *args, drop_edge: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.drop_edge = drop_edge  # a new graph every training step: the sparse adj_t is rebuilt each time,
        # still faster than the edge_index path (bench/sparse_adjacency.py)

    def forward(self, x: Tensor | SparseFeatures, edge_index: Tensor) -> Tensor:  # type: ignore[override]
        if self.training and self.drop_edge > 0:
            edge_index, _ = dropout_edge(edge_index, p=self.drop_edge)
        return super().forward(x, edge_index)


@dataclass(frozen=True)
class DropEdgeParams(Config):
    """GCN with DropEdge (Rong et al., ICLR 2020). Defaults: the authors' Cora GCN script
    (github.com/DropEdge/DropEdge, script/semi-supervised/cora_GCN.sh: 2 layers, 128 hidden,
    dropout 0.8, sampling_percent 0.4 i.e. 40% of the edges kept, so p = 0.6; Adam lr 0.007,
    weight decay 1e-5, 400 epochs). Their script normalises the kept adjacency again (AugNormAdj =
    the GCN operator), as here."""

    depth: int = option(2, "Number of GCNConv layers.", low=1)
    width: int = option(128, "Hidden width.", low=1)
    dropout: float = option(0.8, "Dropout after every hidden layer.", low=0.0, high=0.99)
    drop_edge: float = option(0.6, "Probability of dropping each edge at every training step.", low=0.0,
                              high=0.99)

    def __post_init__(self) -> None:
        _check_sizes(self)
        check_number("drop_edge", self.drop_edge, 0.0, 0.99)


@register_model("gcn_dropedge", DropEdgeParams, "GCN whose edges are randomly dropped at every training step "
                                                "(DropEdge, Rong et al. 2020)",
                training={"lr": 0.007, "weight_decay": 1e-5, "epochs": 400},
                # script/semi-supervised/{citeseer,pubmed}_GCN.sh (PubMed's random-walk normalisation
                # AugRWalk is replaced by the GCN operator here).
                per_dataset={"citeseer": {"drop_edge": 0.8, "dropout": 0.3, "lr": 0.01, "weight_decay": 5e-4},
                             "pubmed": {"drop_edge": 0.3, "dropout": 0.5, "lr": 0.003, "weight_decay": 5e-3}})
def build_dropedge(params: DropEdgeParams, data: Data, out_channels: int) -> nn.Module:
    return DropEdgeGCN(data.num_features, params.width, params.depth, out_channels, dropout=params.dropout,
                       drop_edge=params.drop_edge)


# --- GAT ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GATParams(Config):
    """Graph attention network (Veličković et al., ICLR 2018, Sec. 3.3, transductive setting):
    ``depth - 1`` GATConv layers of ``heads`` x ``width`` ELU units (concatenated), then one
    GATConv with ``output_heads`` heads averaged; dropout 0.6 on every layer's input and on the
    attention coefficients; Adam lr 0.005, L2 5e-4, patience 100. PubMed: 8 output heads, lr 0.01,
    L2 0.001."""

    depth: int = option(2, "Number of GATConv layers.", low=2)
    width: int = option(8, "Hidden units per attention head.", low=1)
    heads: int = option(8, "Attention heads of the hidden layers (concatenated).", low=1)
    output_heads: int = option(1, "Attention heads of the output layer (averaged).", low=1)
    dropout: float = option(0.6, "Dropout on every layer's input and on the attention coefficients.", low=0.0,
                            high=0.99)

    def __post_init__(self) -> None:
        _check_sizes(self)
        check_number("depth", self.depth, 2, integer=True)
        check_number("heads", self.heads, 1, integer=True)
        check_number("output_heads", self.output_heads, 1, integer=True)


class GAT(nn.Module):
    """Dropout -> GATConv (heads concatenated) -> ELU, repeated; dropout -> GATConv (heads averaged)."""

    accepts_sparse_features = True  # forward takes fathom.graph.SparseFeatures for x

    def __init__(self, in_channels: int, out_channels: int, params: GATParams) -> None:
        super().__init__()
        p, hidden = params.dropout, params.width * params.heads
        self.dropout = p
        self.convs = nn.ModuleList(
            GATConv(in_channels if i == 0 else hidden, params.width, heads=params.heads, dropout=p)
            for i in range(params.depth - 1))
        self.convs.append(GATConv(hidden, out_channels, heads=params.output_heads, concat=False, dropout=p))

    def forward(self, x: Tensor | SparseFeatures, edge_index: Tensor) -> Tensor:
        for conv in self.convs[:-1]:
            x = F.elu(conv(pyg_input(dropout(x, self.dropout, self.training)), edge_index))
        return self.convs[-1](pyg_input(dropout(x, self.dropout, self.training)), edge_index)


@register_model("gat", GATParams, "Graph attention network (Veličković et al. 2018) from PyG's GATConv",
                training={"lr": 0.005, "weight_decay": 5e-4, "epochs": 100000, "patience": 100},
                per_dataset={"pubmed": {"output_heads": 8, "lr": 0.01, "weight_decay": 1e-3}})
def build_gat(params: GATParams, data: Data, out_channels: int) -> nn.Module:
    return GAT(data.num_features, out_channels, params)


# --- GCNII -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GCNIIParams(Config):
    """GCNII (Chen et al., ICML 2020, Sec. 6.1/6.2 and the authors' semi.sh and full.sh scripts,
    github.com/chennnM/GCNII): dropout -> Linear -> ReLU -> ``depth`` x [dropout -> GCN2Conv(alpha,
    theta = lambda) -> ReLU] -> dropout -> Linear. Defaults: Cora semi-supervised, 64 layers,
    64 hidden, alpha 0.1, lambda 0.5, dropout 0.6; Adam lr 0.01, L2 0.01 on the convolutions and
    5e-4 on the dense layers, 1500 epochs, patience 100. Per dataset: CiteSeer and PubMed
    semi-supervised (semi.sh); Chameleon, Cornell, Texas and Wisconsin full-supervised (full.sh
    over full-supervised.py's defaults: 64 hidden, dropout 0.5, alpha 0.5, one L2 for all
    parameters). Actor and Squirrel have no published setting: each entry is the one of the candidates
    that Fathom's configuration for the dataset was chosen from with the best validation accuracy (the
    Cora default included; docs/results/actor_choice/, docs/results/squirrel_choice/), the same
    selection as Fathom's. Amazon and Coauthor have no published setting either: on Photo and on
    Computers the same selection chose GCNII's full-supervised Cora setting (alpha 0.2, one weight
    decay 1e-4) with dropout 0.2 (docs/results/photo_choice/, docs/results/computers_choice/); CS and
    Physics carry that choice (the same random 60/20/20 split) without a selection of their own, as
    Fathom carries its Photo choice."""

    depth: int = option(64, "Number of GCN2Conv layers.", low=1)
    width: int = option(64, "Hidden width.", low=1)
    alpha: float = option(0.1, "Initial-residual weight alpha.", low=0.0, high=1.0)
    theta: float = option(0.5, "Identity-mapping strength lambda: beta_l = log(lambda / l + 1).", low=0.0)
    dropout: float = option(0.6, "Dropout before every layer.", low=0.0, high=0.99)

    def __post_init__(self) -> None:
        _check_sizes(self)
        check_number("alpha", self.alpha, 0.0, 1.0)
        check_number("theta", self.theta, 0.0)


class GCNII(nn.Module):
    """Linear encoder, ``GCN2Conv`` layers with shared weights (``x_0`` the encoder output), linear head.

    The layers are PyG's ``GCN2Conv`` propagating with Fathom's cached GCN operator
    (:class:`fathom.nn.conv.OperatorGCN2Conv`): PyG's torch.sparse product transposes and sorts the
    matrix in every backward pass, which made a 64-layer epoch on Cora about 3x slower.
    ``adjacency.sparse = False`` runs PyG's ``edge_index`` path instead (the tests compare the two).
    """

    accepts_sparse_features = True  # forward takes fathom.graph.SparseFeatures for x

    def __init__(self, in_channels: int, out_channels: int, params: GCNIIParams) -> None:
        super().__init__()
        self.dropout = params.dropout
        self.encoder = nn.Linear(in_channels, params.width)
        self.convs = nn.ModuleList(
            OperatorGCN2Conv(params.width, params.alpha, params.theta, layer=i + 1, shared_weights=True,
                             normalize=False)
            for i in range(params.depth))
        self.head = nn.Linear(params.width, out_channels)
        self.adjacency = GCNAdjacency(sparse=True)
        self._operators = OperatorCache("gcn", 0.0)

    def message_passing_parameters(self) -> Iterator[nn.Parameter]:
        """The convolutions' weights (GCNII's L2 0.01), not the dense layers' (5e-4)."""
        return self.convs.parameters()

    def forward(self, x: Tensor | SparseFeatures, edge_index: Tensor) -> Tensor:
        if self.adjacency.sparse:
            operator: tuple = (self._operators.get(edge_index, x),)
        else:
            operator = self.adjacency(edge_index, x.size(0), x.dtype)
        x = x_0 = F.relu(input_linear(self.encoder, dropout(x, self.dropout, self.training)))
        for conv in self.convs:
            x = F.relu(conv(dropout(x, self.dropout, self.training), x_0, *operator))
        return self.head(dropout(x, self.dropout, self.training))


_GCNII_FULL = {"width": 64, "dropout": 0.5, "alpha": 0.5, "block_weight_decay": None}
_GCNII_PHOTO = {**_GCNII_FULL, "alpha": 0.2, "theta": 0.5, "dropout": 0.2, "weight_decay": 1e-4}  # Photo's validation


@register_model("gcnii", GCNIIParams, "GCNII (Chen et al. 2020): initial residual and identity mapping, "
                                      "PyG's GCN2Conv",
                training={"lr": 0.01, "weight_decay": 5e-4, "block_weight_decay": 0.01, "epochs": 1500,
                          "patience": 100},
                per_dataset={
                    "citeseer": {"depth": 32, "width": 256, "theta": 0.6, "dropout": 0.7},
                    "pubmed": {"depth": 16, "width": 256, "theta": 0.4, "dropout": 0.5, "block_weight_decay": 5e-4},
                    "chameleon": {**_GCNII_FULL, "depth": 8, "theta": 1.5, "alpha": 0.2, "weight_decay": 5e-4},
                    "cornell": {**_GCNII_FULL, "depth": 16, "theta": 1.0, "weight_decay": 1e-3},
                    "texas": {**_GCNII_FULL, "depth": 32, "theta": 1.5, "weight_decay": 1e-4},
                    "wisconsin": {**_GCNII_FULL, "depth": 16, "theta": 1.0, "weight_decay": 5e-4},
                    "actor": {**_GCNII_FULL, "alpha": 0.9, "theta": 1.0, "weight_decay": 5e-4},
                    "squirrel": {**_GCNII_FULL, "alpha": 0.9, "theta": 1.0, "weight_decay": 5e-4},
                    "photo": _GCNII_PHOTO,
                    "computers": _GCNII_PHOTO,  # Computers' own validation chose the same
                    "cs": _GCNII_PHOTO,
                    "physics": _GCNII_PHOTO,
                })
def build_gcnii(params: GCNIIParams, data: Data, out_channels: int) -> nn.Module:
    return GCNII(data.num_features, out_channels, params)


# --- APPNP -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class APPNPParams(Config):
    """APPNP (Klicpera/Gasteiger et al., ICLR 2019, Sec. 6 and Appendix: an MLP of one hidden layer
    of 64 units with dropout 0.5, then K = 10 steps of personalised-PageRank propagation with
    teleport alpha = 0.1; Adam lr 0.01, L2 5e-3 on the first layer, patience 100 of at most 10000
    epochs). Two deviations: the paper's dropout on the adjacency matrix at every propagation step
    is not applied, and the L2 is PyG's citation benchmark's 5e-4 on every parameter
    (benchmark/citation/appnp.py): the paper's 5e-3 applied to every parameter, the output layer
    too, underfit Cora's public split (train loss 1.56 after 150 epochs, 57.8 % test, 3 seeds)."""

    width: int = option(64, "Hidden width of the MLP.", low=1)
    dropout: float = option(0.5, "Dropout before each MLP layer.", low=0.0, high=0.99)
    depth: int = option(10, "Propagation steps K: APPNP's message-passing depth.", low=1)
    alpha: float = option(0.1, "Teleport probability alpha.", low=0.0, high=1.0)

    def __post_init__(self) -> None:
        check_number("width", self.width, 1, integer=True)
        check_number("dropout", self.dropout, 0.0, 0.99)
        check_number("depth", self.depth, 1, integer=True)
        check_number("alpha", self.alpha, 0.0, 1.0)


class APPNPNet(nn.Module):
    """Dropout -> Linear -> ReLU -> dropout -> Linear, then PyG's ``APPNP`` propagation."""

    accepts_sparse_features = True  # forward takes fathom.graph.SparseFeatures for x

    def __init__(self, in_channels: int, out_channels: int, params: APPNPParams) -> None:
        super().__init__()
        self.dropout = params.dropout
        self.lin1 = nn.Linear(in_channels, params.width)
        self.lin2 = nn.Linear(params.width, out_channels)
        self.propagate = APPNP(params.depth, params.alpha, normalize=False)
        self.adjacency = GCNAdjacency(sparse=True)

    def forward(self, x: Tensor | SparseFeatures, edge_index: Tensor) -> Tensor:
        h = F.relu(input_linear(self.lin1, dropout(x, self.dropout, self.training)))
        h = self.lin2(dropout(h, self.dropout, self.training))
        return self.propagate(h, *self.adjacency(edge_index, x.size(0), x.dtype))


@register_model("appnp", APPNPParams, "APPNP (Gasteiger et al. 2019): an MLP, then PyG's personalised-PageRank "
                                      "propagation",
                training={"lr": 0.01, "weight_decay": 5e-4, "epochs": 10000, "patience": 100})
def build_appnp(params: APPNPParams, data: Data, out_channels: int) -> nn.Module:
    return APPNPNet(data.num_features, out_channels, params)


# --- DeeperGCN (res+) --------------------------------------------------------------------------------

DEEPGCN_NORMS = ("batch", "layer")


@dataclass(frozen=True)
class DeepGCNParams(Config):
    """DeeperGCN's pre-activation residual block "res+" (Li et al., arXiv 2006.07739, 2020;
    the authors' ogbn-arxiv setting, github.com/lightaime/deep_gcns_torch examples/ogb/ogbn_arxiv:
    28 layers, 128 hidden, batch norm, dropout 0.5, Adam lr 0.01, 500 epochs). Each block is
    ``x + conv(dropout(relu(norm(x))))`` (PyG's ``DeepGCNLayer``), between a linear encoder and a
    linear head. Deviation: the convolution is ``GCNConv`` on the GCN operator, not the paper's
    GENConv with a softmax aggregator, so that the baselines share one propagation."""

    depth: int = option(28, "Number of residual blocks.", low=1)
    width: int = option(128, "Hidden width.", low=1)
    dropout: float = option(0.5, "Dropout inside every block.", low=0.0, high=0.99)
    norm: str = option("batch", "Normalisation in every block: batch or layer.", choices=DEEPGCN_NORMS)

    def __post_init__(self) -> None:
        _check_sizes(self)
        check_choice("norm", self.norm, DEEPGCN_NORMS)


class DeeperGCN(nn.Module):
    """Linear encoder, ``depth`` ``DeepGCNLayer(block="res+")`` blocks, norm -> ReLU -> dropout -> head."""

    accepts_sparse_features = True  # forward takes fathom.graph.SparseFeatures for x

    def __init__(self, in_channels: int, out_channels: int, params: DeepGCNParams) -> None:
        super().__init__()
        width = params.width
        norm = nn.BatchNorm1d if params.norm == "batch" else nn.LayerNorm
        self.dropout = params.dropout
        self.encoder = nn.Linear(in_channels, width)
        self.layers = nn.ModuleList(
            DeepGCNLayer(GCNConv(width, width, normalize=False), norm(width), nn.ReLU(), block="res+",
                         dropout=params.dropout)
            for _ in range(params.depth))
        self.head = nn.Linear(width, out_channels)
        self.adjacency = GCNAdjacency(sparse=True)

    def forward(self, x: Tensor | SparseFeatures, edge_index: Tensor) -> Tensor:
        operator = self.adjacency(edge_index, x.size(0), x.dtype)
        x = self.layers[0].conv(input_linear(self.encoder, x), *operator)  # the first block has no residual input yet
        for layer in self.layers[1:]:
            x = layer(x, *operator)
        x = self.layers[0].act(self.layers[0].norm(x))
        return self.head(dropout(x, self.dropout, self.training))


@register_model("deepgcn", DeepGCNParams, "DeeperGCN res+ blocks (Li et al. 2020) from PyG's DeepGCNLayer and "
                                          "GCNConv",
                training={"lr": 0.01, "weight_decay": 0.0, "epochs": 500})
def build_deepgcn(params: DeepGCNParams, data: Data, out_channels: int) -> nn.Module:
    return DeeperGCN(data.num_features, out_channels, params)


# --- GCN + PairNorm ----------------------------------------------------------------------------------

PAIRNORM_MODES = ("PN", "PN-SI")


@dataclass(frozen=True)
class PairNormParams(Config):
    """GCN with PairNorm after every hidden convolution (Zhao & Akoglu, ICLR 2020; the authors'
    github.com/LingxiaoShawn/PairNorm main.py and README: DeepGCN, 10 layers, 64 hidden, mode PN,
    scale 1, dropout 0.6, Adam lr 0.005, L2 5e-4, 1500 epochs). Each hidden layer is dropout ->
    GCNConv -> PairNorm -> ReLU; the last is dropout -> GCNConv. Note: the paper's experiments used
    the row-normalised adjacency; this uses the GCN operator, for which the authors' README reports
    PairNorm working less well."""

    depth: int = option(10, "Number of GCNConv layers.", low=1)
    width: int = option(64, "Hidden width.", low=1)
    dropout: float = option(0.6, "Dropout before every layer.", low=0.0, high=0.99)
    scale: float = option(1.0, "PairNorm scale s.", low=0.0)
    mode: str = option("PN", "PN (centre, then one scale for all nodes) or PN-SI (each node scaled "
                             "individually).", choices=PAIRNORM_MODES)

    def __post_init__(self) -> None:
        _check_sizes(self)
        check_number("scale", self.scale, 0.0, low_open=True)
        check_choice("mode", self.mode, PAIRNORM_MODES)


class PairNormGCN(nn.Module):
    """GCNConv layers with PyG's ``PairNorm`` and ReLU after each but the last."""

    accepts_sparse_features = True  # forward takes fathom.graph.SparseFeatures for x

    def __init__(self, in_channels: int, out_channels: int, params: PairNormParams) -> None:
        super().__init__()
        sizes = [in_channels] + [params.width] * (params.depth - 1) + [out_channels]
        self.dropout = params.dropout
        self.convs = nn.ModuleList(GCNConv(a, b, normalize=False) for a, b in zip(sizes, sizes[1:]))
        self.norm = PairNorm(params.scale, scale_individually=params.mode == "PN-SI")
        self.adjacency = GCNAdjacency(sparse=True)

    def forward(self, x: Tensor | SparseFeatures, edge_index: Tensor) -> Tensor:
        operator = self.adjacency(edge_index, x.size(0), x.dtype)
        for conv in self.convs[:-1]:
            x = F.relu(self.norm(conv(pyg_input(dropout(x, self.dropout, self.training)), *operator)))
        return self.convs[-1](pyg_input(dropout(x, self.dropout, self.training)), *operator)


@register_model("gcn_pairnorm", PairNormParams, "GCN with PairNorm after every hidden layer (Zhao & Akoglu 2020)",
                training={"lr": 0.005, "weight_decay": 5e-4, "epochs": 1500})
def build_pairnorm(params: PairNormParams, data: Data, out_channels: int) -> nn.Module:
    return PairNormGCN(data.num_features, out_channels, params)


# --- GIN: graph classification's baseline -----------------------------------------------------------

@dataclass(frozen=True)
class GINParams(Config):
    """PyG's :class:`~torch_geometric.nn.models.GIN` (Xu et al., ICLR 2019, Sec. 7: GIN-0, i.e. eps
    fixed at 0; 2-layer MLPs with batch normalisation; hidden 64 on the bioinformatics graphs, 16 or
    32 on the social ones; dropout 0.5; Adam lr 0.01, halved every 50 epochs; batch size 32 or 128;
    readout: the sum over nodes of every layer's features, input layer included, dropout on the
    pooled features). Here: 5 GINConv layers as in PyG's ``examples/mutag_gin.py``; PyG's
    concatenating jumping-knowledge readout of the GINConv layers (not the input) and its output
    layer act on node features, which the graph task then sums per graph (equal to the output layer
    on the summed features, biases aside); PyG applies the dropout to node features after every
    layer; width 64 on every dataset; the paper's schedule (``lr_step`` 50, ``lr_gamma`` 0.5)."""

    depth: int = option(5, "Number of GINConv layers.", low=1)
    width: int = option(64, "Hidden width of every MLP.", low=1)
    dropout: float = option(0.5, "Dropout on the node features after every GINConv layer (PyG's GIN).",
                            low=0.0, high=0.99)

    def __post_init__(self) -> None:
        _check_sizes(self)


@register_model("gin", GINParams, "PyG's GIN (Xu et al. 2019), GIN-0 with batch norm and a jumping-knowledge "
                "readout", training={"lr": 0.01, "lr_step": 50, "lr_gamma": 0.5, "weight_decay": 0.0, "epochs": 350})
def build_gin(params: GINParams, data: Data, out_channels: int) -> nn.Module:
    return GIN(data.num_features, params.width, params.depth, out_channels, dropout=params.dropout,
               norm="batch_norm", jk="cat", train_eps=False)

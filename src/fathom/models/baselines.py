"""Baselines built from PyG's own models, with their papers' hyper-parameters as defaults."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn.models import GCN

from ..config import Config, check_number, option
from .registry import register_model


@dataclass(frozen=True)
class GCNParams(Config):
    """A stack of PyG ``GCNConv`` layers (Kipf & Welling, ICLR 2017: 2 layers, 16 hidden units,
    dropout 0.5; with Adam lr 0.01 and weight decay 5e-4, which are training settings)."""

    depth: int = option(2, "Number of GCNConv layers.", low=1)
    width: int = option(16, "Hidden width.", low=1)
    dropout: float = option(0.5, "Dropout before every layer.", low=0.0, high=0.99)

    def __post_init__(self) -> None:
        check_number("depth", self.depth, 1, integer=True)
        check_number("width", self.width, 1, integer=True)
        check_number("dropout", self.dropout, 0.0, 0.99)


@register_model("gcn", GCNParams, "PyG's GCN (Kipf & Welling 2017): GCNConv layers with ReLU and dropout")
def build_gcn(params: GCNParams, data: Data, out_channels: int) -> nn.Module:
    return GCN(data.num_features, params.width, params.depth, out_channels, dropout=params.dropout)

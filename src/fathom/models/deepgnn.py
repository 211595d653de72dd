"""``deepgnn``: Fathom's principled deep GNN (:class:`~fathom.nn.DeepGNN`) from a ModelConfig."""

from __future__ import annotations

from torch import nn
from torch_geometric.data import Data

from ..config import ModelConfig
from ..nn import DeepGNN
from .registry import register_model


@register_model("deepgnn", ModelConfig, "Fathom's DeepGNN: gnn_he init, residual aggregation, fixup residuals")
def build_deepgnn(config: ModelConfig, data: Data, out_channels: int) -> nn.Module:
    """A DeepGNN whose initialisation uses the Perron root of ``data``'s operator."""
    return DeepGNN.for_graph(config, data, out_channels)

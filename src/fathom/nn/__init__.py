"""PyG-compatible layers and models."""

from .conv import FathomConv
from .models import DeepGNN, DeepGNNBlock, fixup_
from .norm import make_norm
from .residual import residual_aggregation

__all__ = ["FathomConv", "DeepGNN", "DeepGNNBlock", "fixup_", "make_norm", "residual_aggregation"]

"""PyG-compatible layers and models."""

from .conv import FathomConv
from .models import DeepGNN, DeepGNNBlock
from .norm import make_norm

__all__ = ["FathomConv", "DeepGNN", "DeepGNNBlock", "make_norm"]

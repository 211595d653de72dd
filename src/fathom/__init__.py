"""Fathom: make very deep graph neural networks trainable, and show why."""

from .config import ConfigError, ModelConfig, TrainConfig
from .graph import AggregationOperator
from .nn import DeepGNN, FathomConv

__version__ = "0.1.0"

__all__ = ["AggregationOperator", "ConfigError", "DeepGNN", "FathomConv", "ModelConfig", "TrainConfig",
           "__version__"]

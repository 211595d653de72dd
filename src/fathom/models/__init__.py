"""Model factories by name: Fathom's ``deepgnn`` and PyG baselines, buildable from a dataset.

A sweep's run names a factory and its parameters, so runs of different models share one
results table. Register another with :func:`register_model`.
"""

from . import baselines, deepgnn  # noqa: F401  (registers the built-in factories)
from .registry import MODELS, ModelFactory, build_model, factory, register_model

__all__ = ["MODELS", "ModelFactory", "build_model", "factory", "register_model"]

"""Tables and figures shared by diagnose, sweep and reproduce."""

from .plots import plot_layer_metrics

__all__ = ["plot_layer_metrics"]

"""Tables and figures shared by diagnose, sweep and reproduce."""

from .markdown import Claim, claims_section, format_number, markdown_table
from .plots import plot_layer_metrics

__all__ = ["Claim", "claims_section", "format_number", "markdown_table", "plot_layer_metrics"]

"""Diagnostics of deep GNNs: signal scale, feature and gradient oversmoothing, gradient expansion."""

from .gradients import expansion_ratio, grad_mu, grad_mu_ratio, grad_norm
from .probe import Probe, probe
from .recorder import (FEATURE_METRICS, GRADIENT_METRICS, LAYER_METRICS, Recorder, layer_metrics, measure,
                       measure_at_init)
from .smoothing import dirichlet_energy, dominant_direction, effective_rank, mad, mean_cosine, mu, second_moment

__all__ = ["FEATURE_METRICS", "GRADIENT_METRICS", "LAYER_METRICS", "Probe", "Recorder", "dirichlet_energy",
           "dominant_direction", "effective_rank", "expansion_ratio", "grad_mu", "grad_mu_ratio", "grad_norm",
           "layer_metrics", "mad", "mean_cosine", "measure", "measure_at_init", "mu", "probe", "second_moment"]

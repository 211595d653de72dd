"""The linearized-GNN analysis of Xu et al. (2021): model, gradient-descent dynamics with Theorem 1's
``lambda_T`` and bound, and the graph quantities (sigma_min, optimal loss, label spread)."""

from .dynamics import (LinearProblem, Trajectory, bound_violation, gradient_descent, plain_lambda, restricted_lambda,
                       row_space_basis, squared_loss, theorem1_bound, train_full_graph, train_linear)
from .model import LinearizedGNN
from .quantities import (EXACT_LIMIT, SpectralSummary, Spectrum, depth_profile, design_matrix, graph_quantities,
                         one_hot_targets, propagated_features, spectral_summary, training_index)

__all__ = ["EXACT_LIMIT", "LinearProblem", "LinearizedGNN", "SpectralSummary", "Spectrum", "Trajectory", "bound_violation", "depth_profile",
           "design_matrix", "gradient_descent", "graph_quantities", "one_hot_targets", "plain_lambda",
           "propagated_features", "restricted_lambda", "row_space_basis", "spectral_summary", "squared_loss",
           "theorem1_bound", "train_full_graph", "train_linear", "training_index"]

"""Hooks that capture each block's output ``X_k`` and its gradient ``G_k = dL/dX_k``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from ..graph import AggregationOperator
from .gradients import grad_mu, grad_mu_ratio, grad_norm
from .smoothing import dirichlet_energy, dominant_direction, effective_rank, mad, mean_cosine, mu, second_moment

FEATURE_METRICS = ("second_moment", "mu", "dirichlet_energy", "mad", "mean_cosine", "effective_rank")
GRADIENT_METRICS = ("grad_norm", "grad_mu", "grad_mu_ratio", "weight_grad_norm")
LAYER_METRICS = FEATURE_METRICS + GRADIENT_METRICS

if TYPE_CHECKING:
    from ..config import ModelConfig


class Recorder:
    """Forward hooks on a list of modules (a :class:`~fathom.nn.DeepGNN`'s ``blocks`` or any
    module list): after a forward pass ``features[k]`` is module ``k``'s output, after a
    backward pass ``gradients[k]`` is the loss gradient with respect to it.

    Use as a context manager so the hooks are removed::

        with Recorder(model.blocks) as recorder:
            loss_fn(model(x, edge_index)).backward()
        recorder.features, recorder.gradients
    """

    def __init__(self, modules: Iterable[nn.Module]) -> None:
        self.modules = list(modules)
        self.features: list[Tensor | None] = [None] * len(self.modules)
        self.gradients: list[Tensor | None] = [None] * len(self.modules)
        self._handles = [module.register_forward_hook(self._capture(k)) for k, module in enumerate(self.modules)]

    def _capture(self, k: int) -> Callable:
        def hook(module: nn.Module, inputs, output: Tensor) -> None:
            self.features[k] = output.detach()
            if output.requires_grad:
                output.register_hook(lambda gradient: self.gradients.__setitem__(k, gradient.detach()))
        return hook

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _weight_grad_norm(module: nn.Module) -> float:
    squares = [p.grad.double().pow(2).sum() for p in module.parameters() if p.grad is not None]
    return float(torch.stack(squares).sum().sqrt()) if squares else 0.0


def layer_metrics(features: list[Tensor], gradients: list[Tensor | None], operator: AggregationOperator,
                  modules: list[nn.Module] | None = None, direction: Tensor | None = None) -> dict[str, list[float]]:
    """Every per-layer metric of :data:`LAYER_METRICS` from captured features and gradients."""
    metrics: dict[str, list[float]] = {name: [] for name in LAYER_METRICS}
    for k, x in enumerate(features):
        metrics["second_moment"].append(second_moment(x))
        metrics["mu"].append(mu(x, direction))
        metrics["dirichlet_energy"].append(dirichlet_energy(x, operator))
        metrics["mad"].append(mad(x))
        metrics["mean_cosine"].append(mean_cosine(x))
        metrics["effective_rank"].append(effective_rank(x))
        g = gradients[k]
        nan = float("nan")
        metrics["grad_norm"].append(grad_norm(g) if g is not None else nan)
        metrics["grad_mu"].append(grad_mu(g, direction) if g is not None else nan)
        metrics["grad_mu_ratio"].append(grad_mu_ratio(g, direction) if g is not None else nan)
        metrics["weight_grad_norm"].append(_weight_grad_norm(modules[k]) if modules is not None else nan)
    return metrics


def measure(model: nn.Module, data: Data, operator: AggregationOperator | None = None,
            direction: Tensor | None = None) -> dict[str, list[float]]:
    """One forward and backward pass of the training cross-entropy; the metrics of every block.

    ``model`` is a :class:`~fathom.nn.DeepGNN` (its ``blocks`` are recorded). Its parameter
    gradients are overwritten; its training state is restored afterwards.
    """
    device = next(model.parameters()).device
    x, y, train = data.x.to(device), data.y.to(device), data.train_mask.to(device)
    if operator is None:
        operator = model.operator_for(data.edge_index.to(device), x)
    was_training = model.training
    model.eval()  # no dropout: measure the network itself
    model.zero_grad(set_to_none=True)
    with Recorder(model.blocks) as recorder:
        F.cross_entropy(model(x, operator=operator)[train], y[train]).backward()
    model.train(was_training)
    features = [f for f in recorder.features if f is not None]
    if len(features) != len(model.blocks):
        raise RuntimeError("the recorder saw fewer block outputs than the model has blocks")
    return layer_metrics(features, recorder.gradients, operator, list(model.blocks), direction)


def measure_at_init(config: "ModelConfig", data: Data, seeds: Iterable[int] = (0,),
                    device: str | torch.device = "cpu", dominant: bool = False) -> dict[str, list[float]]:
    """The per-layer metrics of freshly initialised models, averaged over ``seeds``.

    The operator (and its Perron root, which ``gnn_he`` needs) is built once for the graph.
    ``mu`` projects out the constant vector, or with ``dominant=True`` the operator's dominant
    eigenvector (:func:`~fathom.diagnostics.smoothing.dominant_direction`). The graph is validated
    first (:func:`~fathom.data.validate_node_data`).
    """
    from ..data import num_classes, validate_node_data
    from ..nn import DeepGNN
    from ..runtime import seed_everything

    validate_node_data(data)
    base = DeepGNN.graph_operator(config, data)
    perron_root = base.perron_root()
    operator = base.to(device)
    direction = dominant_direction(base).to(device) if dominant else None
    runs = []
    for seed in seeds:
        seed_everything(seed)
        model = DeepGNN(config, data.num_features, num_classes(data), perron_root=perron_root).to(device)
        runs.append(measure(model, data, operator, direction))
    if not runs:
        raise ValueError("measure_at_init needs at least one seed")
    return mean_over_runs(runs)


def mean_over_runs(runs: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Layer-by-layer means of the metrics of several runs (seeds) of the same model."""
    return {name: [sum(run[name][k] for run in runs) / len(runs) for k in range(len(runs[0][name]))]
            for name in runs[0]}

"""Diagnostics of any PyG model: hook its message-passing layers, one forward and backward pass,
the per-layer table and verdict ``fathom diagnose`` gives for ``DeepGNN`` (PyG issue #9359)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from ..data.validate import check_labels, check_mask
from ..graph import AggregationOperator
from ..init import message_passing_layers
from ..runtime import seed_everything
from .recorder import LAYER_METRICS, Recorder, layer_metrics, mean_over_runs
from .smoothing import dominant_direction
from .verdict import Finding, verdict

Forward = Callable[[nn.Module, Data], Tensor]
Loss = Callable[[Tensor, Data], Tensor]


def default_forward(model: nn.Module, data: Data) -> Tensor:
    """``model(data.x, data.edge_index)``: the signature of PyG's models and layers."""
    return model(data.x, data.edge_index)


def default_loss(output: Tensor, data: Data) -> Tensor:
    """Cross-entropy of ``output`` against ``data.y`` on ``data.train_mask`` (all nodes without one).

    Raises :class:`~fathom.data.InvalidGraphError` naming the field when ``data.y`` does not hold
    one label per node below the model's ``output.size(-1)`` classes, or the mask is not boolean
    over the nodes.
    """
    check_labels(getattr(data, "y", None), output.size(0), output.size(-1), "the model's outputs")
    mask = getattr(data, "train_mask", None)
    if mask is None:
        return F.cross_entropy(output, data.y)
    check_mask(mask, "train_mask", output.size(0))
    return F.cross_entropy(output[mask], data.y[mask])


@dataclass
class Probe:
    """Per-layer metrics (:data:`~fathom.diagnostics.LAYER_METRICS`, means over seeds) of the
    probed modules, in forward order, and the plain-language verdict on them."""

    layers: list[str]
    metrics: dict[str, list[float]]
    findings: list[Finding] = field(default_factory=list)
    seeds: list[int] | None = None

    def rows(self, columns: Sequence[str] = LAYER_METRICS, layers: Iterable[int] | None = None) -> list[dict]:
        """One dict per layer (1-based ``layer``, its module ``name`` and the ``columns``)."""
        chosen = layers if layers is not None else range(1, len(self.layers) + 1)
        return [{"layer": k, "name": self.layers[k - 1], **{c: self.metrics[c][k - 1] for c in columns}}
                for k in chosen]

    def to_dict(self) -> dict:
        return {"layers": self.layers, **self.metrics, "seeds": self.seeds,
                "verdict": [{"mode": f.mode, "present": f.present, "evidence": f.evidence, "remedy": f.remedy}
                            for f in self.findings]}


def _resolve(model: nn.Module, modules: Sequence[str | nn.Module] | None) -> tuple[list[str], list[nn.Module]]:
    if modules is None:
        named = list(message_passing_layers(model))
        if not named:
            raise ValueError(f"{type(model).__name__} has no MessagePassing layer to probe: name the modules")
        return [name for name, _ in named], [module for _, module in named]
    by_name = dict(model.named_modules())
    by_module = {id(module): name for name, module in by_name.items()}
    names, found = [], []
    for item in modules:
        if isinstance(item, str):
            if item not in by_name:
                raise ValueError(f"the model has no module named {item!r}; named modules include "
                                 f"{', '.join(list(by_name)[1:6])}, ...")
            names.append(item)
            found.append(by_name[item])
        elif id(item) in by_module:
            names.append(by_module[id(item)])
            found.append(item)
        else:
            raise ValueError(f"module {type(item).__name__} is not part of the model")
    return names, found


def _probe_once(model: nn.Module, data: Data, modules, forward: Forward, loss: Loss,
                operator: AggregationOperator, direction: Tensor | None) -> tuple[list[str], dict[str, list[float]]]:
    names, hooked = _resolve(model, modules)
    was_training = model.training
    model.eval()  # no dropout: measure the network itself
    model.zero_grad(set_to_none=True)
    try:
        with Recorder(hooked) as recorder:
            loss(forward(model, data), data).backward()
    finally:
        model.train(was_training)
    missing = [name for name, f in zip(names, recorder.features) if f is None]
    if missing:
        raise RuntimeError(f"the forward pass never ran the probed modules {missing}")
    return names, layer_metrics(recorder.features, recorder.gradients, operator, hooked, direction)


def probe(model: nn.Module | Callable[[], nn.Module], data: Data,
          modules: Sequence[str | nn.Module] | None = None, *, seeds: Iterable[int] | None = None,
          forward: Forward = default_forward, loss: Loss = default_loss, dominant: bool = False) -> Probe:
    """Measure every message-passing layer of ``model`` on ``data`` (or the ``modules`` named).

    One forward and backward pass (``loss``, by default the training cross-entropy) with hooks on
    the modules, as :func:`~fathom.diagnostics.measure` does for ``DeepGNN``'s blocks: the layer
    outputs ``X_k`` and their gradients ``G_k`` give second moment, ``mu``, Dirichlet energy, MAD,
    mean cosine, effective rank and the gradient metrics. ``model`` is a module (measured as it
    is) or a factory called once per seed of ``seeds`` after seeding, e.g.
    ``lambda: principled_(GCN(...), data)``; the metrics are then means over seeds. ``mu``
    projects out the constant vector, or with ``dominant=True`` the ``gcn`` operator's ``D^1/2 1``.
    The model's parameter gradients are overwritten; its training state is restored.
    """
    operator = AggregationOperator.from_data(data, "gcn")
    direction = dominant_direction(operator) if dominant else None
    if isinstance(model, nn.Module):
        if seeds is not None:
            raise ValueError("seeds need a model factory (a function returning a fresh model), not a built model")
        names, metrics = _probe_once(model, data, modules, forward, loss, operator, direction)
        return Probe(names, metrics, verdict(metrics))
    seed_list = list(seeds if seeds is not None else [0])
    if not seed_list:
        raise ValueError("probe needs at least one seed")
    runs = []
    for seed in seed_list:
        seed_everything(seed)
        names, metrics = _probe_once(model(), data, modules, forward, loss, operator, direction)
        runs.append(metrics)
    mean = mean_over_runs(runs)
    return Probe(names, mean, verdict(mean), seed_list)

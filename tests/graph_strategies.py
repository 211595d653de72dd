"""Hypothesis strategies for small node-classification graphs, valid or with one named fault,
and the rule every property test checks: an example ends in finite numbers or in Fathom's own error.

Graphs have 1-12 nodes and 0-4 features; edges are drawn as (source, target) pairs, so self-loops, duplicate
edges, one-way edges and isolated nodes all occur. Features are bounded (``|x| <= 1e4``: float32
products of larger features overflow in any model, which no check could prevent) and sometimes all
zero (a model then gets :class:`~fathom.graph.SparseFeatures`). A valid graph without a declared
class count has every class ``0..max(y)`` present (the rule of :func:`fathom.data.validate.check_labels`).
"""

from __future__ import annotations

import traceback
from pathlib import Path

import torch
from hypothesis import strategies as st
from torch_geometric.data import Data

import fathom
from fathom.config import (ACTIVATION_POSITIONS, ACTIVATIONS, AGGREGATIONS, COMPONENT_SCALINGS, CONVS, INITS, IOS,
                           MEMORY_MODES, NORM_BOUNDS, NORMS, RESIDUALS, ConfigError, ModelConfig)
from fathom.data import DatasetError

FATHOM_SOURCE = Path(fathom.__file__).resolve().parent

# One fault per graph; each must make validate_node_data raise InvalidGraphError naming the field.
FAULTS = {
    "label above the declared count": "data.y holds class label",
    "label above a missing class": "data.y holds class label",
    "negative label": "data.y holds a negative class label",
    "float labels": "data.y must hold integer class labels",
    "missing labels": "data.y is missing",
    "labels of the wrong length": "data.y must have one label per node",
    "integer features": "data.x must be floating point",
    "non-finite features": "data.x contains NaN or inf values",
    "0/1 integer mask": "must be a boolean mask of length",
    "mask of the wrong length": "must have shape",
    "empty training mask": "data.train_mask selects no nodes",
    "edge to a missing node": "data.edge_index refers to node",
    "negative edge index": "data.edge_index holds a negative node index",
    "float edge index": "data.edge_index must hold integer node indices",
}

finite_features = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def edge_indices(draw, num_nodes: int) -> torch.Tensor:
    """``[2, E]`` edges among ``num_nodes`` nodes: any pairs (self-loops, duplicates, one-way),
    sometimes made undirected by adding every reverse edge."""
    node = st.integers(0, num_nodes - 1)
    pairs = draw(st.lists(st.tuples(node, node), max_size=3 * num_nodes))
    if draw(st.booleans()):
        pairs += [(j, i) for i, j in pairs]
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).t().contiguous()


@st.composite
def node_graphs(draw, fault: str | None = None) -> Data:
    """A node-classification graph; with ``fault`` (a key of :data:`FAULTS`) exactly that fault."""
    n = draw(st.integers(1, 12))
    num_features = draw(st.integers(0, 4))
    if draw(st.integers(0, 3)) == 0:
        x = torch.zeros(n, num_features)
    else:
        x = torch.tensor(draw(st.lists(finite_features, min_size=n * num_features, max_size=n * num_features)),
                         dtype=torch.float32).reshape(n, num_features)
    classes = draw(st.integers(1, 4))
    y = torch.tensor(draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)))
    declared = draw(st.booleans())
    if not declared:
        y = torch.unique(y, return_inverse=True)[1]  # classes 0..C-1, each present
    masks = {name: torch.tensor(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=torch.bool)
             for name in ("train_mask", "val_mask", "test_mask")}
    masks["train_mask"][draw(st.integers(0, n - 1))] = True
    data = Data(x=x, edge_index=draw(edge_indices(n)), y=y, num_nodes=n, **masks)
    if declared:
        data.num_classes = classes
    if fault is not None:
        _inject(draw, data, fault, classes if declared else int(y.max()) + 1)
    return data


def _inject(draw, data: Data, fault: str, classes: int) -> None:
    n = data.num_nodes
    node = draw(st.integers(0, n - 1))
    mask = draw(st.sampled_from(["train_mask", "val_mask", "test_mask"]))
    if fault == "label above the declared count":
        data.num_classes = classes
        data.y[node] = classes + draw(st.integers(0, 100))
    elif fault == "label above a missing class":
        if hasattr(data, "num_classes"):
            del data.num_classes
        data.y = torch.unique(data.y, return_inverse=True)[1]
        data.y[node] = int(data.y.max()) + draw(st.integers(2, 100))  # label max+1 has no node
    elif fault == "negative label":
        data.y[node] = -draw(st.integers(1, 100))
    elif fault == "float labels":
        data.y = data.y.float()
    elif fault == "missing labels":
        del data.y
    elif fault == "labels of the wrong length":
        data.y = torch.cat([data.y, data.y[:1]]) if draw(st.booleans()) else data.y[:-1]
    elif fault == "integer features":
        data.x = data.x.round().long()
    elif fault == "non-finite features":
        if data.x.size(1) == 0:
            data.x = torch.zeros(n, 1)
        data.x[node, draw(st.integers(0, data.x.size(1) - 1))] = draw(st.sampled_from(
            [float("nan"), float("inf"), -float("inf")]))
    elif fault == "0/1 integer mask":
        data[mask] = data[mask].long()
    elif fault == "mask of the wrong length":
        data[mask] = torch.cat([data[mask], data[mask][:1]]) if draw(st.booleans()) else data[mask][:-1]
    elif fault == "empty training mask":
        data.train_mask = torch.zeros(n, dtype=torch.bool)
    elif fault == "edge to a missing node":
        data.edge_index = torch.cat([data.edge_index, torch.tensor([[node], [n + draw(st.integers(0, 5))]])], dim=1)
    elif fault == "negative edge index":
        data.edge_index = torch.cat([data.edge_index, torch.tensor([[-draw(st.integers(1, 5))], [node]])], dim=1)
    elif fault == "float edge index":
        data.edge_index = data.edge_index.float()
    else:
        raise KeyError(fault)


# Fields reset to their default, in this order, until the configuration accepts the combination drawn.
_OPTIONAL = ("identity_mapping", "initial_residual", "heads", "conv", "norm", "memory", "init", "dropout")


@st.composite
def model_configs(draw) -> ModelConfig:
    """A small :class:`~fathom.config.ModelConfig` (depth 1-3, width 1-8) with every other choice drawn;
    a combination the configuration refuses (a ConfigError) loses its optional features one by one."""
    fields = {
        "depth": draw(st.integers(1, 3)), "width": draw(st.integers(1, 8)),
        "aggregation": draw(st.sampled_from(AGGREGATIONS)), "residual_aggregation": draw(st.floats(0.0, 1.0)),
        "residual": draw(st.sampled_from(RESIDUALS)), "init": draw(st.sampled_from(INITS)),
        "norm": draw(st.sampled_from(NORMS)), "activation": draw(st.sampled_from(ACTIVATIONS)),
        "activation_position": draw(st.sampled_from(ACTIVATION_POSITIONS)),
        "dropout": draw(st.sampled_from([0.0, 0.5])), "initial_residual": draw(st.sampled_from([0.0, 0.3])),
        "memory": draw(st.sampled_from(MEMORY_MODES)), "component_scaling": draw(st.sampled_from(COMPONENT_SCALINGS)),
        "io": draw(st.sampled_from(IOS)), "conv": draw(st.sampled_from(CONVS)), "heads": draw(st.integers(1, 2)),
        "norm_bound": draw(st.sampled_from(NORM_BOUNDS)), "identity_mapping": draw(st.sampled_from([None, 0.5])),
        "input_dropout": draw(st.sampled_from([0.0, 0.5])),
    }
    defaults = ModelConfig()
    for name in (None, *_OPTIONAL):
        if name is not None:
            fields[name] = getattr(defaults, name)
        try:
            return ModelConfig(**fields)
        except ConfigError:
            continue
    raise AssertionError(f"no valid configuration from {fields}")


def is_own_error(error: BaseException) -> bool:
    """Whether ``error`` is Fathom's own: a :class:`~fathom.data.DatasetError` (``InvalidGraphError``...),
    or a ``ValueError``/``TypeError`` raised by Fathom's code itself (its innermost frame is in the
    package: ``graph``, ``init`` and the configurations raise these, naming the problem). Errors
    raised inside torch, PyG or numpy, and IndexError, RuntimeError, AttributeError never count."""
    if isinstance(error, DatasetError):
        return True
    if type(error) in (IndexError, KeyError, AttributeError) or isinstance(error, (RuntimeError, ArithmeticError)):
        return False
    if not isinstance(error, (ValueError, TypeError)):
        return False
    innermost = Path(traceback.extract_tb(error.__traceback__)[-1].filename).resolve()
    return innermost.is_relative_to(FATHOM_SOURCE)


def all_finite(*tensors: torch.Tensor) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)

"""Reject graphs Fathom cannot train on before training starts, naming the offending field."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data

from .errors import InvalidGraphError
from .splits import MASKS


def num_classes(data: Data) -> int:
    """Number of classes of a node-classification graph: ``data.num_classes`` where the graph
    declares it (every graph :func:`~fathom.data.load_dataset` returns does), else ``max(y) + 1``."""
    declared = getattr(data, "num_classes", None)
    if declared is not None:
        return _declared_classes(declared)
    return int(data.y.max()) + 1 if data.y.numel() else 0


def _declared_classes(declared: object) -> int:
    if isinstance(declared, Tensor) and declared.numel() == 1 and not declared.is_floating_point():
        declared = int(declared)
    if isinstance(declared, bool) or not isinstance(declared, int) or declared < 1:
        raise InvalidGraphError(f"data.num_classes must be a positive integer (the number of classes); "
                                f"got {declared!r}")
    return declared


def _gaps(present: list[int]) -> str:
    """The labels below ``max(present)`` that are absent, as spans: ``[0, 1, 2, 99]`` gives ``3..98``."""
    spans, expected = [], 0
    for label in present:  # sorted
        if label > expected:
            spans.append(f"{expected}..{label - 1}" if label - 1 > expected else str(expected))
        expected = label + 1
    return ", ".join(spans)


def _check_edge_index(edge_index: Tensor | None, num_nodes: int) -> None:
    if edge_index is None:
        raise InvalidGraphError("data.edge_index is missing (give a [2, E] integer tensor, E may be 0)")
    if edge_index.is_floating_point() or edge_index.dtype == torch.bool or edge_index.is_complex():
        raise InvalidGraphError(f"data.edge_index must hold integer node indices; got dtype {edge_index.dtype} "
                                "(convert it with .long())")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise InvalidGraphError(f"data.edge_index must have shape [2, E]; got {list(edge_index.shape)}")
    if edge_index.numel() == 0:
        return
    low, high = int(edge_index.min()), int(edge_index.max())
    if low < 0:
        raise InvalidGraphError(f"data.edge_index holds a negative node index ({low}); indices must lie in "
                                f"[0, {num_nodes - 1}]")
    if high >= num_nodes:
        raise InvalidGraphError(f"data.edge_index refers to node {high} but the graph has {num_nodes} nodes "
                                f"(indices must lie in [0, {num_nodes - 1}])")


def _check_features(x: Tensor | None, num_nodes: int) -> None:
    if x is None:
        raise InvalidGraphError("data.x is missing: the graph has no node features")
    if not x.is_floating_point():
        raise InvalidGraphError(f"data.x must be floating point; got dtype {x.dtype} (convert it with .float())")
    if x.dim() != 2 or x.size(0) != num_nodes:
        raise InvalidGraphError(f"data.x must have shape [num_nodes={num_nodes}, F]; got {list(x.shape)}")
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = int((~finite).any(dim=1).sum())
        raise InvalidGraphError(f"data.x contains NaN or inf values ({bad} nodes affected)")


def check_structure(data: Data) -> None:
    """Raise :class:`InvalidGraphError` unless ``data`` has an ``edge_index`` within its nodes and
    finite floating-point features, one row per node (what any task needs of a graph)."""
    _check_edge_index(data.edge_index, data.num_nodes)
    _check_features(data.x, data.num_nodes)


def check_labels(y: Tensor | None, num_nodes: int, classes: int | None = None, source: str = "") -> None:
    """Raise :class:`InvalidGraphError` unless ``y`` holds one integer class label per node in ``0..classes-1``.

    ``source`` says where ``classes`` comes from in the message (``"data.num_classes"``).
    Without ``classes`` the labels must run ``0..C-1`` with every class present: a label far above
    the rest (``99`` among ``0..2``) would otherwise make a model with 100 outputs. A graph whose
    classes really skip a label declares its count as ``data.num_classes``.
    """
    if y is None:
        raise InvalidGraphError("data.y is missing: the graph has no node labels")
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise InvalidGraphError(f"data.y must hold integer class labels; got dtype {y.dtype} "
                                "(convert whole-number labels with .long())")
    if y.dim() != 1 or y.size(0) != num_nodes:
        raise InvalidGraphError(f"data.y must have one label per node ({num_nodes}, the rows of data.x); "
                                f"got shape {list(y.shape)}")
    if not y.numel():
        return
    if int(y.min()) < 0:
        raise InvalidGraphError(f"data.y holds a negative class label ({int(y.min())}); labels must be 0..C-1")
    top = int(y.max())
    if classes is not None:
        if top >= classes:
            raise InvalidGraphError(f"data.y holds class label {top} but there are {classes} classes "
                                    f"({source + ': ' if source else ''}labels must be 0..{classes - 1})")
        return
    present = torch.unique(y)
    if present.numel() <= top:
        raise InvalidGraphError(
            f"data.y holds class label {top} but no node has label {_gaps(present.tolist())}: labels must run 0..C-1 "
            f"with every class present; if the graph has {top + 1} classes, some without nodes, set "
            f"data.num_classes = {top + 1}")


def check_mask(mask: Tensor | None, name: str, num_nodes: int) -> None:
    """Raise :class:`InvalidGraphError` unless ``mask`` (``data.<name>``) is a boolean mask over the nodes."""
    if mask is None:
        raise InvalidGraphError(f"data.{name} is missing (give a boolean mask over the nodes)")
    if mask.dtype != torch.bool:
        raise InvalidGraphError(f"data.{name} must be a boolean mask of length {num_nodes}; got dtype {mask.dtype} "
                                "(an integer tensor indexes nodes by number: convert a 0/1 mask with .bool())")
    if mask.dim() != 1 or mask.size(0) != num_nodes:
        raise InvalidGraphError(f"data.{name} must have shape [{num_nodes}]; got {list(mask.shape)} "
                                "(a dataset with several splits needs one chosen)")


def _check_masks(data: Data, num_nodes: int) -> None:
    for name in MASKS:
        check_mask(getattr(data, name, None), name, num_nodes)
    if not bool(data.train_mask.any()):
        raise InvalidGraphError("data.train_mask selects no nodes: the training mask is empty")


def validate_node_data(data: Data, num_classes: int | None = None) -> None:
    """Raise :class:`InvalidGraphError` naming the field if ``data`` is not a trainable node-classification graph.

    Checks ``edge_index`` (integer, ``[2, E]``, indices in ``[0, N)``), ``x`` (present, floating
    point, finite, ``N`` rows), ``y`` (present, integer, one per row of ``x``, in ``0..C-1``) and
    the three masks (boolean, length ``N``, non-empty training mask). ``C`` is ``num_classes`` (a
    model with that many outputs), else the graph's declared ``data.num_classes``; a graph that
    declares neither must have every class ``0..max(y)`` present (see :func:`check_labels`).
    """
    num_nodes = data.num_nodes
    if not num_nodes:
        raise InvalidGraphError("data.num_nodes is 0: the graph has no nodes")
    _check_features(data.x, num_nodes)
    _check_edge_index(data.edge_index, num_nodes)
    declared = getattr(data, "num_classes", None)
    source = ""
    if num_classes is None and declared is not None:
        num_classes, source = _declared_classes(declared), "data.num_classes"
    check_labels(data.y, num_nodes, num_classes, source)
    _check_masks(data, num_nodes)

"""Transductive node classification: one graph, train/val/test node masks."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from ..data import describe, num_classes, validate_node_data
from ..graph import SparseFeatures, density

SPARSE_FEATURES_BELOW = 0.1  # feature density under which a model that accepts it gets sparse features


def accuracy(logits: Tensor, labels: Tensor) -> float:
    """Fraction of rows whose arg-max equals the label (NaN for no rows)."""
    if labels.numel() == 0:
        return math.nan
    return float((logits.argmax(dim=-1) == labels).float().mean())


def mean_loss(logits: Tensor, labels: Tensor) -> float:
    """Mean cross-entropy of the rows (NaN for no rows)."""
    return float(F.cross_entropy(logits, labels)) if labels.numel() else math.nan


class NodeClassification:
    """Cross-entropy on the training nodes of one graph, full batch; accuracy on each mask.

    The model is called as ``model(x, edge_index)`` and returns ``[N, C]`` logits. A model whose
    class sets ``accepts_sparse_features = True`` (Fathom's :class:`~fathom.nn.DeepGNN` and the node
    baselines of :mod:`fathom.models.baselines`) gets
    :class:`~fathom.graph.SparseFeatures` when under 10% of the features are non-zero.
    The graph is validated when the task is made, before any training.
    """

    kind = "node"
    metrics = ("train_acc", "val_acc", "val_loss", "test_acc")  # the per-epoch columns after train_loss
    reported = "test_acc"  # the metric read at the epoch that TrainConfig.selection picks

    def __init__(self, data: Data) -> None:
        validate_node_data(data)
        self.data = data
        self.num_classes = num_classes(data)
        self.in_channels = data.num_features
        self.chance_loss = math.log(max(self.num_classes, 2))  # cross-entropy of a uniform prediction
        self._device = torch.device("cpu")
        self._place(data.x.device if data.x is not None else self._device)

    def _place(self, device: torch.device) -> None:
        self._device = torch.device(device)
        self.x = self.data.x.to(device)
        self.edge_index = self.data.edge_index.to(device)
        self.y = self.data.y.to(device)
        self.masks = {split: getattr(self.data, f"{split}_mask").to(device) for split in ("train", "val", "test")}
        self._sparse = SparseFeatures(self.x) if density(self.x) < SPARSE_FEATURES_BELOW else None

    @property
    def model_graph(self) -> Data:
        """The graph a model is built for (its features' width, its operator's Perron root)."""
        return self.data

    def to(self, device: torch.device | str) -> "NodeClassification":
        """Move the graph to ``device`` (in place; returns the task)."""
        if torch.device(device) != self._device:
            self._place(torch.device(device))
        return self

    def describe(self) -> str:
        return describe(self.data)

    def inputs(self, model: nn.Module) -> tuple[Tensor | SparseFeatures, Tensor]:
        """``(x, edge_index)`` for ``model``: sparse features where the model accepts them."""
        sparse = self._sparse is not None and getattr(model, "accepts_sparse_features", False)
        return (self._sparse if sparse else self.x), self.edge_index

    def batches(self) -> Iterator[None]:
        """One full batch per epoch."""
        yield None

    def loss(self, model: nn.Module, batch: Any = None) -> tuple[Tensor, dict[str, float]]:
        """Training loss on the training nodes, and the training accuracy of the same pass."""
        logits = model(*self.inputs(model))
        train = self.masks["train"]
        loss = F.cross_entropy(logits[train], self.y[train])
        return loss, {"train_acc": accuracy(logits[train].detach(), self.y[train])}

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation and test accuracy, and the validation loss, in evaluation mode (no dropout)."""
        was_training = model.training
        model.eval()
        logits = model(*self.inputs(model))
        model.train(was_training)
        scores = {f"{split}_acc": accuracy(logits[self.masks[split]], self.y[self.masks[split]])
                  for split in ("val", "test")}
        return {**scores, "val_loss": mean_loss(logits[self.masks["val"]], self.y[self.masks["val"]])}

"""Graph classification: many small labelled graphs, mini-batches, a readout, k-fold cross-validation.

The protocol is the standard one of the TU benchmarks (Xu et al. 2019, GIN; Errica et al. 2020):
stratified 10-fold cross-validation, reported as mean ± std over the folds. Each fold's test graphs
are never used for selection: a stratified 10% of the other nine folds is held out for validation,
and the reported test accuracy is read at the epoch of best validation accuracy (Errica et al.'s
holdout selection; GIN's paper instead picked one epoch for all folds by mean validation accuracy).

A node model is used as is: ``model(x, edge_index)`` on a batch (the disjoint union of its graphs)
gives ``[N, C]`` node outputs, and the readout pools them per graph, ``sum`` or ``mean``. When the
model ends in a linear layer, pooling its outputs equals applying that layer to the pooled
embeddings (for ``mean`` exactly; for ``sum`` up to the bias counted once per node).

Initialisation across graphs: the operator of a batch is block-diagonal over its graphs, and
``gnn_he``'s ``C_W = 2 / lambda^2`` keeps graph ``g``'s scale only when its Perron root
``lambda_g`` equals ``lambda``; otherwise it changes by ``(lambda_g / lambda)^2`` per layer. No
single weight variance fits graphs of different roots, and a batch's root (its largest graph's)
changes from batch to batch while the weights do not. ``gcn`` and ``mean`` aggregation have
``lambda_g = 1`` in every graph, so ``gnn_he`` with ``lambda = 1`` is exact for every graph of every
batch. Under ``sum``, ``component_scaling="unit"`` divides each graph's block by its own Perron root
(so again ``lambda = 1`` for all); without it, the model is initialised with the largest root of
the training and validation graphs (:attr:`GraphClassification.model_graph`), a bound that no
graph's scale exceeds but that lets the smaller graphs' features shrink with depth.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader
from torch_geometric.nn import global_add_pool, global_mean_pool
from torch_geometric.utils import degree

from ..config import BATCH_SIZE
from ..data import InvalidGraphError, check_structure
from .node import accuracy

POOLS = {"sum": global_add_pool, "mean": global_mean_pool}  # one per fathom.config.READOUTS
DEFAULT_FOLDS = 10
VALIDATION_FRACTION = 0.1  # of the training folds, stratified: the holdout that selects the epoch


def stratified_folds(labels: Tensor, folds: int = DEFAULT_FOLDS, seed: int = 0) -> list[Tensor]:
    """``folds`` disjoint index sets covering ``range(len(labels))``, each holding every class in
    proportion (class by class, a seeded shuffle dealt round-robin from a rotating start, so fold
    sizes differ by at most one per class)."""
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds; got {folds}")
    if labels.numel() < folds:
        raise ValueError(f"{labels.numel()} graphs cannot be split into {folds} folds")
    generator = torch.Generator().manual_seed(seed)
    members: list[list[int]] = [[] for _ in range(folds)]
    start = 0
    for label in torch.unique(labels):
        chosen = (labels == label).nonzero().flatten()
        chosen = chosen[torch.randperm(chosen.numel(), generator=generator)]
        for position, index in enumerate(chosen.tolist()):
            members[(start + position) % folds].append(index)
        start = (start + chosen.numel()) % folds
    return [torch.tensor(sorted(fold), dtype=torch.long) for fold in members]


def with_degree_features(graphs: list[Data]) -> list[Data]:
    """Graphs without node features get the one-hot degree (GIN's choice for the social datasets),
    one column per degree up to the dataset's largest (no labels are read)."""
    missing = sum(graph.x is None for graph in graphs)
    if missing == 0:
        return graphs
    if missing < len(graphs):
        raise InvalidGraphError(f"{missing} of {len(graphs)} graphs have no node features (data.x): give all "
                                "graphs features, or none (then each node gets its one-hot degree)")
    degrees = [degree(graph.edge_index[1], graph.num_nodes, dtype=torch.long) for graph in graphs]
    width = max(int(d.max()) if d.numel() else 0 for d in degrees) + 1
    featured = []
    for graph, d in zip(graphs, degrees):
        graph = graph.clone()
        graph.x = F.one_hot(d, width).float()
        featured.append(graph)
    return featured


def graph_labels(graphs: list[Data]) -> Tensor:
    """Each graph's class label, after checking each graph (one integer label in ``data.y``, its
    structure) and the labels together (``0..C-1`` with every class present)."""
    labels = []
    for i, graph in enumerate(graphs):
        try:
            check_structure(graph)
        except InvalidGraphError as error:
            raise InvalidGraphError(f"graph {i}: {error}") from error
        y = graph.y
        if y is None or y.numel() != 1 or y.is_floating_point() or y.dtype == torch.bool:
            got = "none" if y is None else f"shape {list(y.shape)}, dtype {y.dtype}"
            raise InvalidGraphError(f"graph {i}: data.y must hold the graph's one integer class label; got {got}")
        labels.append(int(y))
    labels = torch.tensor(labels)
    if int(labels.min()) < 0:
        raise InvalidGraphError(f"graph labels must be class indices 0..C-1; got {int(labels.min())}")
    missing = sorted(set(range(int(labels.max()) + 1)) - set(labels.tolist()))
    if missing:
        raise InvalidGraphError(f"graph labels must run 0..C-1 with every class present; no graph has label "
                                f"{', '.join(map(str, missing[:5]))}{' ...' if len(missing) > 5 else ''}")
    return labels


class GraphClassification:
    """Cross-entropy on the pooled node outputs of mini-batches of graphs; fold ``fold`` of a
    stratified ``folds``-fold split is the test set (see the module docstring).

    Args:
        dataset: a sequence of ``Data`` graphs, each with a one-element ``y`` (a PyG ``TUDataset``).
        fold: which fold is the test set, ``0 <= fold < folds``.
        folds: number of cross-validation folds.
        seed: seed of the folds and of the validation holdout (the batch order follows torch's
            global generator, which ``fit`` seeds).
        batch_size: training graphs per optimizer step (GIN: 32 or 128).
        readout: ``sum`` or ``mean`` pooling of the node outputs per graph.
    """

    kind = "graph"
    metrics = ("train_acc", "val_acc", "val_loss", "test_acc")
    reported = "test_acc"

    def __init__(self, dataset: Any, fold: int = 0, folds: int = DEFAULT_FOLDS, seed: int = 0,
                 batch_size: int = BATCH_SIZE, readout: str = "sum") -> None:
        if readout not in POOLS:
            raise ValueError(f"readout must be one of {', '.join(POOLS)}; got {readout!r}")
        if not 0 <= fold < folds:
            raise ValueError(f"fold must lie in 0..{folds - 1}; got {fold}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1; got {batch_size}")
        graphs = with_degree_features([graph for graph in dataset])
        if not graphs:
            raise InvalidGraphError("the graph dataset is empty")
        labels = graph_labels(graphs)
        self.name = getattr(dataset, "name", "graphs")
        self.fold, self.folds, self.seed, self.batch_size = fold, folds, seed, batch_size
        self.readout = readout
        self.pool = POOLS[readout]
        self.num_classes = int(labels.max()) + 1
        self.in_channels = graphs[0].num_features
        self.chance_loss = math.log(max(self.num_classes, 2))
        self.graphs, self.labels = graphs, labels
        self.index = self._split(labels, fold, folds, seed)
        self._device = torch.device("cpu")
        self._evaluation = {split: self._collate(split) for split in ("val", "test")}

    @staticmethod
    def _split(labels: Tensor, fold: int, folds: int, seed: int) -> dict[str, Tensor]:
        """Test: fold ``fold``; validation: a stratified tenth of the rest; train: the remainder."""
        test = stratified_folds(labels, folds, seed)[fold]
        rest = torch.ones(labels.numel(), dtype=torch.bool)
        rest[test] = False
        rest = rest.nonzero().flatten()
        holdout = round(1 / VALIDATION_FRACTION)
        if rest.numel() < holdout:
            raise ValueError(f"{rest.numel()} training graphs are too few to hold out a validation tenth "
                             f"(at least {holdout} are needed)")
        val = rest[stratified_folds(labels[rest], holdout, seed + 1)[0]]
        train = rest[~torch.isin(rest, val)]
        return {"train": train, "val": val, "test": test}

    def _collate(self, split: str) -> list[Batch]:
        chosen = [self.graphs[i] for i in self.index[split].tolist()]
        return [batch.to(self._device) for batch in DataLoader(chosen, batch_size=256, shuffle=False)]

    @functools.cached_property
    def model_graph(self) -> Data:
        """The training and validation graphs as one disjoint graph: what a model is built for (its
        operator's Perron root is the largest of theirs); the test fold does not shape the model."""
        chosen = torch.cat([self.index["train"], self.index["val"]]).sort().values.tolist()
        batch = Batch.from_data_list([self.graphs[i] for i in chosen])
        return Data(x=batch.x, edge_index=batch.edge_index, num_nodes=batch.num_nodes)

    def to(self, device: torch.device | str) -> "GraphClassification":
        if torch.device(device) != self._device:
            self._device = torch.device(device)
            self._evaluation = {split: self._collate(split) for split in ("val", "test")}
        return self

    def describe(self) -> str:
        sizes = {split: index.numel() for split, index in self.index.items()}
        return (f"{self.name}: {len(self.graphs)} graphs, {self.num_classes} classes, fold {self.fold} of "
                f"{self.folds} (train {sizes['train']}, val {sizes['val']}, test {sizes['test']} graphs), "
                f"{self.readout} readout")

    def batches(self):
        """The training graphs in a random order drawn from torch's global generator (seeded by
        ``fit``, restored on resume), ``batch_size`` per batch."""
        chosen = [self.graphs[i] for i in self.index["train"].tolist()]
        loader = DataLoader(chosen, batch_size=self.batch_size, shuffle=True)
        for batch in loader:
            yield batch.to(self._device)

    @staticmethod
    def batch_weight(batch: Batch) -> int:
        """Graphs in ``batch``: the weight of its loss and accuracy in the epoch's means."""
        return batch.num_graphs

    def logits(self, model: nn.Module, batch: Batch) -> Tensor:
        """``[graphs, C]``: the model's node outputs pooled per graph."""
        return self.pool(model(batch.x, batch.edge_index), batch.batch, size=batch.num_graphs)

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        logits = self.logits(model, batch)
        labels = batch.y.view(-1)
        return F.cross_entropy(logits, labels), {"train_acc": accuracy(logits.detach(), labels)}

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation and test accuracy over their graphs, and the validation loss (the mean
        cross-entropy per graph), in evaluation mode."""
        was_training = model.training
        model.eval()
        scores = {}
        for split, batches in self._evaluation.items():
            correct, loss, total = 0, 0.0, 0
            for batch in batches:
                logits, labels = self.logits(model, batch), batch.y.view(-1)
                correct += int((logits.argmax(-1) == labels).sum())
                loss += float(F.cross_entropy(logits, labels, reduction="sum"))
                total += batch.num_graphs
            scores[f"{split}_acc"] = correct / total if total else math.nan
            if split == "val":
                scores["val_loss"] = loss / total if total else math.nan
        model.train(was_training)
        return scores

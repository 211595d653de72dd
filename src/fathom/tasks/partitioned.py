"""Node classification on a partitioned graph (Cluster-GCN, Chiang et al. 2019): one optimizer step
per part, on the part's induced subgraph and its own operator.

The task is what :func:`fathom.train.fit` trains on, alone or on several processes: with a
``torch.distributed`` process group, each epoch's parts are shuffled the same way on every rank
and rank ``r`` of ``W`` takes parts ``r, r + W, ...``; the model is then a
``DistributedDataParallel`` wrapper, whose backward pass averages the gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from ..data import describe, num_classes, validate_node_data
from ..data.partition import PartitionError, part_subgraph
from ..graph import AggregationOperator, SparseFeatures, density
from .node import SPARSE_FEATURES_BELOW, NodeClassification, accuracy, mean_loss

SPLITS = ("val", "test")
OperatorOf = Callable[[Data], AggregationOperator]


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a ``DistributedDataParallel`` wrapper (or ``model`` itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def distributed() -> tuple[int, int]:
    """``(rank, world_size)`` of the current process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _Part:
    """One part on a device: features, labels, masks and its operator."""

    def __init__(self, data: Data, operator: AggregationOperator, device: torch.device) -> None:
        self.x = data.x.to(device)
        self.sparse = SparseFeatures(self.x) if density(self.x) < SPARSE_FEATURES_BELOW else None
        self.y = data.y.to(device)
        self.masks = {split: data[f"{split}_mask"].to(device) for split in ("train", *SPLITS)}
        self.operator = operator.to(device)
        self.num_train = int(self.masks["train"].sum())

    def inputs(self, model: nn.Module) -> Tensor | SparseFeatures:
        accepts = getattr(unwrap(model), "accepts_sparse_features", False)
        return self.sparse if self.sparse is not None and accepts else self.x


class PartitionedNodeClassification:
    """Cross-entropy on the training nodes of one part per step; accuracy on each mask.

    ``parts`` are induced subgraphs of ``data`` covering its nodes (:func:`fathom.data.partition`);
    ``operator_of(graph)`` builds the operator a model applies on a graph (for
    :class:`~fathom.nn.DeepGNN`, ``DeepGNN.graph_operator(config, graph)``), once per part. The
    model is called as ``model(x, operator=...)``. With ``parts_per_step = q > 1`` each step trains on
    ``q`` parts drawn together, on the subgraph their nodes induce (the edges between them
    included, Cluster-GCN's stochastic multiple partitions), whose operator is built for the step.

    A part's loss is the mean over its training nodes (zero, with zero gradient, for a part
    without any, so every rank still takes its step). Under a process group the loss and training
    accuracy reported are the means over the ranks' parts of that step, so every rank sees the
    same values (and stops on the same divergence). Evaluation runs on the whole graph when
    ``full_evaluation`` (one forward pass without gradients must fit), else part by part, each
    rank evaluating its share and the counts summed over ranks.
    """

    kind = "node"
    metrics = NodeClassification.metrics
    reported = NodeClassification.reported

    def __init__(self, data: Data, parts: list[Data], operator_of: OperatorOf, *,
                 full_evaluation: bool = True, parts_per_step: int = 1) -> None:
        validate_node_data(data)
        covered = sum(part.num_nodes for part in parts)
        if not parts or covered != data.num_nodes:
            raise ValueError(f"the parts must cover the graph's {data.num_nodes} nodes once; they hold {covered}")
        self.rank, self.world_size = distributed()
        if len(parts) % (self.world_size * parts_per_step):
            raise PartitionError(f"partitions={len(parts)} must be a multiple of parts_per_step={parts_per_step} times "
                                 f"the {self.world_size} processes, so that every process takes as many steps per epoch")
        self.parts_per_step = parts_per_step
        self.data = data
        self.num_classes = num_classes(data)
        self.in_channels = data.num_features
        self.chance_loss = math.log(max(self.num_classes, 2))
        self.full_evaluation = full_evaluation
        self.operators = [operator_of(part) for part in parts]
        self._operator_of = operator_of
        self._graph: tuple[_Part, ...] = ()
        self._device = torch.device("cpu")
        self._subgraphs = parts
        self._place(data.x.device)

    def _place(self, device: torch.device) -> None:
        self._device = torch.device(device)
        self.parts = [_Part(part, operator, self._device) for part, operator in zip(self._subgraphs, self.operators)]
        self._graph = ()  # the whole graph for evaluation, built on first use

    @property
    def model_graph(self) -> Data:
        return self.data

    def perron_roots(self) -> list[float]:
        """``lambda_1`` of each part's operator."""
        return [operator.perron_root() for operator in self.operators]

    def to(self, device: torch.device | str) -> "PartitionedNodeClassification":
        if torch.device(device) != self._device:
            self._place(torch.device(device))
        return self

    def describe(self) -> str:
        return f"{describe(self.data)}; {len(self.parts)} parts"

    def batches(self) -> Iterator[int | tuple[int, ...]]:
        """This rank's steps for one epoch: a part, or a tuple of ``parts_per_step`` parts, in a fresh
        random order (the same on every rank)."""
        if len(self.parts) == 1:
            yield 0
            return
        order = torch.randperm(len(self.parts))
        if self.world_size > 1:  # each rank's RNG has drifted with its own parts' dropout
            order = order.to(self._collective_device())
            dist.broadcast(order, src=0)
        steps = order.cpu().view(-1, self.parts_per_step)[self.rank::self.world_size].tolist()
        yield from (step[0] if self.parts_per_step == 1 else tuple(step) for step in steps)

    def batch_weight(self, batch: int | tuple[int, ...]) -> float:
        return float(sum(self.parts[k].num_train for k in (batch if isinstance(batch, tuple) else (batch,))))

    def _step_graph(self, batch: int | tuple[int, ...]) -> _Part:
        if not isinstance(batch, tuple):
            return self.parts[batch]
        nodes = torch.cat([self._subgraphs[k].node_ids for k in batch]).sort().values
        union = part_subgraph(self.data, nodes)
        return _Part(union, self._operator_of(union), self._device)

    def loss(self, model: nn.Module, batch: int | tuple[int, ...] = 0) -> tuple[Tensor, dict[str, float]]:
        part = self._step_graph(batch)
        logits = model(part.inputs(model), operator=part.operator)
        train = part.masks["train"]
        loss = F.cross_entropy(logits[train], part.y[train], reduction="sum") / max(part.num_train, 1)
        correct = float((logits[train].detach().argmax(-1) == part.y[train]).sum())
        if self.world_size == 1:
            return loss, {"train_acc": correct / part.num_train if part.num_train else 0.0}
        totals = torch.tensor([loss.item(), correct, part.num_train], dtype=torch.float64,
                              device=self._collective_device())
        dist.all_reduce(totals)
        shown = loss + (totals[0].item() / self.world_size - loss.detach())  # the ranks' mean; local gradient
        return shown, {"train_acc": totals[1].item() / max(totals[2].item(), 1.0)}

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation and test accuracy and the validation loss in evaluation mode, on the whole
        graph or part by part."""
        model = unwrap(model)  # no collectives in the forward pass
        was_training = model.training
        model.eval()
        try:
            if self.full_evaluation:
                return self._evaluate_graph(model)
            return self._evaluate_parts(model)
        finally:
            model.train(was_training)

    def _evaluate_graph(self, model: nn.Module) -> dict[str, float]:
        if not self._graph:
            self._graph = (_Part(self.data, self._operator_of(self.data), self._device),)
        graph = self._graph[0]
        logits = model(graph.inputs(model), operator=graph.operator)
        scores = {f"{split}_acc": accuracy(logits[graph.masks[split]], graph.y[graph.masks[split]]) for split in SPLITS}
        return {**scores, "val_loss": mean_loss(logits[graph.masks["val"]], graph.y[graph.masks["val"]])}

    def _evaluate_parts(self, model: nn.Module) -> dict[str, float]:
        counts = torch.zeros(2 * len(SPLITS) + 1, dtype=torch.float64)  # per split: correct, nodes; then val loss
        for part in self.parts[self.rank::self.world_size]:
            logits = model(part.inputs(model), operator=part.operator)
            predicted = logits.argmax(-1)
            for i, split in enumerate(SPLITS):
                mask = part.masks[split]
                counts[2 * i] += float((predicted[mask] == part.y[mask]).sum())
                counts[2 * i + 1] += float(mask.sum())
            val = part.masks["val"]
            counts[-1] += float(F.cross_entropy(logits[val], part.y[val], reduction="sum"))
        if self.world_size > 1:
            counts = counts.to(self._collective_device())
            dist.all_reduce(counts)
            counts = counts.cpu()
        scores = {f"{split}_acc": (counts[2 * i] / counts[2 * i + 1]).item() if counts[2 * i + 1] else math.nan
                  for i, split in enumerate(SPLITS)}
        validation = counts[2 * SPLITS.index("val") + 1]
        return {**scores, "val_loss": (counts[-1] / validation).item() if validation else math.nan}

    def _collective_device(self) -> torch.device:
        """Where the process group's tensors live: the GPU for nccl, the CPU for gloo."""
        return self._device if dist.get_backend() == "nccl" else torch.device("cpu")

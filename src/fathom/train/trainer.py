"""Fathom's own model on a dataset: build a :class:`~fathom.nn.DeepGNN` from a ModelConfig and fit it.

:func:`train_node_classifier` is the shortcut ``fathom train`` and the reproductions use: seed,
build the operator once (its Perron root sets ``gnn_he``), build the model, then
:func:`~fathom.train.fit` on :class:`~fathom.tasks.NodeClassification` (or on a given
:class:`~fathom.tasks.GraphClassification`), optionally recording the per-layer diagnostics while
it trains (one graph only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn
from torch_geometric.data import Data

from ..config import ModelConfig, TrainConfig
from ..data import PartitionError
from ..diagnostics.recorder import LAYER_METRICS, measure
from ..nn import DeepGNN
from ..runs import write_csv
from ..runtime import resolve_device, seed_everything
from ..tasks import GraphClassification, NodeClassification
from .distributed import launched_by_torchrun, train_partitioned
from .fit import RunResult, fit
from .memory import check_fits
from .tensorboard import TensorBoardLogger

METRIC_COLUMNS = ["epoch", "train_loss", *NodeClassification.metrics, "seconds"]


def train_node_classifier(
    model_config: ModelConfig,
    train_config: TrainConfig,
    data: Data | GraphClassification,
    out: str | Path | None = None,
    *,
    progress: bool = True,
    data_info: dict[str, Any] | None = None,
    record_every: int | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    tensorboard: str | Path | None = None,
) -> RunResult:
    """Train a :class:`~fathom.nn.DeepGNN` on ``data``'s training nodes, full batch, or on a graph
    classification task's mini-batches when ``data`` is a :class:`~fathom.tasks.GraphClassification`.

    ``data_info`` (e.g. dataset name and data root) is recorded in ``config.json``. With
    ``record_every=k`` the per-layer diagnostics (:func:`fathom.diagnostics.measure`) are taken at
    initialisation and every ``k`` epochs, into ``layer_metrics.csv`` and
    ``RunResult.layer_history``. ``checkpoint_every`` and ``resume`` are :func:`~fathom.train.fit`'s.
    ``tensorboard``: a log directory for :class:`~fathom.train.TensorBoardLogger` (metrics each epoch,
    and the per-layer diagnostics when recorded). On one graph, a model whose estimated training memory
    exceeds what the device has free is refused before it is built
    (:class:`~fathom.train.memory.InsufficientMemoryError`). With ``train_config.partitions > 1``,
    or when launched by ``torchrun``, it trains part by part (:func:`~fathom.train.distributed.train_partitioned`).
    """
    if record_every is not None and record_every < 1:
        raise ValueError(f"record_every must be a positive number of epochs; got {record_every}")
    if train_config.partitions > 1 or launched_by_torchrun():
        if record_every is not None or isinstance(data, GraphClassification):
            raise PartitionError("partitioned training takes one graph's nodes, without per-layer recording: "
                                 "leave partitions=1 (and run one process) to record layers or classify graphs")
        return train_partitioned(model_config, train_config, data, out, progress=progress, data_info=data_info,
                                 checkpoint_every=checkpoint_every, resume=resume, tensorboard=tensorboard)
    task = data if isinstance(data, GraphClassification) else NodeClassification(data)
    if record_every is not None and task.kind != "node":
        raise ValueError("record_every records the layers of one graph; a graph-classification task has many")
    if task.kind == "node":
        check_fits(model_config, data, task.num_classes, resolve_device(train_config.device))
    seed_everything(train_config.seed)
    operator = DeepGNN.graph_operator(model_config, task.model_graph)
    model = DeepGNN(model_config, task.in_channels, task.num_classes, perron_root=operator.perron_root())

    layer_history: list[dict[str, float]] = []
    out_dir = Path(out) if out is not None else None
    logger = TensorBoardLogger(tensorboard) if tensorboard is not None else None

    def record(epoch: int, trained: nn.Module) -> None:
        if record_every and epoch % record_every == 0:
            rows = layer_rows(epoch, measure(trained, data))
            layer_history.extend(rows)
            if out_dir is not None:
                write_csv(out_dir / "layer_metrics.csv", layer_history, ["epoch", "layer", *LAYER_METRICS])
            if logger is not None:
                logger.layers(epoch, rows)

    try:
        result = fit(model, task, train_config, out_dir, progress=progress,
                     on_epoch=record if record_every else None, on_metrics=logger.epoch if logger else None,
                     checkpoint_every=checkpoint_every, resume=resume,
                     run_info={"model": model_config.to_dict(),
                               "data": {**(data_info or {}), "description": task.describe()},
                               "perron_root": operator.perron_root(),
                               **({"checkpoint_every": checkpoint_every} if checkpoint_every else {})})
    finally:
        if logger is not None:
            logger.close()
    result.layer_history = layer_history
    return result


def layer_rows(epoch: int, metrics: dict[str, list[float]]) -> list[dict[str, float]]:
    """One ``layer_metrics.csv`` row per block: ``epoch, layer`` and every layer metric."""
    depth = len(next(iter(metrics.values())))
    return [{"epoch": epoch, "layer": k + 1, **{name: metrics[name][k] for name in LAYER_METRICS}}
            for k in range(depth)]

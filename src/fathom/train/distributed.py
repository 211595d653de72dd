"""Partitioned training of a :class:`~fathom.nn.DeepGNN` (Cluster-GCN, Chiang et al. 2019), in one
process or data-parallel on several with ``torch.distributed``.

The graph is split into ``K`` parts (:func:`fathom.data.partition`); each step trains on one part's
induced subgraph with that part's own operator. Launched by ``torchrun --nproc-per-node W``, every
process joins the process group its environment describes (gloo on the CPU, nccl on GPUs, one
GPU per process), the model is wrapped in ``DistributedDataParallel`` and each epoch rank ``r``
takes steps ``r, r + W, ...`` of a shuffled order (a step is one part, or ``parts_per_step = q``
parts together; ``K`` must be a multiple of ``qW``), so an epoch is ``K / (qW)`` synchronised steps.
Only rank 0 writes the run directory.

``gnn_he`` needs the Perron root of the operator trained on. Training on the parts is training on
their disjoint union, a block-diagonal operator whose Perron root is the largest of the parts'
roots, so the model is initialised with that maximum (1 for the ``gcn`` and ``mean`` operators;
per graph for ``sum``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch_geometric.data import Data

from ..config import ModelConfig, TrainConfig
from ..data import num_classes
from ..data.partition import PartitionError, check_num_parts, part_subgraph, partition_nodes
from ..nn import DeepGNN
from ..runtime import resolve_device, seed_everything
from ..tasks.partitioned import PartitionedNodeClassification, distributed, unwrap
from .fit import RunResult, fit
from .memory import check_fits, evaluation_fits
from .tensorboard import TensorBoardLogger

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def launched_by_torchrun() -> bool:
    """Whether this process was started by ``torchrun`` (its environment names a process group)."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def init_from_environment(device: torch.device) -> bool:
    """Join the process group ``torchrun`` describes (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``; ``LOCAL_RANK`` picks the GPU): nccl for a CUDA ``device``, gloo otherwise.

    Returns whether it created the group (False when not launched by torchrun or already in one).
    """
    if not launched_by_torchrun() or dist.is_initialized():
        return False
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return True


def shared_partition(data: Data, train_config: TrainConfig, device: torch.device) -> list[Data]:
    """The parts of ``data``, computed on rank 0 and sent to the others, so every rank holds the
    same parts whatever METIS does on its machine."""
    rank, world_size = distributed()
    if rank == 0:
        assignment = partition_nodes(data, train_config.partitions, train_config.partition_method, train_config.seed)
    else:
        check_num_parts(train_config.partitions, data.num_nodes)
        assignment = torch.empty(data.num_nodes, dtype=torch.long)
    if world_size > 1:
        where = device if dist.get_backend() == "nccl" else torch.device("cpu")
        moved = assignment.to(where)
        dist.broadcast(moved, src=0)
        assignment = moved.cpu()
    return [part_subgraph(data, torch.nonzero(assignment == k).flatten()) for k in range(train_config.partitions)]


def train_partitioned(
    model_config: ModelConfig,
    train_config: TrainConfig,
    data: Data,
    out: str | Path | None = None,
    *,
    progress: bool = True,
    data_info: dict[str, Any] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    tensorboard: str | Path | None = None,
) -> RunResult:
    """Train a DeepGNN on ``data``'s training nodes, one step per part of ``train_config.partitions``
    parts, data-parallel when launched by ``torchrun`` (see the module docstring).

    It evaluates on the whole graph or part by part as ``train_config.partition_evaluation`` says
    (``auto``: the whole graph when one forward pass over it fits in the device's free memory).
    A model whose training step on the largest part would not fit is refused before it is built
    (:class:`~fathom.train.memory.InsufficientMemoryError`). Checkpoints need one process.
    """
    device = resolve_device(train_config.device)
    created = init_from_environment(device)
    try:
        rank, world_size = distributed()
        if world_size > 1 and (checkpoint_every or resume):
            raise PartitionError("checkpoints and resuming need a single process: a multi-process run cannot "
                             "write or resume one")
        if train_config.partitions % (world_size * train_config.parts_per_step):
            raise PartitionError(f"partitions={train_config.partitions} must be a multiple of "
                                 f"parts_per_step={train_config.parts_per_step} times the {world_size} processes, "
                                 "so that every process takes as many steps per epoch")
        classes = num_classes(data)
        parts = shared_partition(data, train_config, device)
        check_fits(model_config, max(parts, key=lambda part: part.num_nodes), classes, device)
        if train_config.partition_evaluation == "auto":
            full_evaluation = evaluation_fits(model_config, data, classes, device)
        else:
            full_evaluation = train_config.partition_evaluation == "whole"
        task = PartitionedNodeClassification(data, parts, lambda graph: DeepGNN.graph_operator(model_config, graph),
                                             full_evaluation=full_evaluation, parts_per_step=train_config.parts_per_step)
        roots = task.perron_roots()
        seed_everything(train_config.seed)
        model = DeepGNN(model_config, task.in_channels, task.num_classes, perron_root=max(roots)).to(device)
        if world_size > 1:
            model = DistributedDataParallel(model, device_ids=[torch.cuda.current_device()]
                                            if device.type == "cuda" else None)
        writer = rank == 0
        logger = TensorBoardLogger(tensorboard) if tensorboard is not None and writer else None
        try:
            result = fit(model, task, train_config, out if writer else None, progress=progress and writer,
                         on_metrics=logger.epoch if logger else None, checkpoint_every=checkpoint_every,
                         resume=resume,
                         run_info={"model": model_config.to_dict(),
                                   "data": {**(data_info or {}), "description": task.describe()},
                                   "perron_root": max(roots), "part_perron_roots": roots,
                                   "part_nodes": [part.num_nodes for part in parts], "processes": world_size,
                                   "full_evaluation": full_evaluation,
                                   **({"checkpoint_every": checkpoint_every} if checkpoint_every else {})})
        finally:
            if logger is not None:
                logger.close()
        result.model = unwrap(result.model)
        return result
    finally:
        if created:
            dist.destroy_process_group()

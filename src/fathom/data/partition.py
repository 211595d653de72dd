"""Cluster-GCN partitions: split a graph's nodes into ``K`` parts and cut out each part's induced subgraph.

Training on one part at a time with only the edges inside it (Chiang et al. 2019, Cluster-GCN)
bounds a step's memory by the part, not the graph. Parts come from METIS, which keeps most edges
inside parts, or are random, as RevGNN trained ogbn-proteins (Li et al. 2021).

PyG's ``ClusterData`` would do this, but its METIS needs the compiled ``torch-sparse`` or
``pyg-lib`` extensions, which PyG no longer ships for every torch release (none for this
project's torch 2.13 CPU); ``pymetis`` is a plain wheel, so METIS comes from it here.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import remove_self_loops, subgraph, to_undirected

from ..config import PARTITION_METHODS


class PartitionError(ValueError):
    """A partition that cannot be made (too few or too many parts, or too few processes for them), or a
    setting a multi-process run cannot honour (checkpoints)."""


PART_FIELDS = ("x", "y", "train_mask", "val_mask", "test_mask")  # node-level fields a part slices


def check_num_parts(num_parts: object, num_nodes: int) -> None:
    """Raise :class:`PartitionError` unless ``1 <= num_parts <= num_nodes`` (an integer)."""
    if isinstance(num_parts, bool) or not isinstance(num_parts, int) or num_parts < 1:
        raise PartitionError(f"partitions must be a positive integer; got {num_parts!r}")
    if num_parts > num_nodes:
        raise PartitionError(f"partitions={num_parts} exceeds the graph's {num_nodes} nodes: every part needs a node")


def partition_nodes(data: Data, num_parts: int, method: str = "metis", seed: int = 0) -> Tensor:
    """The part (``0..K-1``) of every node of ``data``: an ``int64`` tensor of length ``N``.

    ``metis`` (needs ``pymetis``) minimises the edges cut between parts of about equal size, on
    the undirected graph without self-loops; ``random`` deals a seeded permutation of the nodes
    into ``K`` parts whose sizes differ by at most one. With ``K = 1`` every node is in part 0.
    """
    if method not in PARTITION_METHODS:
        raise ValueError(f"partition_method must be one of {', '.join(PARTITION_METHODS)}; got {method!r}")
    num_nodes = data.num_nodes
    check_num_parts(num_parts, num_nodes)
    if num_parts == 1:
        return torch.zeros(num_nodes, dtype=torch.long)
    if method == "random":
        order = torch.randperm(num_nodes, generator=torch.Generator().manual_seed(seed))
        parts = torch.empty(num_nodes, dtype=torch.long)
        parts[order] = torch.arange(num_nodes) % num_parts
        return parts
    return _metis(data.edge_index, num_nodes, num_parts, seed)


def _metis(edge_index: Tensor, num_nodes: int, num_parts: int, seed: int) -> Tensor:
    try:
        import pymetis
    except ImportError:
        raise ImportError("partition_method=metis needs pymetis: pip install pymetis, or use "
                          "partition_method=random") from None
    edge_index, _ = remove_self_loops(to_undirected(edge_index.cpu(), num_nodes=num_nodes))
    rows, cols = edge_index  # to_undirected sorts by row, then column
    xadj = np.zeros(num_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows.numpy(), minlength=num_nodes), out=xadj[1:])
    options = pymetis.Options(seed=seed)
    adjacent = cols.numpy()
    if hasattr(pymetis, "CSRAdjacency"):  # pymetis >= 2025.2; xadj/adjncy before it
        graph = {"adjacency": pymetis.CSRAdjacency(xadj, adjacent)}
    else:
        graph = {"xadj": xadj, "adjncy": adjacent}
    _, membership = pymetis.part_graph(num_parts, **graph, options=options)
    parts = torch.as_tensor(np.asarray(membership), dtype=torch.long)
    return _fill_empty_parts(parts, num_parts)


def _fill_empty_parts(parts: Tensor, num_parts: int) -> Tensor:
    """METIS may leave a part empty on a graph of many tiny components; move one node from the
    largest part into each empty one, so every part holds a node."""
    counts = torch.bincount(parts, minlength=num_parts)
    for empty in torch.nonzero(counts == 0).flatten().tolist():
        largest = int(torch.argmax(counts))
        node = int(torch.nonzero(parts == largest)[0])
        parts[node] = empty
        counts[largest] -= 1
        counts[empty] += 1
    return parts


def part_subgraph(data: Data, nodes: Tensor) -> Data:
    """The subgraph of ``data`` induced by ``nodes`` (sorted indices or a boolean mask), relabelled
    ``0..n-1`` in the original order, with its node fields sliced and ``node_ids`` (the
    original indices) added."""
    num_nodes = data.num_nodes
    if nodes.dtype == torch.bool:
        nodes = torch.nonzero(nodes).flatten()
    edge_index, _ = subgraph(nodes, data.edge_index, relabel_nodes=True, num_nodes=num_nodes)
    part = Data(edge_index=edge_index, num_nodes=nodes.numel(), node_ids=nodes)
    for name in PART_FIELDS:
        value = getattr(data, name, None)
        if value is not None:
            part[name] = value[nodes]
    if getattr(data, "num_classes", None) is not None and not isinstance(data.num_classes, Tensor):
        part.num_classes = data.num_classes
    return part


def partition(data: Data, num_parts: int, method: str = "metis", seed: int = 0) -> list[Data]:
    """``K`` induced subgraphs of ``data`` (:func:`partition_nodes`, :func:`part_subgraph`): together
    they hold every node once and every edge whose ends share a part."""
    parts = partition_nodes(data, num_parts, method, seed)
    return [part_subgraph(data, torch.nonzero(parts == k).flatten()) for k in range(num_parts)]

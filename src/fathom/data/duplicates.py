"""Duplicate nodes: nodes with identical feature rows and identical labels.

Chameleon and Squirrel (Geom-GCN preprocessing) hold many of them, and the Geom-GCN splits put
copies of one node on both sides of the train/test line, so test accuracy is partly memorised
(Platonov et al. 2023, "A critical look at the evaluation of GNNs under heterophily").
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data


def duplicate_groups(data: Data) -> Tensor:
    """Per node, the id of its group of identical ``(x row, y)`` nodes, or -1 when it has no twin.

    Rows are compared by a 128-bit BLAKE2 digest of their bytes (exact up to a ~2^-64 chance of a
    collision), so a graph with a billion feature entries needs no sort of the feature matrix.
    """
    rows = np.ascontiguousarray(data.x.detach().cpu().numpy())
    labels = data.y.detach().cpu().tolist()
    first: dict[tuple[bytes, int], int] = {}
    owner = [first.setdefault((hashlib.blake2b(row.tobytes(), digest_size=16).digest(), label), i)
             for i, (row, label) in enumerate(zip(rows, labels))]
    owners = torch.tensor(owner, dtype=torch.long)
    counts = torch.bincount(owners, minlength=len(owner))
    _, group = torch.unique(owners, return_inverse=True)
    return torch.where(counts[owners] > 1, group, torch.full_like(group, -1))


def duplicate_nodes(data: Data) -> int:
    """How many nodes share their feature row and label with at least one other node."""
    return int((duplicate_groups(data) >= 0).sum())

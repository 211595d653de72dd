"""Contextual stochastic block models: Fathom's built-in graphs (no files needed).

Nodes fall into ``num_classes`` equal blocks; an edge joins two nodes with probability
``p_in`` inside a block and ``p_out`` across blocks; node ``i`` of class ``c`` has features
``x_i = signal * u_c + eps_i`` with ``u_c`` random unit vectors and ``eps_i ~ N(0, I)``
(Deshpande et al. 2018). Edge sampling is ``O(E)``, so graphs of ogbn-arxiv's size are cheap.
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data

from .splits import random_split_masks


def _block_pairs(rng: np.random.Generator, first: np.ndarray, second: np.ndarray, p: float,
                 same_block: bool) -> np.ndarray:
    """Sample the edges between two blocks of node ids, each possible pair kept with prob ``p``."""
    n1, n2 = len(first), len(second)
    possible = n1 * (n1 - 1) // 2 if same_block else n1 * n2
    count = rng.binomial(possible, p) if possible > 0 and p > 0 else 0
    if count == 0:
        return np.empty((2, 0), dtype=np.int64)
    # Sample with replacement and drop repeats: for sparse graphs (p << 1) this is p up to O(p^2).
    i = first[rng.integers(0, n1, count)]
    j = second[rng.integers(0, n2, count)]
    keep = i != j
    pairs = np.stack([np.minimum(i, j)[keep], np.maximum(i, j)[keep]])
    return np.unique(pairs, axis=1)


def csbm(
    num_nodes: int = 1000,
    num_classes: int = 4,
    p_in: float = 0.02,
    p_out: float = 0.002,
    num_features: int = 32,
    signal: float = 1.0,
    split: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
) -> Data:
    """A CSBM graph as an undirected PyG ``Data`` with ``train/val/test`` masks.

    The defaults (1000 nodes, 4 classes, mean degree about 6.5, 77% of edges inside a class,
    features that alone separate the classes only partly) make a task where propagation helps.
    """
    if num_nodes < num_classes or num_classes < 2:
        raise ValueError(f"need num_classes >= 2 and num_nodes >= num_classes; got {num_nodes=}, {num_classes=}")
    for name, p in (("p_in", p_in), ("p_out", p_out)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1]; got {p}")
    if num_features < 1:
        raise ValueError(f"num_features must be positive; got {num_features}")
    rng = np.random.default_rng(seed)
    labels = np.arange(num_nodes) % num_classes
    rng.shuffle(labels)
    blocks = [np.flatnonzero(labels == c) for c in range(num_classes)]
    edges = [
        _block_pairs(rng, blocks[c1], blocks[c2], p_in if c1 == c2 else p_out, c1 == c2)
        for c1 in range(num_classes) for c2 in range(c1, num_classes)
    ]
    undirected = np.concatenate(edges, axis=1)
    edge_index = np.concatenate([undirected, undirected[::-1]], axis=1)
    means = rng.standard_normal((num_classes, num_features))
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    features = signal * means[labels] + rng.standard_normal((num_nodes, num_features))
    y = torch.from_numpy(labels).long()
    train, val, test = random_split_masks(y, split, seed)
    return Data(
        x=torch.from_numpy(features).float(),
        edge_index=torch.from_numpy(np.ascontiguousarray(edge_index)).long(),
        y=y, train_mask=train, val_mask=val, test_mask=test, num_nodes=num_nodes, num_classes=num_classes,
    )

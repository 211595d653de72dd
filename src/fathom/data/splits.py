"""Node splits for transductive node classification."""

from __future__ import annotations

import torch
from torch import Tensor


def random_split_masks(y: Tensor, fractions: tuple[float, float, float], seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Boolean train/val/test masks from a seeded random permutation of the nodes.

    ``fractions`` (train, val, test) must be non-negative and sum to at most 1; when they sum to
    1 the test set takes the nodes rounding leaves over.
    """
    if len(fractions) != 3 or min(fractions) < 0 or sum(fractions) > 1 + 1e-9:
        raise ValueError(f"split fractions must be three non-negative numbers summing to <= 1; got {fractions}")
    n = y.size(0)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_train, n_val = round(fractions[0] * n), round(fractions[1] * n)
    whole = abs(sum(fractions) - 1.0) < 1e-9  # then every node belongs to a split
    n_test = n - n_train - n_val if whole else min(round(fractions[2] * n), n - n_train - n_val)
    masks = []
    for start, count in ((0, n_train), (n_train, n_val), (n_train + n_val, n_test)):
        mask = torch.zeros(n, dtype=torch.bool)
        mask[order[start:start + count]] = True
        masks.append(mask)
    return masks[0], masks[1], masks[2]

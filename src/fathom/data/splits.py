"""Node splits for transductive node classification: public, geom-gcn column K, seeded random.

:func:`apply_split` chooses a dataset's masks from a *split request*: ``None`` (the dataset's
standard split), ``"random"`` (seeded random 60/20/20, any node dataset) or an index ``K`` (the
K-th of the 10 Geom-GCN splits, Pei et al. 2020, stored by PyG as column K of ``[N, 10]`` masks).
It sets ``data.split`` to a short label: ``public``, ``builtin``, ``geom-gcn:3``, ``random:seed=0``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch_geometric.data import Data

from .errors import SplitError

if TYPE_CHECKING:
    from .registry import DatasetSpec

MASKS = ("train_mask", "val_mask", "test_mask")
STANDARD_FRACTIONS = (0.6, 0.2, 0.2)


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


def geom_gcn_masks(data: Data, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """Column ``k`` of PyG's ``[N, 10]`` Geom-GCN train/val/test masks."""
    return tuple(getattr(data, mask)[:, k].clone() for mask in MASKS)  # type: ignore[return-value]


def random_label(seed: int, fractions: tuple[float, float, float]) -> str:
    if tuple(fractions) == STANDARD_FRACTIONS:
        return f"random:seed={seed}"
    return f"random:{'/'.join(f'{f:g}' for f in fractions)}:seed={seed}"


def parse_split(spec: DatasetSpec, split: str | int | None,
                fractions: tuple[float, float, float] | None = None) -> str | int | None:
    """Check a split request against ``spec`` before anything is loaded: ``None``, ``"random"`` or a
    valid geom-gcn index (digit strings count as indices); ``fractions`` only with a random split."""
    if isinstance(split, str) and split.strip().lstrip("-").isdigit():
        split = int(split)
    if spec.task != "node" and (split is not None or fractions is not None):
        raise SplitError(f"{spec.name} is a graph-classification dataset: its graphs are split into folds "
                         "by the graph task, not into node masks; load it without a split")
    if fractions is not None and split not in (None, "random"):
        raise SplitError(f"random split fractions {tuple(fractions)} cannot be combined with split {split!r} "
                         f"of {spec.name}; give one or the other")
    if split is None or split == "random":
        return split
    if isinstance(split, bool) or not isinstance(split, int):
        raise SplitError(f"split of {spec.name} must be the standard one (none given), 'random' or a "
                         f"geom-gcn split index; got {split!r}")
    if spec.split_kind != "geom-gcn":
        raise SplitError(f"{spec.name} has no numbered splits (its standard split is {spec.split_kind}); "
                         "ask for its standard split or for a seeded 'random' one instead of index "
                         f"{split}")
    if not 0 <= split < spec.num_splits:
        raise SplitError(f"{spec.name} has {spec.num_splits} geom-gcn splits, numbered 0 to "
                         f"{spec.num_splits - 1}; got {split}: choose an index in that range")
    return split


def apply_split(data: Data, spec: DatasetSpec, split: str | int | None = None, seed: int = 0,
                fractions: tuple[float, float, float] | None = None) -> Data:
    """Set 1-D boolean train/val/test masks on ``data`` and label them in ``data.split``.

    ``fractions`` replaces 60/20/20 for a random split (and asks for one when ``split`` is None).
    """
    split = parse_split(spec, split, fractions)
    if split == "random" or fractions is not None or (split is None and spec.split_kind == "random"):
        fractions = tuple(fractions) if fractions is not None else STANDARD_FRACTIONS
        masks = random_split_masks(data.y, fractions, seed)
        label = random_label(seed, fractions)
    elif spec.split_kind == "geom-gcn":
        k = 0 if split is None else split
        masks = geom_gcn_masks(data, k)
        label = f"geom-gcn:{k}"
    else:
        masks = tuple(getattr(data, mask) for mask in MASKS)
        label = spec.split_kind
    data.train_mask, data.val_mask, data.test_mask = masks
    data.split = label
    return data

"""The task of a named dataset: node classification on one graph, or graph classification by folds."""

from __future__ import annotations

import os

from ..config import BATCH_SIZE
from ..data import SplitError, get_spec, load_dataset
from .graph import DEFAULT_FOLDS, GraphClassification
from .node import NodeClassification

FOLD_SEED = 0  # the folds of a graph dataset are the same for every model and training seed


def load_task(name: str, root: str | os.PathLike | None = None, *, split: str | int | None = None, seed: int = 0,
              normalize: bool | str = False, readout: str = "sum", batch_size: int = BATCH_SIZE
              ) -> NodeClassification | GraphClassification:
    """Load dataset ``name`` and make its task.

    Node datasets: :class:`NodeClassification` on the split :func:`~fathom.data.load_dataset` gives
    for ``split`` and ``seed``. Graph datasets: :class:`GraphClassification` whose test graphs are
    fold ``split`` (default 0) of the stratified 10-fold split (seeded by :data:`FOLD_SEED`, so the
    folds do not change with the training seed), pooling each graph's node outputs by ``readout``,
    ``batch_size`` training graphs a step.
    """
    if get_spec(name).task == "graph":
        if isinstance(split, str) and split.strip().isdigit():
            split = int(split)
        if split is not None and (isinstance(split, bool) or not isinstance(split, int)
                                  or not 0 <= split < DEFAULT_FOLDS):
            raise SplitError(f"{name} is a graph-classification dataset: its split is a fold number 0.."
                             f"{DEFAULT_FOLDS - 1}; got {split!r}")
        return GraphClassification(load_dataset(name, root), fold=split or 0, seed=FOLD_SEED, readout=readout,
                                   batch_size=batch_size)
    if readout != "sum":
        raise ValueError(f"readout={readout!r} pools graphs; {name} is a node-classification dataset")
    if batch_size != BATCH_SIZE:
        raise ValueError(f"batch_size={batch_size} counts graphs; {name} is a node-classification dataset")
    return NodeClassification(load_dataset(name, root, split=split, seed=seed, normalize=normalize))

"""Named datasets: the built-in CSBM, Planetoid (Cora, CiteSeer, PubMed) and Zachary's karate club.

Planetoid graphs load through PyG from a *data root*: ``--data-root`` or the ``FATHOM_DATA``
environment variable, else ``~/.cache/fathom/datasets``. The root may be the family folder
itself (``ROOT/Cora/raw/``) or a folder of families (``ROOT/planetoid/Cora/raw/``, as in
``shared/datasets``). When the raw files are absent PyG downloads them (online only); a
read-only root is mirrored into the cache before PyG writes its ``processed/`` folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torch_geometric.data import Data

from .csbm import csbm
from .splits import random_split_masks

DATA_ENV = "FATHOM_DATA"
CACHE_ENV = "FATHOM_CACHE"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    pyg_name: str | None = None  # Planetoid name; None for graphs that need no files
    families: tuple[str, ...] = ()  # folder names under a root of families


DATASETS: dict[str, DatasetSpec] = {
    "csbm": DatasetSpec("csbm", "built-in contextual stochastic block model (1000 nodes, 4 classes)"),
    "karate": DatasetSpec("karate", "Zachary's karate club, shipped inside PyG (34 nodes, 4 classes)"),
    "cora": DatasetSpec("cora", "Planetoid Cora, public split (2708 nodes, 7 classes)", "Cora", ("planetoid",)),
    "citeseer": DatasetSpec("citeseer", "Planetoid CiteSeer, public split (3327 nodes, 6 classes)", "CiteSeer",
                            ("planetoid",)),
    "pubmed": DatasetSpec("pubmed", "Planetoid PubMed, public split (19717 nodes, 3 classes)", "PubMed",
                          ("planetoid", "planetoid_approx")),
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's raw files are not under the data root and could not be downloaded."""


def cache_dir() -> Path:
    """Where Fathom keeps downloads and mirrors: ``FATHOM_CACHE`` or ``~/.cache/fathom``."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "fathom"))


def default_data_root() -> Path:
    """``FATHOM_DATA`` if set, else ``<cache>/datasets``."""
    return Path(os.environ.get(DATA_ENV) or cache_dir() / "datasets")


def _spec(name: str) -> DatasetSpec:
    key = name.lower()
    if key not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")
    return DATASETS[key]


def locate(name: str, root: str | os.PathLike | None = None) -> Path | None:
    """The folder ``F`` with ``F/<Name>/raw/`` for a file-backed dataset, or ``None`` if absent."""
    spec = _spec(name)
    if spec.pyg_name is None:
        return None
    base = Path(root) if root is not None else default_data_root()
    for candidate in (base, *(base / family for family in spec.families)):
        raw = candidate / spec.pyg_name / "raw"
        if raw.is_dir() and any(raw.iterdir()):
            return candidate
    return None


def _writable_root(found: Path, pyg_name: str) -> Path:
    """``found`` itself, or a cache mirror of its raw files when it cannot be written to."""
    folder = found / pyg_name
    if os.access(folder, os.W_OK):
        return found
    mirror = cache_dir() / "mirror" / hashlib.sha1(str(found.resolve()).encode()).hexdigest()[:12]
    raw = mirror / pyg_name / "raw"
    if not raw.is_dir():
        shutil.copytree(folder / "raw", raw)
    return mirror


def load_dataset(name: str, root: str | os.PathLike | None = None, seed: int = 0,
                 random_split: tuple[float, float, float] | None = None, **csbm_options) -> Data:
    """A node-classification graph with ``x``, ``edge_index``, ``y`` and train/val/test masks.

    Args:
        name: one of :data:`DATASETS` (``csbm``, ``karate``, ``cora``, ``citeseer``, ``pubmed``).
        root: data root for file-backed datasets (default: ``FATHOM_DATA`` or the cache).
        seed: seed of the CSBM graph and of random splits.
        random_split: (train, val, test) fractions of a seeded random split replacing the
            dataset's own (e.g. ``(0.6, 0.2, 0.2)``); ``None`` keeps it (Planetoid: public split).
        csbm_options: keyword arguments of :func:`fathom.data.csbm`.
    """
    spec = _spec(name)
    if spec.name == "csbm":
        data = csbm(seed=seed, **csbm_options)
    elif csbm_options:
        raise ValueError(f"CSBM options {sorted(csbm_options)} apply only to dataset csbm, not {name!r}")
    elif spec.name == "karate":
        data = _karate()
    else:
        data = _planetoid(spec, root)
    if random_split is not None:
        data.train_mask, data.val_mask, data.test_mask = random_split_masks(data.y, random_split, seed)
    data.name = spec.name
    return data


def _karate() -> Data:
    from torch_geometric.datasets import KarateClub

    data = KarateClub()[0]
    data.val_mask = ~data.train_mask
    data.test_mask = ~data.train_mask
    return data


def _planetoid(spec: DatasetSpec, root: str | os.PathLike | None) -> Data:
    from torch_geometric.datasets import Planetoid

    base = Path(root) if root is not None else default_data_root()
    found = locate(spec.name, base)
    try:
        if found is not None:
            return Planetoid(str(_writable_root(found, spec.pyg_name)), spec.pyg_name)[0]
        return Planetoid(str(base), spec.pyg_name)[0]  # downloads into base/<Name>/raw
    except Exception as error:  # PyG surfaces download failures as many types
        if found is not None:
            raise
        raise DatasetNotFoundError(
            f"{spec.pyg_name} is not under {base} (looked for {base}/{spec.pyg_name}/raw/ and "
            f"{', '.join(f'{base}/{f}/{spec.pyg_name}/raw/' for f in spec.families)}) and downloading "
            f"it failed ({type(error).__name__}: {error}). Point --data-root or {DATA_ENV} at a folder "
            f"holding {spec.pyg_name}/raw/ (e.g. shared/datasets/planetoid), or go online once."
        ) from error


def num_classes(data: Data) -> int:
    """Number of classes of a node-classification graph (``max(y) + 1``)."""
    return int(data.y.max()) + 1 if data.y.numel() else 0


def describe(data: Data) -> str:
    """One line: nodes, edges, features, classes and split sizes."""
    masks = " / ".join(str(int(getattr(data, m).sum())) for m in ("train_mask", "val_mask", "test_mask"))
    return (f"{getattr(data, 'name', 'graph')}: {data.num_nodes} nodes, {data.num_edges} edges, "
            f"{data.num_features} features, {num_classes(data)} classes, train/val/test {masks}")


def validate_node_data(data: Data) -> None:
    """Reject graphs Fathom cannot train on, naming the problem (NaN features, empty masks...)."""
    if data.num_nodes is None or data.num_nodes == 0:
        raise ValueError("the graph has no nodes")
    if data.x is None:
        raise ValueError("the graph has no node features (data.x is None)")
    if not torch.isfinite(data.x).all():
        bad = int((~torch.isfinite(data.x)).any(dim=1).sum())
        raise ValueError(f"node features contain NaN or inf values ({bad} nodes affected)")
    if data.x.size(0) != data.num_nodes:
        raise ValueError(f"data.x has {data.x.size(0)} rows but the graph has {data.num_nodes} nodes")
    for mask in ("train_mask", "val_mask", "test_mask"):
        if getattr(data, mask, None) is None:
            raise ValueError(f"the graph has no {mask}")
    if not bool(data.train_mask.any()):
        raise ValueError("the training mask selects no nodes")

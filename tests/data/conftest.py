"""Fixtures of the data tests: a memo of small shared datasets, copies of raw folders, no network."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fathom.data import get_spec, load_dataset


@pytest.fixture(scope="session")
def load_shared(shared_data_root):
    """``load_shared(name, **options)``: a dataset from the shared root, loaded once per session
    (use it for small graphs; tests of the largest load them once themselves)."""
    loaded = {}

    def load(name: str, **options):
        key = (name, tuple(sorted(options.items())))
        if key not in loaded:
            loaded[key] = load_dataset(name, shared_data_root, **options)
        return loaded[key].clone() if hasattr(loaded[key], "clone") else loaded[key]

    return load


@pytest.fixture
def copy_raw(shared_data_root, tmp_path):
    """``copy_raw(name)``: a writable copy of a shared dataset's raw folder under ``tmp_path``
    (same family layout); returns the copy's raw folder. Skips when the dataset is absent."""

    def copy(name: str) -> Path:
        spec = get_spec(name)
        for family in spec.families:
            source = shared_data_root / family / spec.folder / "raw"
            if source.is_dir():
                target = tmp_path / family / spec.folder / "raw"
                shutil.copytree(source, target, copy_function=shutil.copyfile)
                return target
        pytest.skip(f"{name} is not under {shared_data_root}")

    return copy


@pytest.fixture
def offline(monkeypatch):
    """Every PyG dataset download fails as it does on a machine without internet."""
    import torch_geometric.datasets as pyg

    def unreachable(self):
        raise OSError("network is unreachable")

    for cls in (pyg.Planetoid, pyg.Amazon, pyg.Coauthor, pyg.WebKB, pyg.Actor, pyg.WikipediaNetwork, pyg.TUDataset):
        monkeypatch.setattr(cls, "download", unreachable)

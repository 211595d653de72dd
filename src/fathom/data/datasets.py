"""Load a registered dataset by name: find its files, run its loader, choose its split.

File-backed datasets load through PyG from a *data root* (see :mod:`fathom.data.roots`): the
family folder itself or a folder of families such as the project's shared datasets. When the raw
files are absent PyG downloads them (online only); a read-only root is mirrored into the cache
before PyG writes its ``processed/`` folder. A truncated or unparsable file becomes a
:class:`CorruptDatasetError` naming it; a missing folder a :class:`DatasetNotFoundError` naming
the folders searched.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import torch_geometric.transforms as T
from torch_geometric.data import Data

from .errors import CorruptDatasetError, DatasetError, DatasetNotFoundError
from .registry import DatasetSpec, get_spec
from .roots import DATA_ENV, candidates, default_data_root, find_family, locked, writable_family
from .splits import MASKS, apply_split, parse_split
from .validate import num_classes, validate_node_data

# What PyG's readers raise on a truncated or malformed file (pickles, npz archives, text tables,
# torch.load of a processed file).
PARSE_ERRORS = (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, RuntimeError, IndexError,
                KeyError, UnicodeDecodeError, AttributeError, TypeError)


def locate(name: str, root: str | os.PathLike | None = None) -> Path | None:
    """The family folder ``F`` whose ``F/<folder>/raw/`` holds ``name``'s files, or ``None`` if absent
    (always ``None`` for built-in graphs)."""
    spec = get_spec(name)
    return find_family(root, spec.families, spec.folder) if spec.file_backed else None


def raw_folder(name: str, root: str | os.PathLike | None = None) -> Path | None:
    """``name``'s ``raw/`` folder under the data root, or ``None`` if absent."""
    found = locate(name, root)
    return None if found is None else found / get_spec(name).folder / "raw"


def is_approximate(name: str, root: str | os.PathLike | None = None) -> bool:
    """Whether the copy of ``name`` under the data root differs from the published original.

    Decided by the checksum of the file the spec names (``spec.original``); datasets without one
    are approximate only if their spec says so. An absent dataset would be downloaded: not approximate.
    """
    spec = get_spec(name)
    raw = raw_folder(name, root)
    if spec.original is None or raw is None:
        return spec.approximate and spec.original is None
    file, sha256 = spec.original
    path = raw / file
    return not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != sha256


def load_dataset(name: str, root: str | os.PathLike | None = None, *, split: str | int | None = None,
                 seed: int = 0, random_split: tuple[float, float, float] | None = None,
                 normalize: bool | Literal["protocol"] = False, **csbm_options) -> Any:
    """A node-classification graph (``Data``) with 1-D train/val/test masks, or a graph dataset.

    Args:
        name: a key of :data:`fathom.data.DATASETS` (case-insensitive).
        root: data root for file-backed datasets (default: ``FATHOM_DATA`` or the cache).
        split: ``None`` for the dataset's standard split (Planetoid: public; geom-gcn datasets:
            split 0; Amazon/Coauthor: random 60/20/20 seeded by ``seed``), ``"random"`` for a
            seeded random 60/20/20 split, or ``K`` for the K-th geom-gcn split.
        seed: seed of the CSBM graph and of random splits.
        random_split: (train, val, test) fractions of a seeded random split replacing the
            dataset's own (e.g. ``(0.6, 0.2, 0.2)``).
        normalize: row-normalise the features (``NormalizeFeatures``); ``"protocol"`` does it
            where the dataset's standard protocol does (``spec.normalize_features``). The default
            keeps the raw features, as every caller got them before the registry.
        csbm_options: keyword arguments of :func:`fathom.data.csbm`.

    Node graphs carry ``data.name``, ``data.approximate`` (reconstructed files: label results so),
    ``data.split`` (``public``, ``geom-gcn:3``, ``random:seed=0``...) and ``data.num_classes`` (the
    documented count), and are validated (:func:`~fathom.data.validate_node_data`): a label beyond
    the class count, NaN features or a broken mask is an :class:`InvalidGraphError` naming the field. Graph-classification
    datasets (task ``graph``) are returned as the PyG ``InMemoryDataset``; the graph task splits them.
    """
    spec = get_spec(name)
    if csbm_options and not spec.takes_options:
        raise ValueError(f"CSBM options {sorted(csbm_options)} apply only to dataset csbm, not {name!r}")
    parse_split(spec, split, random_split)  # a wrong split fails before a large graph is loaded
    if normalize not in (True, False, "protocol"):
        raise ValueError(f"normalize must be True, False or 'protocol'; got {normalize!r}")
    if spec.builtin is not None:
        loaded = spec.builtin(seed, **csbm_options)
    else:
        loaded = _load_files(spec, root)
    if spec.task != "node":
        return loaded
    data = loaded[0] if not isinstance(loaded, Data) else loaded
    if spec.normalize_features if normalize == "protocol" else normalize:
        data = T.NormalizeFeatures()(data)
    apply_split(data, spec, split, seed, random_split)
    data.name = spec.name
    data.approximate = is_approximate(spec.name, root)
    if getattr(data, "num_classes", None) is None:
        data.num_classes = spec.sizes.classes
    validate_node_data(data)
    return data


def _load_files(spec: DatasetSpec, root: str | os.PathLike | None) -> Any:
    """Run ``spec.loader`` on the family folder found under ``root`` (or let PyG download there)."""
    base = Path(root) if root is not None else default_data_root()
    found = find_family(base, spec.families, spec.folder)
    if found is None:
        return _download(spec, base)
    family = writable_family(found, spec.folder)
    folder = family / spec.folder
    try:
        with locked(folder):
            return spec.loader(str(family), spec.pyg_name)
    except DatasetError:
        raise
    except Exception as error:
        raise _explain(spec, found / spec.folder, folder, error) from error


def _download(spec: DatasetSpec, base: Path) -> Any:
    label = spec.pyg_name or spec.name
    looked = " and ".join(f"{folder / spec.folder / 'raw'}/" for folder in candidates(base, spec.families))
    try:
        return spec.loader(str(base / spec.family), spec.pyg_name)
    except Exception as error:  # PyG surfaces download failures as many types
        example = Path(spec.family) / spec.folder / "raw"
        raise DatasetNotFoundError(
            f"{label} is not under {base} (looked for {looked}) and downloading it failed "
            f"({type(error).__name__}: {error}). Point the data root (or ${DATA_ENV}) at a folder "
            f"holding {example}/ (or at that family folder itself), or go online once."
        ) from error


def _files_in(frame_locals: dict[str, Any], folder: Path) -> list[Path]:
    """Paths of existing files under ``folder`` that a frame's locals hold (as strings or file objects)."""
    found = []
    for value in frame_locals.values():
        value = getattr(value, "name", value)  # an open file's .name is its path
        if isinstance(value, (str, os.PathLike)):
            try:
                path = Path(value)
                if path.is_file() and path.resolve().is_relative_to(folder.resolve()) and path not in found:
                    found.append(path)
            except (OSError, ValueError):
                continue
    return found


def _frames(traceback: TracebackType | None):
    while traceback is not None:
        yield traceback.tb_frame
        traceback = traceback.tb_next


def _explain(spec: DatasetSpec, source: Path, used: Path, error: Exception) -> Exception:
    """Turn an error raised while PyG read ``used`` (a copy of ``source`` or itself) into one naming the file.

    The file is the innermost path under the dataset's folder held by a frame of the traceback
    (PyG's readers keep the path they read in a local). A ``download`` frame means raw files are
    missing.
    """
    frames = list(_frames(error.__traceback__))
    for frame in frames:
        owner = frame.f_locals.get("self")
        if frame.f_code.co_name in ("download", "_download") and hasattr(owner, "raw_paths"):
            missing = [Path(path).name for path in owner.raw_paths if not Path(path).exists()]
            return DatasetNotFoundError(
                f"{spec.name}: {source / 'raw'} lacks {', '.join(missing) or 'some raw files'} and downloading "
                f"failed ({type(error).__name__}: {error}); restore the missing files from the dataset's source")
    if not isinstance(error, PARSE_ERRORS):
        return error
    culprits = next((files for frame in reversed(frames) if (files := _files_in(frame.f_locals, used))), [])
    reason = f"{type(error).__name__}: {error}".strip()
    processed = [path for path in culprits if path.parent.name == "processed"]
    if processed or (not culprits and any((used / "processed").glob("*.pt"))):
        return CorruptDatasetError(
            f"{spec.name}: the processed file {processed[0] if processed else used / 'processed'} cannot be read "
            f"({reason}); delete the folder {used / 'processed'} and load again to rebuild it from raw/")
    named = [str(source / "raw" / path.name) for path in culprits] or [f"a file in {source / 'raw'}"]
    return CorruptDatasetError(
        f"{spec.name}: {' or '.join(named)} is truncated or not in the expected format ({reason}); "
        f"restore it from the dataset's source (compare its size with the original) and load again")


def describe(data: Data) -> str:
    """One line: name (approximate if so), nodes, edges, features, classes, split and its sizes."""
    masks = " / ".join(str(int(getattr(data, mask).sum())) for mask in MASKS)
    name = getattr(data, "name", "graph") + (" (approximate)" if getattr(data, "approximate", False) else "")
    split = getattr(data, "split", None)
    return (f"{name}: {data.num_nodes} nodes, {data.num_edges} edges, {data.num_features} features, "
            f"{num_classes(data)} classes, {f'split {split}, ' if split else ''}train/val/test {masks}")

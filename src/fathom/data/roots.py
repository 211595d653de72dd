"""Where a dataset's files are: data roots, family folders, the cache and its read-only mirrors.

A *data root* is given by the caller, or by the ``FATHOM_DATA`` environment variable, else it is
``<cache>/datasets``. A root is either a *family folder* itself (``ROOT/Cora/raw/``) or a folder
of families (``ROOT/planetoid/Cora/raw/``, as in the project's shared datasets). PyG writes a
``processed/`` folder beside ``raw/``; a folder that is not writable (by its permission bits, so
that even root leaves a read-only tree alone) is first mirrored into ``<cache>/mirror/``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

DATA_ENV = "FATHOM_DATA"
CACHE_ENV = "FATHOM_CACHE"


def cache_dir() -> Path:
    """Where Fathom keeps downloads, mirrors and statistics: ``FATHOM_CACHE`` or ``~/.cache/fathom``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "fathom")


def default_data_root() -> Path:
    """``FATHOM_DATA`` if set, else ``<cache>/datasets``."""
    return Path(os.environ.get(DATA_ENV) or cache_dir() / "datasets")


def candidates(root: str | os.PathLike | None, families: tuple[str, ...]) -> list[Path]:
    """The family folders a root may mean: the root itself, or ``root/<family>`` for each family."""
    base = Path(root) if root is not None else default_data_root()
    return [base, *(base / family for family in families)]


def find_family(root: str | os.PathLike | None, families: tuple[str, ...], folder: str) -> Path | None:
    """The first family folder ``F`` whose ``F/<folder>/raw/`` holds files, or ``None``."""
    for candidate in candidates(root, families):
        raw = candidate / folder / "raw"
        if raw.is_dir() and any(raw.iterdir()):
            return candidate
    return None


def signature(folder: Path) -> str:
    """A short hash of the names, sizes and modification times of the files under ``folder``."""
    entries = sorted((str(path.relative_to(folder)), path.stat().st_size, path.stat().st_mtime_ns)
                     for path in folder.rglob("*") if path.is_file())
    return hashlib.sha1(repr(entries).encode()).hexdigest()[:16]


def writable(folder: Path) -> bool:
    """Whether PyG may write beside ``folder``'s ``raw/``: writable by ``os.access`` and its mode bits."""
    return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def writable_family(family_folder: Path, folder: str) -> Path:
    """``family_folder`` itself, or a cache mirror of ``<folder>/raw/`` when it cannot be written to.

    The mirror is refreshed (its ``processed/`` dropped) whenever the source's raw files change, and
    is copied under a temporary name first, so an interrupted copy never looks complete.
    """
    source = family_folder / folder
    if writable(source):
        return family_folder
    mirror = cache_dir() / "mirror" / hashlib.sha1(str(family_folder.resolve()).encode()).hexdigest()[:12]
    target = mirror / folder
    stamp = target / "raw.signature"
    wanted = signature(source / "raw")
    if stamp.is_file() and stamp.read_text() == wanted and (target / "raw").is_dir():
        return mirror
    target.mkdir(parents=True, exist_ok=True)
    with locked(target):
        if not (stamp.is_file() and stamp.read_text() == wanted):
            staging = target / f"raw.partial-{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            # copyfile, not copytree's copy2: the mirror must be writable even when the source is not
            shutil.copytree(source / "raw", staging, copy_function=shutil.copyfile)
            for path in (staging, *staging.rglob("*")):
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
            shutil.rmtree(target / "raw", ignore_errors=True)
            shutil.rmtree(target / "processed", ignore_errors=True)
            os.replace(staging, target / "raw")
            stamp.write_text(wanted)
    return mirror


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder/.lock`` (processes sharing a cache take turns)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

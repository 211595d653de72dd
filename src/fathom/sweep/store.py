"""The results store of a sweep: ``OUT/results.csv``, one row per run, rewritten atomically.

Only the parent process writes it, after each finished run, through a temporary file and
``os.replace``: a sweep killed at any moment leaves every finished row intact and no partial
row. Re-running the sweep skips runs whose row says ``ok`` or ``diverged``; ``failed`` runs are
retried and their row replaced. Each insertion reads, changes and rewrites the file under an
exclusive lock (``fcntl.flock`` where the platform has it), so that two sweeps sharing a folder
(say, two restricted ``fathom benchmark`` invocations side by side) never lose each other's rows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: one writer at a time is then the user's to keep
    fcntl = None

import pandas as pd

from ..runs import write_csv

FINISHED = ("ok", "diverged")


class ResultStore:
    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.path = self.out / "results.csv"

    def rows(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        with open(self.path, newline="") as handle:
            return list(csv.DictReader(handle))

    def finished_ids(self) -> set[str]:
        return {row["run_id"] for row in self.rows() if row.get("status") in FINISHED}

    def add(self, row: dict[str, Any]) -> None:
        """Insert or replace the row of ``row["run_id"]``."""
        with self._locked():
            rows: list[dict[str, Any]] = [r for r in self.rows() if r["run_id"] != row["run_id"]]
            rows.append(row)
            columns: list[str] = []
            for r in rows:
                columns += [c for c in r if c not in columns]
            write_csv(self.path, rows, columns)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / ".results.lock", "a") as handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def frame(self) -> pd.DataFrame:
        """The store as a DataFrame (numbers parsed), empty if nothing ran yet."""
        return pd.read_csv(self.path) if self.path.exists() else pd.DataFrame()

    def metrics(self, run_id: str) -> pd.DataFrame | None:
        """The per-epoch history of run ``run_id`` (``runs/<run_id>/metrics.csv``: epoch, losses and
        accuracies); ``None`` if the run left none (e.g. it failed before its first epoch)."""
        path = self.out / "runs" / run_id / "metrics.csv"
        return pd.read_csv(path) if path.exists() else None

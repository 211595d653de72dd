"""The results store of a sweep: ``OUT/results.csv``, one row per run, rewritten atomically.

Only the parent process writes it, after each finished run, through a temporary file and
``os.replace``: a sweep killed at any moment leaves every finished row intact and no partial
row. Re-running the sweep skips runs whose row says ``ok`` or ``diverged``; ``failed`` runs are
retried and their row replaced.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

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
        rows: list[dict[str, Any]] = [r for r in self.rows() if r["run_id"] != row["run_id"]]
        rows.append(row)
        columns: list[str] = []
        for r in rows:
            columns += [c for c in r if c not in columns]
        write_csv(self.path, rows, columns)

    def frame(self) -> pd.DataFrame:
        """The store as a DataFrame (numbers parsed), empty if nothing ran yet."""
        return pd.read_csv(self.path) if self.path.exists() else pd.DataFrame()

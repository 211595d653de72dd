"""Shared by the bench scripts: isolated measurements in fresh processes, peak memory, tables."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cuda_peak_mb(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def in_fresh_process(script: str, arguments: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    """Run ``script --worker '<json>'`` in a new Python process and return the JSON it prints last,
    so each measurement's peak memory is its own."""
    completed = subprocess.run([sys.executable, script, "--worker", json.dumps(arguments)], capture_output=True,
                               text=True, timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if completed.returncode != 0:
        return {**arguments, "error": (completed.stderr.strip().splitlines() or ["killed"])[-1]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (f"{platform.platform()}, {os.cpu_count()} cores ({cpu}), torch {torch.__version__}, "
            f"{torch.get_num_threads()} torch threads")


def markdown(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
        return "–" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def data_root(default: str = "../shared/datasets") -> str:
    here = Path(__file__).resolve().parent.parent
    return os.environ.get("FATHOM_DATA") or str((here / default).resolve())

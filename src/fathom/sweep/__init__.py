"""Sweeps: grids of configurations x seeds, run by an executor into a resumable results store."""

from .executors import EXECUTORS
from .grid import GRID_KEYS, RunSpec, expand, load_grid_file, parse_grid
from .runner import run_one, run_sweep
from .store import ResultStore

__all__ = ["EXECUTORS", "GRID_KEYS", "ResultStore", "RunSpec", "expand", "load_grid_file", "parse_grid", "run_one",
           "run_sweep"]

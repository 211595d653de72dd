"""Sweeps: grids of configurations x seeds, run by an executor into a resumable results store."""

from .executors import EXECUTORS, check_executor
from .grid import RunSpec, expand, grid_keys, load_grid_file, parse_grid, parse_split
from .runner import run_one, run_sweep
from .store import ResultStore

__all__ = ["EXECUTORS", "ResultStore", "RunSpec", "check_executor", "expand", "grid_keys", "load_grid_file",
           "parse_grid", "parse_split", "run_one", "run_sweep"]

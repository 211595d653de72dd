"""Running a benchmark on the sweep engine: resumable, local workers or Ray, results by entry."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ..data import DATASETS
from ..runs import environment, write_csv, write_json
from ..sweep import run_sweep
from ..sweep.store import ResultStore
from .report import STATE_FILE, write_report
from .suite import Preset

SWEEP_FOLDER = "sweep"  # the sweep store and run directories, under the benchmark's folder


def run_benchmark(preset: Preset, out: str | Path, data_root: str | None = None, workers: int = 1,
                  executor: str = "local", datasets: tuple[str, ...] | None = None,
                  entries: tuple[str, ...] | None = None, progress: bool = True,
                  command: str = "", report_only: bool = False, folds: tuple[int, ...] | None = None
                  ) -> pd.DataFrame:
    """Run every run of ``preset`` (or of its ``datasets`` and ``entries``) not yet finished in
    ``out``, then write ``out/results.csv`` (one row per run, with its leaderboard ``entry``),
    ``leaderboard.md``, ``report.md`` and ``accuracy_vs_depth.png`` over every finished run of the
    preset, on its datasets and on any other that an invocation ran, so that an invocation
    restricted to some runs still reports the whole benchmark. ``report_only`` renders what has
    finished without running more. Wall time accumulates over resumed invocations in
    ``out/benchmark.json``. ``folds`` restricts the run (not the report) to those folds of the
    graph-classification datasets. After its runs an invocation runs the seeds that a depth picked
    from a finished depth curve lacks (:meth:`Preset.confirmation_specs`), and these count among the
    planned runs. Returns the reported runs' rows."""
    out = Path(out)
    sweep_out = out / SWEEP_FOLDER
    store = ResultStore(sweep_out)
    chosen = preset.specs(data_root, datasets, entries, folds)
    ran = store.frame()
    tasks = {DATASETS[name].task for name in (*preset.datasets, *(datasets or ()))}
    earlier = [name for name in (ran["dataset"] if not ran.empty else ())
               if name in DATASETS and DATASETS[name].task in tasks]  # e.g. a --datasets karate run
    reported = tuple(dict.fromkeys([*preset.datasets, *(datasets or ()), *earlier]))
    planned = preset.specs(data_root, reported)
    state = _state(out)
    started = time.perf_counter()
    invocation = {"command": command, "workers": workers, "executor": executor, "started": time.time(),
                  "seconds": None}
    if not report_only:  # recorded now, so a killed invocation still shows what ran
        state["invocations"] = state.get("invocations", []) + [invocation]
        write_json(out / STATE_FILE, state)
        description = {"benchmark": preset.name, "command": command, "benchmark_runs": len(planned)}
        run_sweep([spec for _, spec in chosen], sweep_out, workers, executor, progress=progress,
                  description=description)
        confirming = preset.confirmation_specs(store.frame(), data_root, datasets, entries)
        if confirming:
            confirmed = preset.confirmation_specs(store.frame(), data_root, reported)
            run_sweep([spec for _, spec in confirming], sweep_out, workers, executor, progress=progress,
                      description={**description, "benchmark_runs": len(planned) + len(confirmed)})
    frame = store.frame()
    labels = {spec.run_id: label for label, spec in planned}
    planned += [(label, spec) for label, spec in preset.confirmation_specs(frame, data_root, reported)
                if spec.run_id not in labels]
    labels = {spec.run_id: label for label, spec in planned}
    frame = frame[frame["run_id"].isin(labels)].reset_index(drop=True) if not frame.empty else frame
    if not report_only:  # read again: an invocation running beside this one may have recorded itself
        elapsed, state = time.perf_counter() - started, _state(out)
        state["wall_seconds"] = state.get("wall_seconds", 0.0) + elapsed
        state["invocations"] = [{**entry, "seconds": elapsed} if entry.get("started") == invocation["started"]
                                else entry for entry in state.get("invocations", [])]
    state.update({"preset": preset.name, "planned_runs": len(planned), "environment": environment(0, "cpu")})
    write_json(out / STATE_FILE, state)
    frame = frame.copy()
    frame.insert(0, "entry", frame["run_id"].map(labels) if not frame.empty else [])
    if not frame.empty:
        write_csv(out / "results.csv", frame.to_dict("records"), list(frame.columns))
    write_report(out, preset, planned, frame, state, store)
    return frame


def _state(out: Path) -> dict[str, Any]:
    path = out / STATE_FILE
    return json.loads(path.read_text()) if path.exists() else {}

"""``fathom benchmark``: Fathom against the deep baselines on the registry's datasets, resumable."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.console import Console

from ..benchmark import PRESETS, preset as get_preset
from ..benchmark.run import run_benchmark
from ..config import ConfigError
from ..data import DatasetError
from ..sweep import EXECUTORS
from . import options as opt
from .common import fail, writable_out

console = Console()


def benchmark(
    preset: Annotated[Literal[tuple(PRESETS)], typer.Option(  # type: ignore[valid-type]
        help="quick: 2 datasets, 4 models, 1 seed, 100 epochs (~10 min); full: every dataset and baseline, "
             "the committed result (hours; resumable).")] = "quick",
    datasets: Annotated[Optional[str], typer.Option(
        help="Comma-separated datasets to run (default: the preset's).")] = None,
    models: Annotated[Optional[str], typer.Option(
        help="Comma-separated entries or factories to run, e.g. Fathom,gcnii (default: all of the preset's).")] = None,
    folds: Annotated[Optional[str], typer.Option(
        help="Comma-separated cross-validation folds (0-9) of the graph datasets to run (default: all).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Parallel runs (processes, or Ray tasks).")] = 1,
    executor: Annotated[Literal[EXECUTORS], typer.Option(  # type: ignore[valid-type]
        help="local processes, or ray (pip install 'fathom\\[ray]').")] = "local",
    report_only: Annotated[bool, typer.Option(
        help="Render the report from the runs finished in --out, running nothing.")] = False,
    data_root: opt.DataRoot = None,
    out: opt.Out = None,
    progress: opt.ShowProgress = True,
) -> None:
    """Run a benchmark preset: each model with its paper's settings (Fathom with the configuration
    chosen on validation, fathom/benchmark/chosen.json) on each dataset's standard split.

    Writes OUT/results.csv, OUT/leaderboard.md, OUT/report.md (cost, targets, ablation, what ran)
    and OUT/accuracy_vs_depth.png. Re-running with the same --out resumes; finished runs are kept.
    """
    chosen = get_preset(preset)
    out = out or Path(f"benchmark-{preset}")
    split = lambda text: tuple(part.strip() for part in text.split(",") if part.strip()) if text else None  # noqa: E731
    command = shlex.join(["fathom", *sys.argv[1:]])
    try:
        fold_numbers = tuple(int(fold) for fold in split(folds)) if folds else None
    except ValueError:
        raise typer.BadParameter(f"--folds takes comma-separated fold numbers, e.g. 1,3; got {folds!r}") from None
    try:
        planned = chosen.specs(str(data_root) if data_root else None, split(datasets), split(models), fold_numbers)
    except ConfigError as error:
        raise typer.BadParameter(str(error)) from error
    writable_out(out)
    curves = any(entry.curve for entry in chosen.entries)
    console.print(f"{len(planned)} runs of the {preset} preset -> {out}" + (
        ", then the seeds that a depth validation picks from a finished depth curve lacks" if curves else ""))
    try:
        run_benchmark(chosen, out, str(data_root) if data_root else None, workers, executor, split(datasets),
                      split(models), progress, command, report_only, fold_numbers)
    except (DatasetError, RuntimeError) as error:
        raise fail(str(error)) from error
    console.print(f"leaderboard: {Path(out) / 'leaderboard.md'}; report: {Path(out) / 'report.md'}")

"""``fathom sweep``: a grid of configurations x seeds, resumable, with a summary table."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import typer
from rich.console import Console

from ..config import ConfigError, ModelConfig, TrainConfig
from ..report import summary_table
from ..runtime import UnavailableError
from ..sweep import (EXECUTORS, ResultStore, check_executor, expand, grid_keys, load_grid_file, parse_grid, parse_split,
                     run_sweep)
from ..sweep.grid import MODEL_FIELDS, TRAIN_FIELDS
from . import options as opt
from .common import default_out, device_or_exit, fail, print_frame, writable_out

console = Console()

SUMMARY_METRICS = ["final_train_loss", "loss_at_10", "epochs_to_target", "best_val_acc", "test_acc_at_best_val"]


@opt.config_options(ModelConfig, TrainConfig, values=True)
def sweep(
    grid: Annotated[Optional[list[str]], typer.Option(
        help="A varied setting, key=v1,v2,... (repeatable), e.g. --grid depth=4,16 --grid init=glorot,gnn_he; "
             "--grid model=deepgnn,gcn compares model factories.")] = None,
    grid_file: Annotated[Optional[Path], typer.Option(
        help="YAML file {fixed: {key: value}, grid: {key: \\[values]}, seeds: N}; fixed values override "
             "flags.")] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per configuration: seed, seed+1, ...")] = 3,
    workers: Annotated[int, typer.Option(min=1, help="Parallel runs (processes, or Ray tasks).")] = 1,
    executor: Annotated[Literal[EXECUTORS], typer.Option(  # type: ignore[valid-type]
        help="local processes, or ray (pip install 'fathom\\[ray]') on a laptop or cluster.")] = "local",
    target_loss: Annotated[float, typer.Option(help="Train loss that counts as 'reached' for epochs_to_target.")] = 0.5,
    dataset: opt.Dataset = "csbm",
    data_root: opt.DataRoot = None,
    split: opt.Split = "standard",
    features: opt.Features = "raw",
    out: opt.Out = None,
    progress: opt.ShowProgress = True,
    *,
    model_config: dict[str, Any],
    train_config: dict[str, Any],
) -> None:
    """Train every combination of --grid values (the other flags fixed) for several seeds.

    Each run gets its own directory under OUT/runs/; OUT/results.csv holds one row per run
    (config, seed, status, summary and early-training measures). Re-running the same command
    with the same --out skips finished runs, so a killed sweep resumes where it stopped.
    Model flags set Fathom's deepgnn; other model factories in --grid model=... start from their
    own defaults and take the grid keys they have.
    """
    fixed: dict[str, Any] = {**model_config, **train_config, "dataset": dataset, "split": split}
    if features != "raw":  # only then: sweeps recorded before the option resume as they were
        fixed["features"] = features
    try:
        varied = parse_grid(grid or [])
        if grid_file is not None:
            file_fixed, file_grid, file_seeds = load_grid_file(grid_file)
            _check_fixed_keys(file_fixed, grid_file)
            fixed.update(file_fixed)
            varied = {**file_grid, **varied}
            seeds = file_seeds or seeds
        model = ModelConfig(**{k: v for k, v in fixed.items() if k in MODEL_FIELDS})
        train = TrainConfig(**{k: v for k, v in fixed.items() if k in TRAIN_FIELDS})
        specs = expand(fixed["dataset"], model, train, varied, list(range(train.seed, train.seed + seeds)),
                       str(data_root) if data_root else None, parse_split(str(fixed["split"])),
                       features=fixed.get("features", "raw"))
    except ConfigError as error:
        raise typer.BadParameter(str(error)) from error
    device_or_exit(train.device)
    try:
        check_executor(executor)
    except UnavailableError as error:
        raise fail(str(error)) from error
    out = out or default_out("sweep", fixed["dataset"])
    description = {"fixed": fixed, "grid": varied, "seeds": seeds, "executor": executor}
    try:
        _check_same_sweep(Path(out), description, target_loss)
    except ConfigError as error:
        raise typer.BadParameter(str(error), param_hint="--out") from error
    writable_out(out)
    finished = len(ResultStore(out).finished_ids() & {spec.run_id for spec in specs})
    console.print(f"{len(specs)} runs ({len(specs) // seeds} configurations x {seeds} seeds), "
                  f"{finished} already finished -> {out}")
    frame = run_sweep(specs, out, workers, executor, target_loss, progress,
                      description=description)
    by = list(varied) or ["dataset"]
    title = f"mean ± std over {seeds} seeds (target loss {target_loss})"
    print_frame(summary_table(frame, by, SUMMARY_METRICS), title, console)
    console.print(f"results: {Path(out) / 'results.csv'} (re-run with --out {out} to resume)")


SAME_SWEEP_KEYS = ("fixed", "grid", "seeds", "target_loss")  # what must match to resume into an existing folder


def _check_same_sweep(out: Path, description: dict[str, Any], target_loss: float) -> None:
    """Resuming into ``out`` is only for the same sweep: another grid's rows would mix in one table."""
    path = out / "sweep.json"
    if not path.exists():
        return
    before = json.loads(path.read_text())
    if isinstance(before.get("fixed"), dict):  # a field added to the configuration since: its default then
        defaults = json.loads(json.dumps({**ModelConfig().to_dict(), **TrainConfig().to_dict()}, default=str))
        before["fixed"] = {**defaults, **before["fixed"]}
    now = json.loads(json.dumps({**description, "target_loss": target_loss}, default=str))
    differing = [key for key in SAME_SWEEP_KEYS if key in before and before[key] != now.get(key)]
    if differing:
        details = "; ".join(f"{key}: {before[key]} -> {now.get(key)}" for key in differing)
        raise ConfigError(f"{out} holds another sweep ({details}): give a new output folder, or the same "
                          "settings to resume it")


def _check_fixed_keys(fixed: dict[str, Any], path: Path) -> None:
    """A misspelt key in a sweep file's ``fixed:`` would otherwise be ignored silently."""
    known = [k for k in grid_keys() if k != "model"] + ["seed"]
    for key in fixed:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{path}: unknown fixed key {key!r}{hint}; known: {', '.join(known)}")

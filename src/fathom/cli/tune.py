"""``fathom tune``: hyper-parameter search on validation accuracy (Optuna's TPE), resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..config import ConfigError, TrainConfig
from ..data import DatasetError
from ..models import MODELS
from ..report import format_number
from ..tune import load_space_file, parse_space, tune as run_tuning
from . import options as opt
from .common import default_out, fail, writable_out
from .datasets import flag_wording

console = Console()
SHOWN_TRIALS = 5


@opt.config_options(TrainConfig, values=True, exclude=("seed",))
def tune(
    model: Annotated[Literal[tuple(MODELS)], typer.Option(  # type: ignore[valid-type]
        help="Model factory to tune (deepgnn is Fathom's; gcn is PyG's).")] = "deepgnn",
    space: Annotated[Optional[list[str]], typer.Option(
        help="A searched setting (repeatable): key=v1,v2,... (choices) or key=low:high[:log] (a range), e.g. "
             "--space depth=16,32,64 --space lr=0.001:0.05:log. Keys: the model's parameters and training "
             "settings.")] = None,
    space_file: Annotated[Optional[Path], typer.Option(
        help="YAML file {space: {key: \\[choices] | {low: a, high: b, log: true}}, fixed: {key: value}}; its "
             "fixed settings override the training flags, --space entries its space.")] = None,
    fixed: Annotated[Optional[list[str]], typer.Option(
        help="A fixed model parameter or training setting, key=value (repeatable), e.g. --fixed residual=plain; "
             "overrides the space file's fixed settings.")] = None,
    trials: Annotated[int, typer.Option(min=1, help="Trials in total (a resumed tuning runs the missing ones).")] = 20,
    seeds_per_trial: Annotated[int, typer.Option(
        min=1, help="Training runs per trial (seeds seed, seed+1, ...); a trial scores their mean validation "
                    "accuracy.")] = 1,
    seed: opt.Seed = 0,
    dataset: opt.Dataset = "csbm",
    data_root: opt.DataRoot = None,
    split: opt.Split = "standard",
    features: opt.Features = "raw",
    out: opt.Out = None,
    progress: opt.ShowProgress = True,
    *,
    train_config: dict[str, Any],
) -> None:
    """Search model and training settings for the best validation accuracy (Optuna's TPE sampler).

    Every trial trains on a copy of the graph without its test nodes (test mask empty, test
    labels overwritten), so the choice never sees test accuracy. OUT/study.db holds the study:
    re-running the same command with the same --out resumes it. OUT/trials.csv has one row per
    trial (failed ones with their reason), OUT/best.json the chosen configuration.
    """
    try:
        searched, file_fixed = load_space_file(space_file, model) if space_file else ({}, {})
        searched = {**searched, **parse_space(space or [], model)}
        if not searched:
            raise ConfigError("nothing to search: give --space key=v1,v2 or key=low:high, or --space-file")
        settings = {**train_config, **file_fixed, **_key_values(fixed or [])}
    except ConfigError as error:
        raise typer.BadParameter(str(error)) from error
    out = writable_out(out or default_out("tune", dataset))
    console.print(f"{trials} trials of {model} on {dataset}, searching {', '.join(searched)} -> {out}")
    try:
        result = run_tuning(model, dataset, data_root, searched, settings, {}, trials, seed, out,
                            split=opt.parse_split(split), features=features, progress=progress,
                            seeds_per_trial=seeds_per_trial)
    except ConfigError as error:
        raise typer.BadParameter(str(error)) from error
    except (ImportError, DatasetError, RuntimeError) as error:
        raise fail(flag_wording(error)) from error
    console.print(trials_table(result.trials, list(searched)))
    if result.interrupted:
        console.print(f"[yellow]interrupted[/yellow]; continue with the same command and --out {out}", soft_wrap=True)
        raise typer.Exit(130)
    if result.best_val_acc is None:
        raise fail(f"no trial completed; their reasons are in {Path(out) / 'trials.csv'}")
    console.print(f"best validation accuracy {result.best_val_acc:.4f}; chosen configuration: {result.best_file}",
                  soft_wrap=True)


def _key_values(items: list[str]) -> dict[str, str]:
    """``["residual=plain"]`` -> ``{"residual": "plain"}`` (typed later, by the field)."""
    pairs = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"a fixed setting is key=value; got {item!r}")
        key, value = (part.strip() for part in item.split("=", 1))
        pairs[key] = value
    return pairs


def trials_table(rows: list[dict[str, Any]], keys: list[str], shown: int = SHOWN_TRIALS) -> Table:
    """The best completed trials by validation accuracy, and how many failed."""
    done = sorted((r for r in rows if r["state"] == "complete"), key=lambda r: (-r["val_acc"], r["trial"]))
    failed = sum(r["state"] == "fail" for r in rows)
    table = Table(title=f"best {min(shown, len(done))} of {len(rows)} trials ({failed} failed)")
    for column in ["trial", "val_acc", *keys, "seconds"]:
        table.add_column(column)
    for row in done[:shown]:
        table.add_row(*(format_number(row[c]) for c in ["trial", "val_acc", *keys, "seconds"]))
    return table

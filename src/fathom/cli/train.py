"""``fathom train``: train a deep GNN on one graph and write a run directory."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..config import ModelConfig, TrainConfig
from ..data import PartitionError, describe, get_spec, num_classes
from ..diagnostics.recorder import measure_at_init
from ..diagnostics.verdict import verdict
from ..train import train_node_classifier
from ..train.memory import InsufficientMemoryError, check_fits
from . import options as opt
from .common import (as_flags, default_out, device_or_exit, fail, load_graph_task_or_exit, load_or_exit,
                     writable_out)

console = Console()


@opt.config_options(ModelConfig, TrainConfig)
def train(
    dataset: opt.Dataset = "csbm",
    data_root: opt.DataRoot = None,
    split: opt.Split = "standard",
    features: opt.Features = "raw",
    out: opt.Out = None,
    record_every: Annotated[Optional[int], typer.Option(
        min=1, help="Record per-layer diagnostics (feature and gradient metrics) at init and every K "
                    "epochs into layer_metrics.csv.", rich_help_panel=opt.TRAINING)] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option(
        min=1, help="Write model, optimizer and RNG state to checkpoint.pt every N epochs (atomic), so "
                    "--resume loses at most N epochs.", rich_help_panel=opt.TRAINING)] = None,
    resume: Annotated[Optional[Path], typer.Option(
        help="Continue the run in this directory from its checkpoint.pt, with its recorded configuration "
             "(the other flags are ignored).", rich_help_panel=opt.TRAINING)] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run directory given with --out.",
                                            rich_help_panel=opt.TRAINING)] = False,
    tensorboard: Annotated[Optional[Path], typer.Option(
        help="Also log the per-epoch metrics (and the per-layer diagnostics with --record-every) to this "
             "TensorBoard log directory; needs pip install -e \".\\[tensorboard]\".",
        rich_help_panel=opt.TRAINING)] = None,
    progress: opt.ShowProgress = True,
    *,
    model_config: ModelConfig,
    train_config: TrainConfig,
) -> None:
    """Train a deep GNN on one graph, full batch, or on a graph-classification dataset.

    The default is Fathom's principled model on the built-in CSBM: 32 blocks, gnn_he init,
    residual aggregation a=0.5 and fixup residual connections. Writes config.json, env.json,
    metrics.csv and summary.json to the run directory. Ctrl-C stops cleanly (summary.json marked
    interrupted); with --checkpoint-every, --resume continues a stopped or killed run.
    A graph-classification dataset (mutag, proteins, imdb-binary, nci1) trains on mini-batches of
    graphs with a sum (or --readout mean) readout; --split K picks the test fold (0-9) of its stratified 10 folds.
    --partitions K trains one part of the graph per step (Cluster-GCN); under torchrun
    --nproc-per-node N the processes share each epoch's parts (K a multiple of N) and only the
    first writes the run directory.
    """
    lead = int(os.environ.get("RANK", "0")) == 0  # under torchrun, only rank 0 writes and prints
    if not lead:
        console.quiet, progress = True, False
    if resume is not None:
        recorded = _recorded_run(resume)
        model_config, train_config = ModelConfig.from_dict(recorded["model"]), TrainConfig.from_dict(recorded["train"])
        dataset, split = recorded["data"]["dataset"], recorded["data"].get("split", "standard")
        features = recorded["data"].get("features", "raw")
        data_root = data_root or (Path(recorded["data"]["data_root"]) if recorded["data"].get("data_root") else None)
        checkpoint_every = checkpoint_every or recorded.get("checkpoint_every")
        out = resume
    elif out is not None and (out / "config.json").exists() and not overwrite:
        raise fail(f"{out} already holds a run; choose another --out, continue it with --resume {out}, or "
                   "replace it with --overwrite")
    elif out is not None and out.exists() and not out.is_dir():
        raise fail(f"--out {out} is a file, not a directory")
    device = device_or_exit(train_config.device)
    if get_spec(dataset).task == "graph":  # the split is a cross-validation fold
        if record_every is not None or features != "raw":
            raise fail(f"{'--record-every' if record_every is not None else '--features protocol'} applies to one "
                       f"graph's nodes; {dataset} is a graph-classification dataset")
        data = load_graph_task_or_exit(dataset, data_root, None if split == "standard" else split,
                                       train_config.readout, train_config.batch_size)
        out = writable_out(out or default_out("train", dataset))
        console.print(data.describe())
    else:
        if graph_only := train_config.graph_only_changes():
            raise fail(as_flags(f"{graph_only}: graph-classification settings; {dataset} is "
                                "a node-classification dataset"))
        data = load_or_exit(dataset, data_root, train_config.seed, opt.parse_split(split), features)
        try:  # before anything is built, even for the check at initialisation (partitioned: per part, later)
            if train_config.partitions == 1:
                check_fits(model_config, data, num_classes(data), device)
        except InsufficientMemoryError as error:
            raise fail(as_flags(str(error))) from error
        out = writable_out(out or default_out("train", dataset)) if lead else None
        console.print(describe(data))
        if resume is None and lead:
            warn_at_init(model_config, data, train_config.seed)
    try:
        result = train_node_classifier(
            model_config, train_config, data, out, progress=progress,
            data_info={"dataset": dataset, "data_root": str(data_root) if data_root else None, "split": split,
                       "features": features},
            record_every=record_every, checkpoint_every=checkpoint_every, resume=resume is not None,
            tensorboard=tensorboard)
    except (FileNotFoundError, PermissionError, ImportError, InsufficientMemoryError, PartitionError) as error:
        raise fail(as_flags(str(error))) from error
    console.print(result.model)
    print_summary(result.summary)
    console.print(f"run directory: {out}")
    if result.summary["interrupted"]:
        how = f"fathom train --resume {out}" if checkpoint_every else "a new run with --checkpoint-every N"
        console.print(f"[yellow]interrupted[/yellow] after epoch {result.summary['epochs_run']}; summary.json "
                      f"holds the best metrics so far. Continue with: {how}", soft_wrap=True)
        raise typer.Exit(130)


def _recorded_run(run_dir: Path) -> dict:
    """The configuration a run directory recorded, to resume it."""
    try:
        return json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError) as error:
        raise fail(f"cannot resume {run_dir}: its config.json is missing or unreadable ({error})") from error


INIT_CHECK_MAX_ENTRIES = 2e8  # nodes x width x depth up to which the init check runs (one recorded pass)


def warn_at_init(config: ModelConfig, data, seed: int) -> None:
    """Before epoch 1, what ``fathom diagnose`` would find wrong at initialisation, as warnings.

    Skipped where one recorded pass would be costly (very deep or wide models on big graphs, or
    the memory-saving modes, whose point is not to hold every layer)."""
    if config.memory != "full" or data.num_nodes * config.width * config.depth > INIT_CHECK_MAX_ENTRIES:
        return
    with console.status("checking the model at initialisation"):
        metrics = measure_at_init(config, data, [seed])
    for finding in verdict(metrics, config):
        if finding.present:
            console.print(f"[yellow]warning at initialisation:[/yellow] {escape(as_flags(finding.line()))} "
                          "(fathom diagnose shows it layer by layer)", highlight=False, soft_wrap=True)


def print_summary(summary: dict) -> None:
    table = Table(title="summary", show_header=False)
    for key, value in summary.items():
        if value is None:
            continue
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
    if summary["diverged"]:
        console.print(f"[red]diverged:[/red] {summary['divergence']}. Try --init gnn_he, a smaller --lr, or "
                      "--residual fixup.")

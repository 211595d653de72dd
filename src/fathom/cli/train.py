"""``fathom train``: train a deep GNN on one graph and write a run directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..data import DatasetNotFoundError, describe, load_dataset
from ..train import train_node_classifier
from . import options as opt

console = Console()


def default_out(command: str, dataset: str) -> Path:
    return Path("runs") / f"{command}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"


def load_or_exit(dataset: str, data_root: Path | None, seed: int):
    """Load a dataset, turning 'not found' into a one-line error and exit code 1."""
    try:
        return load_dataset(dataset, data_root, seed=seed)
    except DatasetNotFoundError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from error


def train(
    dataset: opt.Dataset = "csbm",
    data_root: opt.DataRoot = None,
    depth: opt.Depth = 32,
    width: opt.Width = 64,
    aggregation: opt.Aggregation = "gcn",
    residual_aggregation: opt.ResidualAggregation = 0.5,
    residual: opt.Residual = "fixup",
    beta: opt.Beta = None,
    init: opt.Init = "gnn_he",
    norm: opt.Norm = "none",
    norm_bound: opt.NormBound = "spectral",
    norm_c: opt.NormC = 0.999,
    activation: opt.Activation = "relu",
    dropout: opt.Dropout = 0.0,
    memory: opt.Memory = "full",
    epochs: opt.Epochs = 100,
    lr: opt.LearningRate = 0.005,
    weight_decay: opt.WeightDecay = 0.0,
    patience: opt.Patience = None,
    seed: opt.Seed = 0,
    device: opt.Device = "auto",
    out: opt.Out = None,
    record_every: Annotated[Optional[int], typer.Option(
        min=1, help="Record per-layer diagnostics (feature and gradient metrics) at init and every K "
                    "epochs into layer_metrics.csv.", rich_help_panel=opt.TRAINING)] = None,
    progress: opt.ShowProgress = True,
) -> None:
    """Train a deep GNN on one graph, full batch.

    The default is Fathom's principled model on the built-in CSBM: 32 blocks, gnn_he init,
    residual aggregation a=0.5 and fixup residual connections. Writes config.json, env.json,
    metrics.csv and summary.json to the run directory.
    """
    model_config = opt.model_config(
        depth=depth, width=width, aggregation=aggregation, residual_aggregation=residual_aggregation,
        residual=residual, beta=beta, init=init, norm=norm,
        norm_bound=norm_bound, norm_c=norm_c, activation=activation, dropout=dropout, memory=memory)
    train_config = opt.train_config(epochs=epochs, lr=lr, weight_decay=weight_decay, seed=seed, device=device,
                                   patience=patience)
    data = load_or_exit(dataset, data_root, seed)
    out = out or default_out("train", dataset)
    console.print(describe(data))
    result = train_node_classifier(
        model_config, train_config, data, out, progress=progress,
        data_info={"dataset": dataset, "data_root": str(data_root) if data_root else None},
        record_every=record_every)
    console.print(result.model)
    print_summary(result.summary)
    console.print(f"run directory: {out}")


def print_summary(summary: dict) -> None:
    table = Table(title="summary", show_header=False)
    for key, value in summary.items():
        if value is None:
            continue
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
    if summary["diverged"]:
        console.print(f"[red]diverged:[/red] {summary['divergence']}. Try gnn_he init, a smaller --lr, or "
                      "--residual fixup.")

"""``fathom train``: train a deep GNN on one graph and write a run directory."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..config import ModelConfig, TrainConfig
from ..data import describe
from ..train import train_node_classifier
from . import options as opt
from .common import default_out, load_or_exit

console = Console()


@opt.config_options(ModelConfig, TrainConfig)
def train(
    dataset: opt.Dataset = "csbm",
    data_root: opt.DataRoot = None,
    split: opt.Split = "standard",
    out: opt.Out = None,
    record_every: Annotated[Optional[int], typer.Option(
        min=1, help="Record per-layer diagnostics (feature and gradient metrics) at init and every K "
                    "epochs into layer_metrics.csv.", rich_help_panel=opt.TRAINING)] = None,
    progress: opt.ShowProgress = True,
    *,
    model_config: ModelConfig,
    train_config: TrainConfig,
) -> None:
    """Train a deep GNN on one graph, full batch.

    The default is Fathom's principled model on the built-in CSBM: 32 blocks, gnn_he init,
    residual aggregation a=0.5 and fixup residual connections. Writes config.json, env.json,
    metrics.csv and summary.json to the run directory.
    """
    data = load_or_exit(dataset, data_root, train_config.seed, opt.parse_split(split))
    out = out or default_out("train", dataset)
    console.print(describe(data))
    result = train_node_classifier(
        model_config, train_config, data, out, progress=progress,
        data_info={"dataset": dataset, "data_root": str(data_root) if data_root else None, "split": split},
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
        console.print(f"[red]diverged:[/red] {summary['divergence']}. Try --init gnn_he, a smaller --lr, or "
                      "--residual fixup.")

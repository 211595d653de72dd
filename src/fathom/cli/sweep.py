"""``fathom sweep``: a grid of configurations x seeds, resumable, with a summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..config import ConfigError
from ..sweep import EXECUTORS, ResultStore, expand, load_grid_file, parse_grid, run_sweep
from ..sweep.grid import MODEL_FIELDS
from ..report import summary_table
from . import options as opt
from .train import default_out

console = Console()

SUMMARY_METRICS = ["final_train_loss", "loss_at_10", "epochs_to_target", "best_val_acc", "test_acc_at_best_val"]


def sweep(
    grid: Annotated[Optional[list[str]], typer.Option(
        help="A varied setting, key=v1,v2,... (repeatable), e.g. --grid depth=4,16 --grid init=glorot,gnn_he.")] = None,
    grid_file: Annotated[Optional[Path], typer.Option(
        help="YAML file {fixed: {key: value}, grid: {key: [values]}, seeds: N}; fixed values override flags.")] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per configuration: seed, seed+1, ...")] = 3,
    workers: Annotated[int, typer.Option(min=1, help="Parallel runs (processes, or Ray tasks).")] = 1,
    executor: Annotated[Literal[EXECUTORS], typer.Option(  # type: ignore[valid-type]
        help="local processes, or ray (pip install 'fathom[ray]') on a laptop or cluster.")] = "local",
    target_loss: Annotated[float, typer.Option(help="Train loss that counts as 'reached' for epochs_to_target.")] = 0.5,
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
    progress: opt.ShowProgress = True,
) -> None:
    """Train every combination of --grid values (the other flags fixed) for several seeds.

    Each run gets its own directory under OUT/runs/; OUT/results.csv holds one row per run
    (config, seed, status, summary and early-training measures). Re-running the same command
    with the same --out skips finished runs, so a killed sweep resumes where it stopped.
    """
    fixed = dict(depth=depth, width=width, aggregation=aggregation, residual_aggregation=residual_aggregation,
                 residual=residual, beta=beta, init=init, norm=norm,
                 norm_bound=norm_bound, norm_c=norm_c, activation=activation, dropout=dropout, memory=memory,
                 epochs=epochs, lr=lr, weight_decay=weight_decay, device=device, dataset=dataset, patience=patience)
    try:
        varied = parse_grid(grid or [])
        if grid_file is not None:
            file_fixed, file_grid, file_seeds = load_grid_file(grid_file)
            fixed.update(file_fixed)
            varied = {**file_grid, **varied}
            seeds = file_seeds or seeds
    except ConfigError as error:
        raise typer.BadParameter(str(error)) from error
    model = opt.model_config(**{k: v for k, v in fixed.items() if k in MODEL_FIELDS})
    train = opt.train_config(epochs=fixed["epochs"], lr=fixed["lr"], weight_decay=fixed["weight_decay"], seed=seed,
                             device=fixed["device"], patience=fixed["patience"])
    try:
        specs = expand(fixed["dataset"], model, train, varied, list(range(seed, seed + seeds)),
                       str(data_root) if data_root else None)
    except ConfigError as error:
        raise typer.BadParameter(str(error)) from error
    out = out or default_out("sweep", fixed["dataset"])
    finished = len(ResultStore(out).finished_ids() & {spec.run_id for spec in specs})
    console.print(f"{len(specs)} runs ({len(specs) // seeds} configurations x {seeds} seeds), "
                  f"{finished} already finished -> {out}")
    frame = run_sweep(specs, out, workers, executor, target_loss, progress,
                      description={"fixed": fixed, "grid": varied, "seeds": seeds, "executor": executor})
    by = list(varied) or ["dataset"]
    table = summary_table(frame, by, SUMMARY_METRICS)
    rich_table = Table(title=f"mean ± std over {seeds} seeds (target loss {target_loss})")
    for column in table.columns:
        rich_table.add_column(str(column))
    for row in table.itertuples(index=False):
        rich_table.add_row(*(str(v) for v in row))
    console.print(rich_table)
    console.print(f"results: {Path(out) / 'results.csv'} (re-run with --out {out} to resume)")

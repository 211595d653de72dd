"""Option types shared by every command that builds a model on a graph (train, diagnose, ...).

Each is an ``Annotated`` alias, so a command declares ``depth: Depth = 32`` and gets the same
flag name, help text and choices as every other command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from ..config import (ACTIVATIONS, DEVICES, INITS, MEMORY_MODES, NORM_BOUNDS, NORMS, RESIDUALS, ConfigError,
                      ModelConfig, TrainConfig)
from ..data import DATA_ENV, DATASETS
from ..graph import AGGREGATIONS

DATA, MODEL, TRAINING = "Data", "Model", "Training"

Dataset = Annotated[Literal[tuple(DATASETS)], typer.Option(  # type: ignore[valid-type]
    help="Graph to use: the built-in CSBM, karate (shipped with PyG) or a Planetoid dataset.",
    rich_help_panel=DATA)]
DataRoot = Annotated[Optional[Path], typer.Option(
    help=f"Folder holding <Name>/raw/ (or planetoid/<Name>/raw/); default ${DATA_ENV} or ~/.cache/fathom.",
    envvar=DATA_ENV, rich_help_panel=DATA)]
Depth = Annotated[int, typer.Option(min=1, help="Number of message-passing blocks L.", rich_help_panel=MODEL)]
Width = Annotated[int, typer.Option(min=1, help="Hidden width of every block.", rich_help_panel=MODEL)]
Aggregation = Annotated[Literal[AGGREGATIONS], typer.Option(  # type: ignore[valid-type]
    help="Aggregation operator A: gcn D^-1/2(Adj+I)D^-1/2, mean D^-1(Adj+I), sum Adj+I.",
    rich_help_panel=MODEL)]
ResidualAggregation = Annotated[float, typer.Option(
    min=0.0, max=1.0, help="a in the residual aggregation operator A_a = (1-a)A + aI.", rich_help_panel=MODEL)]
Residual = Annotated[Literal[RESIDUALS], typer.Option(  # type: ignore[valid-type]
    help="Residual connections: none Z'=B(Z); plain Z'=Z+B(Z); fixup Z'=Z+beta*B(Z).", rich_help_panel=MODEL)]
Beta = Annotated[Optional[float], typer.Option(
    help="Residual branch scale (default: 1 for plain, 1/sqrt(depth) for fixup).", rich_help_panel=MODEL)]
Init = Annotated[Literal[INITS], typer.Option(  # type: ignore[valid-type]
    help="Block weights: gnn_he Var=2/(fan_in*lambda_1(A_a)^2); kaiming 2/fan_in; glorot (PyG default); "
         "fixup = gnn_he with zeroed residual branches.", rich_help_panel=MODEL)]
Norm = Annotated[Literal[NORMS], typer.Option(  # type: ignore[valid-type]
    help="weight: ||W|| <= c before every forward; layer: residual block divided by its Lipschitz bound "
         "(Park & Kim 2024); pairnorm | batchnorm on each branch output (PyG baselines).", rich_help_panel=MODEL)]
NormBound = Annotated[Literal[NORM_BOUNDS], typer.Option(  # type: ignore[valid-type]
    help="Norm of W for --norm weight: spectral (power iteration) or frobenius (a cheap upper bound).",
    rich_help_panel=MODEL)]
NormC = Annotated[float, typer.Option(help="The bound c of --norm weight: ||W|| <= c.", rich_help_panel=MODEL)]
Memory = Annotated[Literal[MEMORY_MODES], typer.Option(  # type: ignore[valid-type]
    help="full; checkpoint: recompute segments of sqrt(L) blocks; reversible: grouped reversible blocks "
         "(activation memory constant in depth).", rich_help_panel=MODEL)]
Activation = Annotated[Literal[ACTIVATIONS], typer.Option(  # type: ignore[valid-type]
    help="relu, or identity for a linearized GNN.", rich_help_panel=MODEL)]
Dropout = Annotated[float, typer.Option(min=0.0, max=0.99, help="Dropout on each block's input.",
                                        rich_help_panel=MODEL)]
Epochs = Annotated[int, typer.Option(min=1, help="Full-batch training epochs.", rich_help_panel=TRAINING)]
LearningRate = Annotated[float, typer.Option("--lr", help="Adam learning rate.", rich_help_panel=TRAINING)]
WeightDecay = Annotated[float, typer.Option(min=0.0, help="Adam weight decay (L2).", rich_help_panel=TRAINING)]
Patience = Annotated[Optional[int], typer.Option(
    min=1, help="Stop when validation accuracy has not improved for this many epochs.", rich_help_panel=TRAINING)]
Seed = Annotated[int, typer.Option(min=0, help="Seed of the initialisation, dropout and the CSBM graph.",
                                   rich_help_panel=TRAINING)]
Device = Annotated[Literal[DEVICES], typer.Option(  # type: ignore[valid-type]
    help="auto picks cuda when available.", rich_help_panel=TRAINING)]
Out = Annotated[Optional[Path], typer.Option(
    help="Run directory (default: runs/<command>-<dataset>-<time>).", rich_help_panel=TRAINING)]
ShowProgress = Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")]


def build_config(cls, **values):
    """``cls(**values)``, turning a :class:`ConfigError` into a CLI usage error (exit code 2)."""
    try:
        return cls(**values)
    except ConfigError as error:
        raise typer.BadParameter(str(error)) from error


def model_config(**values) -> ModelConfig:
    return build_config(ModelConfig, **values)


def train_config(**values) -> TrainConfig:
    return build_config(TrainConfig, **values)

"""``fathom diagnose``: per-layer signal, smoothing and gradient metrics at initialisation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..config import ConfigError, ModelConfig, parse_overrides
from ..diagnostics import LAYER_METRICS, measure_at_init
from ..diagnostics.verdict import verdict
from ..report import plot_layer_metrics
from ..runs import environment, write_json
from ..runtime import resolve_device
from . import options as opt
from .common import default_out, load_or_exit

console = Console()

TABLE_COLUMNS = ("second_moment", "mu", "mean_cosine", "effective_rank", "grad_norm", "grad_mu_ratio")
TABLE_ROWS = 12  # layers shown for deep models


def shown_layers(depth: int, rows: int = TABLE_ROWS) -> list[int]:
    """1-based layers for the table: all of them up to ``rows``, else evenly spaced with 1 and L."""
    if depth <= rows:
        return list(range(1, depth + 1))
    return sorted({round(1 + i * (depth - 1) / (rows - 1)) for i in range(rows)})


@opt.config_options(ModelConfig, defaults={"depth": 64, "residual_aggregation": 0.0, "residual": "none",
                                          "init": "glorot"},
                    exclude=("dropout", "memory"))
def diagnose(
    ctx: typer.Context,
    dataset: opt.Dataset = "csbm",
    data_root: opt.DataRoot = None,
    seed: opt.Seed = 0,
    seeds: Annotated[int, typer.Option(min=1, help="Average the metrics over this many initialisations.")] = 3,
    compare: Annotated[Optional[list[str]], typer.Option(
        help='Configurations to overlay, each "key=value,..." on top of the flags, e.g. '
             '--compare "init=glorot" "init=gnn_he" "init=gnn_he,residual=fixup".')] = None,
    direction: Annotated[Literal["constant", "dominant"], typer.Option(
        help="mu projects out the constant vector (Park & Kim's metric) or the operator's dominant "
             "eigenvector (D^1/2 1 for gcn).")] = "constant",
    device: opt.Device = "auto",
    out: opt.Out = None,
    *,
    model_config: ModelConfig,
) -> None:
    """Measure a deep GNN at initialisation, layer by layer, and say what is wrong with it.

    Defaults to a vanilla 64-block GCN with PyG's glorot init (no residuals), so the failure
    modes show; add --init gnn_he, --residual fixup or --residual-aggregation to see each fix.
    Writes diagnostics.json (per-layer lists, means over seeds) and diagnostics.png.
    """
    base = model_config
    specs = [*(compare or []), *ctx.args] if compare else []
    if ctx.args and not compare:
        raise typer.BadParameter(f"unexpected arguments {ctx.args}")
    configs = {"flags": base} if not specs else {spec: _apply(base, spec) for spec in specs}
    data = load_or_exit(dataset, data_root, seed)
    device_name = str(resolve_device(device))
    out = out or default_out("diagnose", dataset)
    seed_list = list(range(seed, seed + seeds))

    runs: dict[str, dict[str, list[float]]] = {}
    for label, config in configs.items():
        with console.status(f"measuring {label} ({seeds} seeds)"):
            runs[label] = measure_at_init(config, data, seed_list, device_name, dominant=direction == "dominant")
        console.print(layer_table(label, config, runs[label]))
        for finding in verdict(runs[label], config):
            style = "red" if finding.present else "green"
            console.print(f"[{style}]{escape(finding.line())}[/{style}]")
        console.print()

    first_label, first = next(iter(runs.items()))
    result = {**first, "config": configs[first_label].to_dict(), "seeds": seed_list, "dataset": dataset,
              "mu_direction": direction,
              "verdict": [finding.line() for finding in verdict(first, configs[first_label])]}
    if len(runs) > 1:
        result["runs"] = {label: {**metrics, "config": configs[label].to_dict(),
                                  "verdict": [f.line() for f in verdict(metrics, configs[label])]}
                          for label, metrics in runs.items()}
    write_json(Path(out) / "diagnostics.json", result)
    write_json(Path(out) / "env.json", environment(seed, device_name))
    plot = plot_layer_metrics(runs, Path(out) / "diagnostics.png", LAYER_METRICS,
                              title=f"{dataset}: per-layer metrics at initialisation (mean of {seeds} seeds)")
    console.print(f"wrote {Path(out) / 'diagnostics.json'} and {plot}")


def _apply(base: ModelConfig, spec: str) -> ModelConfig:
    try:
        return base.replace(**parse_overrides(spec))
    except ConfigError as error:
        raise typer.BadParameter(f"--compare {spec!r}: {error}") from error


def layer_table(label: str, config: ModelConfig, metrics: dict[str, list[float]]) -> Table:
    table = Table(title=f"{label}: depth {config.depth}, {config.aggregation}, a={config.residual_aggregation}, "
                        f"residual={config.residual}, init={config.init}")
    table.add_column("layer", justify="right")
    for column in TABLE_COLUMNS:
        table.add_column(column, justify="right")
    for layer in shown_layers(config.depth):
        table.add_row(str(layer), *(f"{metrics[c][layer - 1]:.3g}" for c in TABLE_COLUMNS))
    return table

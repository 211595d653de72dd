"""``fathom diagnose``: per-layer signal, smoothing and gradient metrics at initialisation."""

from __future__ import annotations

import ast
import importlib
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
from . import options as opt
from .common import as_flags, default_out, device_or_exit, fail, load_or_exit, writable_out

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
    model: Annotated[Optional[str], typer.Option(
        help="Diagnose your own PyG model instead of DeepGNN: a class or factory, as "
             "torch_geometric.nn.models.GCN or my_module:make_model, called with in_channels and "
             "out_channels from the data plus --model-kwargs. Every MessagePassing layer is probed; "
             "the DeepGNN model flags are then ignored.")] = None,
    model_kwargs: Annotated[str, typer.Option(
        help='Keyword arguments of --model, "name=value,...", e.g. "hidden_channels=64,num_layers=32".')] = "",
    principled: Annotated[bool, typer.Option(
        help="With --model: also measure it after fathom.init.principled_ (before/after in one run).")] = False,
    *,
    model_config: ModelConfig,
) -> None:
    """Measure a deep GNN at initialisation, layer by layer, and say what is wrong with it.

    Defaults to a vanilla 64-block GCN with PyG's glorot init (no residuals), so the failure
    modes show; add --init gnn_he, --residual fixup or --residual-aggregation to see each fix.
    Writes diagnostics.json (per-layer lists, means over seeds) and diagnostics.png.
    """
    if model is not None:
        _diagnose_model(model, model_kwargs, principled, dataset, data_root, seed, seeds, direction, device, out)
        return
    if principled:
        raise typer.BadParameter("--principled applies to a --model")
    base = model_config
    specs = [*(compare or []), *ctx.args] if compare else []
    if ctx.args and not compare:
        raise typer.BadParameter(f"unexpected arguments {ctx.args}")
    configs = {"flags": base} if not specs else {spec: _apply(base, spec) for spec in specs}
    data = load_or_exit(dataset, data_root, seed)
    device_name = str(device_or_exit(device))
    out = writable_out(out or default_out("diagnose", dataset))
    seed_list = list(range(seed, seed + seeds))

    runs: dict[str, dict[str, list[float]]] = {}
    for label, config in configs.items():
        with console.status(f"measuring {label} ({seeds} seeds)"):
            runs[label] = measure_at_init(config, data, seed_list, device_name, dominant=direction == "dominant")
        console.print(layer_table(label, config, runs[label]))
        for finding in verdict(runs[label], config):
            style = "red" if finding.present else "green"
            console.print(f"[{style}]{escape(as_flags(finding.line()))}[/{style}]")
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
    """``base`` with the ``key=value,...`` of one --compare configuration (exit code 2 if it is bad)."""
    try:
        overrides = parse_overrides(spec)
    except ConfigError as error:
        raise fail(f"--compare {spec!r}: {error}", code=2) from error
    if not overrides:
        raise fail(f"--compare {spec!r} is empty: give each configuration as key=value,..., e.g. "
                   '--compare "init=glorot" "init=gnn_he"', code=2)
    try:
        return base.replace(**overrides)
    except ConfigError as error:
        raise fail(f"--compare {spec!r}: {error}", code=2) from error


def layer_table(label: str, config: ModelConfig, metrics: dict[str, list[float]]) -> Table:
    table = Table(title=f"{label}: depth {config.depth}, {config.aggregation}, a={config.residual_aggregation}, "
                        f"residual={config.residual}, init={config.init}")
    table.add_column("layer", justify="right")
    for column in TABLE_COLUMNS:
        table.add_column(column, justify="right")
    for layer in shown_layers(config.depth):
        table.add_row(str(layer), *(f"{metrics[c][layer - 1]:.3g}" for c in TABLE_COLUMNS))
    return table


# --- any PyG model (--model) -----------------------------------------------------------------------

PROBE_COLUMNS = ("second_moment", "mu", "dirichlet_energy", "mad", "effective_rank", "grad_norm", "grad_mu_ratio")


def load_factory(path: str):
    """``package.module.Name`` or ``package.module:name`` -> the object it names (one-line errors)."""
    module_name, _, attribute = path.partition(":") if ":" in path else path.rpartition(".")
    if not module_name or not attribute:
        raise fail(f"model {path!r}: expected package.module.Name or package.module:factory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise fail(f"model {path!r}: cannot import {module_name!r} ({error})") from error
    factory = module
    for part in attribute.split("."):
        if not hasattr(factory, part):
            raise fail(f"model {path!r}: {module_name!r} has no attribute {attribute!r}")
        factory = getattr(factory, part)
    if not callable(factory):
        raise fail(f"model {path!r}: {attribute!r} is not callable")
    return factory


def parse_kwargs(spec: str) -> dict[str, object]:
    """``"hidden_channels=64,act=relu,jk=None"`` -> ``{"hidden_channels": 64, "act": "relu", "jk": None}``."""
    kwargs: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, text = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise fail(f"model kwargs {spec!r}: expected name=value, got {item!r}")
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = {"true": True, "false": False, "none": None}.get(text.strip().lower(), text.strip())
        kwargs[key.strip()] = value
    return kwargs


def _diagnose_model(path: str, model_kwargs: str, principled: bool, dataset: str, data_root, seed: int,
                    seeds: int, direction: str, device: str, out) -> None:
    from ..data import num_classes
    from ..diagnostics import probe
    from ..init import principled_

    factory, kwargs = load_factory(path), parse_kwargs(model_kwargs)
    data = load_or_exit(dataset, data_root, seed)
    device_name = str(device_or_exit(device))
    data = data.to(device_name)
    out = writable_out(out or default_out("diagnose", dataset))
    seed_list = list(range(seed, seed + seeds))
    name = path.replace(":", ".").rsplit(".", 1)[-1]

    def build():
        try:
            return factory(in_channels=data.num_features, out_channels=num_classes(data), **kwargs).to(device_name)
        except TypeError as error:
            raise fail(f"model {path!r} with {kwargs}: {error}") from error

    makers = {f"{name} (PyG init)": build}
    if principled:
        makers[f"{name} (principled_)"] = lambda: principled_(build(), data)
    probes = {}
    for label, make in makers.items():
        with console.status(f"probing {label} ({seeds} seeds)"):
            try:
                probes[label] = probe(make, data, seeds=seed_list, dominant=direction == "dominant")
            except ValueError as error:
                raise fail(f"{label}: {error}") from error
        console.print(probe_table(label, probes[label]))
        for finding in probes[label].findings:
            style = "red" if finding.present else "green"
            console.print(f"[{style}]{escape(finding.line())}[/{style}]")
        console.print()
    first = next(iter(probes.values()))
    result = {**first.to_dict(), "model": path, "model_kwargs": kwargs, "dataset": dataset, "mu_direction": direction,
              "runs": {label: result.to_dict() for label, result in probes.items()}}
    write_json(out / "diagnostics.json", result)
    write_json(out / "env.json", environment(seed, device_name))
    plot = plot_layer_metrics({label: result.metrics for label, result in probes.items()}, out / "diagnostics.png",
                              LAYER_METRICS, title=f"{dataset}: {name} per layer at initialisation "
                                                   f"(mean of {seeds} seeds)")
    console.print(f"wrote {out / 'diagnostics.json'} and {plot}")


def probe_table(label: str, result) -> Table:
    table = Table(title=f"{label}: {len(result.layers)} message-passing layers")
    table.add_column("layer", justify="right")
    table.add_column("module")
    for column in PROBE_COLUMNS:
        table.add_column(column, justify="right")
    for row in result.rows(PROBE_COLUMNS, shown_layers(len(result.layers))):
        table.add_row(str(row["layer"]), row["name"], *(f"{row[c]:.3g}" for c in PROBE_COLUMNS))
    return table

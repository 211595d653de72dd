"""``fathom linear``: Theorem 1's graph quantities (Xu et al. 2021) at depths 1..H, with and without skips."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..data import describe
from ..linear import depth_profile
from ..linear.quantities import profile_record
from ..report import format_number, plot_layer_metrics
from ..runs import environment, write_json
from . import options as opt
from .common import load_or_exit, writable_out

console = Console()


def linear(
    dataset: opt.Dataset = "csbm",
    data_root: opt.DataRoot = None,
    depth: Annotated[int, typer.Option(min=1, help="Largest depth H: the quantities are computed for H = 1..DEPTH.")] = 8,
    aggregation: opt.Aggregation = "gcn",
    seed: opt.Seed = 0,
    out: opt.Out = None,
) -> None:
    """sigma_min, the optimal loss L* and Theorem 1's rate of the linearized GNN, depths 1..DEPTH.

    For M_H = (S^H X)[train] (no skips) and G_H = [M_0, ..., M_H] (multiscale skips), with the
    training nodes' one-hot labels and the raw features: Theorem 1 of Xu et al. (2021) bounds
    L(T) - L* <= (L(0) - L*) exp(-4 lambda_T sigma_min^2 T); the rate column is 4 sigma_min^2, per
    unit of lambda_T * T. With --out, writes linear.json, linear.png and env.json there.
    """
    data = load_or_exit(dataset, data_root, seed)
    if out is not None:
        writable_out(out)
    console.print(describe(data))
    with console.status(f"singular values of M_1..M_{depth}"):
        profile = depth_profile(data, depth, aggregation)
    console.print(quantities_table(profile, f"{dataset}, {aggregation} operator: Theorem 1's graph quantities"))
    first = profile["noskip"][0]
    console.print(f"sigma_min: {first.method}; rank tolerance max(n_bar, m) * eps * sigma_max. "
                  "rate = 4 sigma_min^2 (per unit of lambda_T * T). "
                  "* = degenerate: rank-deficient, sigma_min is 0 to machine precision.")
    if out is None:
        return
    record = {"dataset": dataset, "aggregation": aggregation, "train_nodes": int(data.train_mask.sum()),
              "num_features": data.num_features, **profile_record(profile)}
    write_json(Path(out) / "linear.json", record)
    write_json(Path(out) / "env.json", environment(seed, "cpu"))
    runs = {label: {"sigma_min": [s.sigma_min for s in summaries],
                    "optimal_loss L*": [s.optimal_loss for s in summaries],
                    "label_alignment": [s.label_alignment for s in summaries]}
            for label, summaries in (("no skip (M_H)", profile["noskip"]), ("skip (G_H)", profile["skip"]))}
    plot = plot_layer_metrics(runs, Path(out) / "linear.png", ("sigma_min", "optimal_loss L*", "label_alignment"),
                              title=f"{dataset}: linearized GNN quantities vs depth H (x axis: H)")
    console.print(f"wrote {Path(out) / 'linear.json'} and {plot}")


def quantities_table(profile, title: str) -> Table:
    table = Table(title=title, caption=escape("no skip: M_H = (S^H X)[train]; skip: G_H = [M_0 ... M_H]"))
    for column in ("H", "σ_min", "σ_min skip", "L*", "L* skip", "rate 4σ²", "rate skip"):
        table.add_column(column, justify="right")
    for depth, (plain, skip) in enumerate(zip(profile["noskip"], profile["skip"]), start=1):
        table.add_row(str(depth), _sigma(plain), _sigma(skip), format_number(plain.optimal_loss),
                      format_number(skip.optimal_loss), format_number(plain.rate), format_number(skip.rate))
    return table


def _sigma(summary) -> str:
    return format_number(summary.sigma_min) + (" *" if summary.degenerate else "")

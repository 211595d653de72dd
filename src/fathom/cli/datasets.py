"""``fathom datasets``: every registered dataset, its measured sizes and where Fathom finds it."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ..data import DATASETS, DatasetError, DatasetSpec, default_data_root, is_approximate, locate
from ..data.stats import dataset_stats
from . import options as opt

console = Console()

SPLITS = {"public": "public", "geom-gcn": "geom-gcn x{n}", "random": "random 60/20/20", "builtin": "built in",
          "folds": "folds (graph task)"}


def flag_wording(error: Exception) -> str:
    """A library message in the command line's words: the data root is ``--data-root``."""
    return str(error).replace("the data root", "the data root (--data-root)")


def _where(spec: DatasetSpec, root: Path) -> str | None:
    """Where the dataset's folder is (relative to the data root when inside it), or ``None`` if absent."""
    found = locate(spec.name, root)
    if found is None:
        return None
    folder = found / spec.folder
    return str(folder.relative_to(root)) if folder.is_relative_to(root) and folder != root else str(folder)


def _measured(spec: DatasetSpec, root: Path) -> dict:
    with console.status(f"measuring {spec.name} (once; cached afterwards)"), \
            contextlib.redirect_stderr(io.StringIO()):  # PyG's "Processing... Done!" on first load
        return dataset_stats(spec.name, root)


def _row(spec: DatasetSpec, stats: dict | None, status: str, approximate: bool) -> list[str]:
    documented = stats is None
    stats = stats or {"nodes": spec.sizes.nodes, "edges": spec.sizes.edges, "features": spec.sizes.features,
                      "classes": spec.sizes.classes, "graphs": spec.sizes.graphs}
    if spec.task == "graph":
        size, homophily, duplicates = f"{stats['graphs']} graphs", "-", "-"
    else:
        size = str(stats["nodes"])
        homophily = "-" if documented else f"{stats['homophily']:.2f}"
        duplicates = "-" if documented else str(stats["duplicates"])
    cells = [size, str(stats["edges"]), str(stats["features"]), str(stats["classes"]), homophily]
    if documented:
        cells = [f"[dim]{cell}[/dim]" for cell in cells]
    name = spec.name + (" [yellow](approximate)[/yellow]" if approximate else "")
    split = SPLITS[spec.split_kind].format(n=spec.num_splits)
    return [name, *cells, duplicates, spec.task, split, "yes" if spec.normalize_features else "no", status]


def datasets(data_root: opt.DataRoot = None) -> None:
    """List every dataset: nodes, edges, features, classes, edge homophily, duplicate nodes
    (same features and label as another node), task, standard split, whether features are
    row-normalised, and where it is found under the data root (--data-root or $FATHOM_DATA).

    Datasets not on disk show their documented sizes, dimmed. Measuring a dataset loads it once;
    the figures are cached under ~/.cache/fathom/stats (or $FATHOM_CACHE).
    """
    root = data_root or default_data_root()
    table = Table(title=f"datasets (data root: {root})")
    for column in ("name", "nodes", "edges", "features", "classes", "homophily", "duplicates", "task", "split",
                   "normalised", "status"):
        table.add_column(column, justify="right" if column in ("nodes", "edges", "features", "classes",
                                                               "homophily", "duplicates") else "left")
    errors: list[str] = []
    approximate = {name: is_approximate(name, root) for name in DATASETS}
    for spec in DATASETS.values():
        where = _where(spec, root) if spec.file_backed else "built in"
        stats = None
        if where is None:
            status = "[yellow]absent[/yellow] (downloads when online)"
        else:
            try:
                stats = _measured(spec, root)
                status = f"[green]found[/green] {where}" if spec.file_backed else "[green]built in[/green]"
            except DatasetError as error:
                errors.append(flag_wording(error))
                status = f"[red]unreadable[/red] {where}"
        table.add_row(*_row(spec, stats, status, approximate[spec.name]))
    console.print(table)
    if any(approximate.values()):
        console.print("[yellow](approximate)[/yellow]: a raw file differs from the published original "
                      "(a reconstruction); label results so.")
    for message in errors:
        console.print(f"[red]error:[/red] {message}", soft_wrap=True)
    if errors:
        raise typer.Exit(1)

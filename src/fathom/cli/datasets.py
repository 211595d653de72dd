"""``fathom datasets``: which datasets exist and where Fathom finds them."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..data import DATASETS, default_data_root, locate
from . import options as opt

console = Console()


def datasets(data_root: opt.DataRoot = None) -> None:
    """List the datasets Fathom knows and where it finds them.

    File-backed datasets are looked up under the data root (--data-root or $FATHOM_DATA).
    """
    root = data_root or default_data_root()
    table = Table(title=f"datasets (data root: {root})")
    for column in ("name", "description", "status"):
        table.add_column(column)
    for name, spec in DATASETS.items():
        if spec.pyg_name is None:
            status = "[green]built in[/green]"
        else:
            found = locate(name, root)
            status = (f"[green]found[/green] {found / spec.pyg_name}" if found else
                      "[yellow]absent[/yellow] (downloads when online)")
        table.add_row(name, spec.description, status)
    console.print(table)

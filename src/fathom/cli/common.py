"""What the commands share: default run directories and turning library errors into one line."""

from __future__ import annotations

import dataclasses
import re
import secrets
import tempfile
import time
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..config import BATCH_SIZE, ModelConfig, TrainConfig
from ..data import DatasetError, get_spec, load_dataset
from ..runtime import UnavailableError, resolve_device

console = Console()


def default_out(command: str, dataset: str) -> Path:
    """``runs/<command>-<dataset>-<time>-<8 random hex digits>``: two runs started in the same
    second get different directories."""
    return Path("runs") / f"{command}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"


CONFIG_FIELDS = tuple(f.name for cls in (ModelConfig, TrainConfig) for f in dataclasses.fields(cls))


def as_flags(text: str) -> str:
    """A library message's ``field=value`` (e.g. ``init=gnn_he``) in flag wording (``--init gnn_he``)."""
    pattern = rf"\b({'|'.join(CONFIG_FIELDS)})=([^\s,;)]+)"
    return re.sub(pattern, lambda m: f"--{m[1].replace('_', '-')} {m[2]}", text)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` in one line; raise the returned exit to stop with ``code``."""
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def load_graph_task_or_exit(dataset: str, data_root: Path | None, split: str | int | None = None,
                            readout: str = "sum", batch_size: int = BATCH_SIZE):
    """A graph-classification dataset's task on fold ``split`` (default 0), pooling by ``readout``,
    ``batch_size`` graphs a step; errors as one line."""
    from ..tasks import load_task

    try:
        return load_task(dataset, data_root, split=split, readout=readout, batch_size=batch_size)
    except DatasetError as error:
        raise fail(str(error)) from error


def writable_out(out: str | Path) -> Path:
    """Create the output folder ``out`` (and its parents) now and try a write in it, so an
    unwritable place (a read-only folder, a file in the way) is one line naming the folder, exit
    code 1, before any work."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        where = f" ({error.filename})" if error.filename and Path(error.filename) != out else ""
        raise fail(f"cannot write the output folder {out}: {error.strerror or error}{where}; "
                   "choose another --out") from error
    return out


def device_or_exit(name: str):
    """The torch device ``name`` (``auto``, ``cpu``, ``cuda``...) names; one that is not available here
    (``cuda`` without a GPU) is one line naming the fix, exit code 1."""
    try:
        return resolve_device(name)
    except UnavailableError as error:
        raise fail(as_flags(str(error))) from error


def load_or_exit(dataset: str, data_root: Path | None, seed: int, split: str | int | None = None,
                 features: str = "raw"):
    """Load a node-classification dataset, turning a dataset error into one line and exit code 1.
    ``features``: ``raw``, or ``protocol`` (row-normalised where the dataset's protocol does it)."""
    if get_spec(dataset).task != "node":
        raise fail(f"{dataset} is a graph-classification dataset; this command trains on the nodes of one graph")
    try:
        return load_dataset(dataset, data_root, seed=seed, split=split,
                            normalize="protocol" if features == "protocol" else False)
    except DatasetError as error:
        raise fail(str(error)) from error


def print_frame(frame: pd.DataFrame, title: str, out: Console = console) -> None:
    """Print ``frame`` as a Rich table no wider than the terminal whose cells never cut a word.

    Each column is at least as wide as the longest word of its cells (a number, or ``±``), so
    ``0.26 ± 0.00707`` wraps at its spaces instead of ending in ``0.007…``; the room left goes to
    the columns that want more, and headers fold (``test_acc_at_b|est_val``). (Rich's own layout
    shrinks every column alike once long headers overflow, cutting numbers at 80 columns.) When even
    the words do not fit, the table is printed wider than the terminal rather than cut.
    """
    headers = [str(column) for column in frame.columns]
    cells = [[str(value) for value in frame[column]] for column in frame.columns]
    least = [max([1, *(len(word) for cell in column for word in cell.split())]) for column in cells]
    most = [max([len(header), *(len(cell) for cell in column)]) for header, column in zip(headers, cells)]
    borders = 3 * len(headers) + 1  # a border and two spaces of padding per column, and the last border
    widths, spare = list(least), out.width - borders - sum(least)
    while spare > 0 and any(w < m for w, m in zip(widths, most)):
        for i in range(len(widths)):
            if spare > 0 and widths[i] < most[i]:
                widths[i] += 1
                spare -= 1
    table = Table(title=title)
    for header, width in zip(headers, widths):
        table.add_column(escape(header), width=width, overflow="fold")
    for row in zip(*cells):
        table.add_row(*(escape(cell) for cell in row))
    if spare < 0:  # Rich would squeeze the table into the terminal: render it at the width it needs
        out = Console(width=borders + sum(widths), file=out.file, force_terminal=out.is_terminal)
    out.print(table)

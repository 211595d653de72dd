"""The ``fathom`` command: one module per sub-command, assembled here."""

from __future__ import annotations

import inspect

import typer
from rich.markup import escape

from .benchmark import benchmark
from .datasets import datasets
from .diagnose import diagnose
from .linear import linear
from .reproduce import reproduce_app
from .sweep import sweep
from .train import train
from .tune import tune

app = typer.Typer(
    name="fathom", no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False,
    help="Make very deep graph neural networks trainable, and show why.",
)
app.command()(train)
app.command()(datasets)
app.command(context_settings={"allow_extra_args": True})(diagnose)
app.command()(sweep)
app.command()(benchmark)
app.command()(linear)
app.command()(tune)
app.add_typer(reproduce_app, name="reproduce")


def _docstrings_as_written(cli: typer.Typer) -> None:
    """Show each command's docstring as written: Rich markup would swallow ``[train]`` and the like."""
    for info in cli.registered_commands:
        if info.help is None and info.callback is not None:
            info.help = escape(inspect.getdoc(info.callback) or "")
    for group in cli.registered_groups:
        if group.typer_instance is not None:
            _docstrings_as_written(group.typer_instance)


_docstrings_as_written(app)

if __name__ == "__main__":
    app()

"""``fathom reproduce PAPER``: regenerate a paper's key results and check its claims."""

from __future__ import annotations

import typer

reproduce_app = typer.Typer(
    no_args_is_help=True,
    help="Regenerate a paper's key results into a report with PASS/FAIL claim checks.",
)

"""What every reproduction shares: choosing its protocol, checking its data, naming its command."""

from __future__ import annotations

import shlex
import sys
from dataclasses import replace
from typing import TypeVar

from ..data import load_dataset

P = TypeVar("P")


def choose_protocol(full: P, quick_preset: P, quick: bool, protocol: P | None,
                    datasets: tuple[str, ...] | None) -> P:
    """An explicit ``protocol``, else the quick or full preset; ``datasets`` narrows it."""
    chosen = protocol or (quick_preset if quick else full)
    return replace(chosen, datasets=tuple(datasets)) if datasets else chosen  # type: ignore[type-var]


def require_datasets(datasets: tuple[str, ...], data_root: str | None) -> None:
    """Load each dataset once, so an absent one fails before any run, with the data-root message."""
    for dataset in datasets:
        load_dataset(dataset, data_root)


def command_line(paper: str, quick: bool) -> str:
    """The command as typed (when run through the CLI), for the report's header."""
    if sys.argv[1:3] == ["reproduce", paper]:
        return f"fathom reproduce {paper} " + " ".join(shlex.quote(a) for a in sys.argv[3:])
    return f"fathom.reproduce.{paper}.run(quick={quick})"

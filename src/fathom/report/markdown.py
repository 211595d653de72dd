"""Markdown pieces for reports: tables from DataFrames and PASS/FAIL claim lines."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Claim:
    """A claim checked against data: its statement, the verdict, and the numbers behind it."""

    statement: str
    passed: bool
    evidence: str

    def line(self) -> str:
        return f"- **{'PASS' if self.passed else 'FAIL'}** {self.statement} — {self.evidence}"


def format_number(value) -> str:
    """Short, readable numbers: 3 significant digits, scientific outside [1e-3, 1e4)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value != 0 and not 1e-3 <= abs(value) < 1e4:
            return f"{value:.2e}"
        return f"{value:.3g}"
    return str(value)


def markdown_table(frame: pd.DataFrame, index: bool = False) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (numbers via :func:`format_number`)."""
    if index:
        frame = frame.reset_index()
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(format_number(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def claims_section(claims: list[Claim]) -> str:
    """The claim checks as a Markdown list, with a count line."""
    passed = sum(claim.passed for claim in claims)
    return "\n".join([f"{passed} of {len(claims)} claim checks pass.", "", *(claim.line() for claim in claims)])

"""report.markdown: number formatting and Markdown tables."""

import pandas as pd

from fathom.report.markdown import format_number, markdown_table


def test_numbers_keep_their_sign_and_switch_to_scientific_outside_the_readable_range():
    assert format_number(-0.5) == "-0.5" and format_number(0.5) == "0.5"
    assert format_number(-12345.0) == "-1.23e+04" and format_number(1e-6) == "1.00e-06"
    assert format_number(float("nan")) == "–" and format_number(3) == "3" and format_number(True) == "True"


def test_a_table_with_its_index_shows_the_index_as_its_first_column():
    frame = pd.DataFrame({"a": [1]}, index=pd.Index(["x"], name="k"))
    assert markdown_table(frame, index=True).splitlines() == ["| k | a |", "|---|---|", "| x | 1 |"]
    assert markdown_table(frame).splitlines() == ["| a |", "|---|", "| 1 |"]

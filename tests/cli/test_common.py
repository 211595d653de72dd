"""What the commands share: an unwritable --out is one line naming the folder, before any work."""

import os

import pytest
from typer.testing import CliRunner

from fathom.cli.main import app

runner = CliRunner()

COMMANDS = {
    "train": ["train", "--epochs", "1", "--depth", "2", "--no-progress"],
    "sweep": ["sweep", "--epochs", "1", "--depth", "2", "--seeds", "1", "--no-progress"],
    "diagnose": ["diagnose", "--depth", "2", "--seeds", "1"],
    "linear": ["linear", "--depth", "2"],
    "tune": ["tune", "--space", "depth=2,3", "--trials", "1", "--epochs", "1", "--no-progress"],
    "benchmark": ["benchmark", "--no-progress"],
    "reproduce": ["reproduce", "xu2021", "--quick", "--no-progress"],
}


def _one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    return result.output.strip()


@pytest.mark.parametrize("command", COMMANDS)
def test_an_out_below_a_file_is_one_line_naming_the_folder(tmp_path, command):
    """All but train used to end in a PermissionError or NotADirectoryError traceback."""
    (tmp_path / "a-file").write_text("")
    out = tmp_path / "a-file" / "run"
    line = _one_line_error([*COMMANDS[command], "--out", str(out)])
    assert line == f"error: cannot write the output folder {out}: Not a directory; choose another --out"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root writes into read-only folders: chmod cannot make one for it")
@pytest.mark.parametrize("command", ["train", "sweep", "diagnose"])
def test_an_out_in_a_read_only_folder_is_one_line_naming_the_folder(tmp_path, command):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        line = _one_line_error([*COMMANDS[command], "--out", str(folder / "run")])
    finally:
        folder.chmod(0o755)
    assert line.startswith(f"error: cannot write the output folder {folder / 'run'}: Permission denied")


@pytest.mark.parametrize("width", [60, 80, 120])
def test_print_frame_never_cuts_a_word_and_fits_the_width_when_the_words_do(width):
    import io

    import pandas as pd
    from rich.console import Console

    from fathom.cli.common import print_frame

    frame = pd.DataFrame({"a_long_grid_key_name": ["glorot", "gnn_he"], "runs": [3, 3],
                          **{f"metric_number_{i}": ["1.23e+04 ± 5.67e+03", "0.00707 ± 0.000123"] for i in range(6)}})
    file = io.StringIO()
    print_frame(frame, "title", Console(width=width, file=file))
    text = file.getvalue()
    for word in ("1.23e+04", "5.67e+03", "0.00707", "0.000123", "glorot", "gnn_he"):
        assert word in text, word
    assert "…" not in text
    least = 8 * 3 + 1 + 6 + 1 + 6 * 8  # borders and padding, then the longest word of each column
    assert max(len(line) for line in text.splitlines()) <= max(width, least)


def test_default_run_directories_started_in_the_same_second_differ():
    from fathom.cli.common import default_out

    names = {default_out("train", "cora") for _ in range(50)}  # well within one second
    assert len(names) == 50
    assert all(name.parent.name == "runs" and name.name.startswith("train-cora-") for name in names)

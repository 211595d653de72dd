import pytest
from typer.testing import CliRunner

from fathom.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize("paper", ["dezoort2023", "park2024"])
def test_missing_data_is_one_clear_line_before_any_run(paper, tmp_path, offline_downloads):
    result = runner.invoke(app, ["reproduce", paper, "--datasets", "cora", "--data-root", str(tmp_path / "none"),
                                 "--out", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 1 and "Cora is not under" in result.output
    assert not (tmp_path / "out" / "sweep").exists()


@pytest.mark.parametrize("paper", ["dezoort2023", "park2024"])
def test_help_explains_the_options(paper):
    result = runner.invoke(app, ["reproduce", paper, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--quick" in result.output and "report.md" in result.output

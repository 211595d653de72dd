import json

import pytest
from typer.testing import CliRunner

from fathom.cli.main import app

runner = CliRunner()


def test_linear_writes_aligned_lists_and_a_plot(tmp_path):
    result = runner.invoke(app, ["linear", "--dataset", "karate", "--depth", "3", "--out", str(tmp_path)],
                           env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "σ_min" in result.output and "exact (dense SVD" in result.output
    record = json.loads((tmp_path / "linear.json").read_text())
    assert record["depth"] == [1, 2, 3]
    for key in ("sigma_min", "optimal_loss", "degenerate", "rate"):
        assert set(record[key]) == {"noskip", "skip"} and all(len(v) == 3 for v in record[key].values())
    assert all(s >= n for s, n in zip(record["sigma_min"]["skip"], record["sigma_min"]["noskip"]))
    assert (tmp_path / "linear.png").stat().st_size > 10_000


def test_linear_rejects_depth_zero():
    result = runner.invoke(app, ["linear", "--dataset", "karate", "--depth", "0"])
    assert result.exit_code == 2 and "depth" in result.output


@pytest.mark.parametrize("dataset", ["cora", "citeseer"])
def test_planetoid_values_match_the_brief(shared_data_root, tmp_path, dataset):
    result = runner.invoke(app, ["linear", "--dataset", dataset, "--data-root", str(shared_data_root), "--depth", "6",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "linear.json").read_text())
    if dataset == "cora":  # shared/papers/xu2021.md, "Measured here"
        brief_noskip = [0.309, 0.0358, 0.00698, 0.00094, 0.00019, 2.8e-5]
        brief_skip = [1.347, 1.519, 1.641, 1.740, 1.818, 1.879]
        assert record["sigma_min"]["noskip"] == pytest.approx(brief_noskip, rel=0.02)
        assert record["sigma_min"]["skip"] == pytest.approx(brief_skip, rel=0.002)
        assert not any(record["degenerate"]["noskip"])
    else:  # two-node components give identical rows: zero to machine precision, said plainly
        assert all(record["degenerate"]["noskip"]) and max(record["sigma_min"]["noskip"]) < 1e-12
        assert "*" in result.output and not any(record["degenerate"]["skip"])


def test_reproduce_xu2021_is_registered():
    result = runner.invoke(app, ["reproduce", "xu2021", "--help"])
    assert result.exit_code == 0 and "--quick" in result.output


@pytest.mark.parametrize("command", [["linear", "--dataset", "cora"], ["reproduce", "xu2021", "--no-progress"]])
def test_missing_data_is_one_clear_line_before_any_run(command, tmp_path, offline_downloads):
    result = runner.invoke(app, [*command, "--data-root", str(tmp_path / "none"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "Cora is not under" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "runs").exists()

import json
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from fathom.cli.main import app

pytest.importorskip("optuna")

runner = CliRunner()
FIXED = ["tune", "--dataset", "csbm", "--fixed", "depth=2", "--fixed", "width=8", "--epochs", "2", "--device", "cpu",
         "--no-progress"]
ARGS = [*FIXED, "--space", "lr=0.001:0.1:log", "--space", "residual-aggregation=0,0.5"]


def test_tune_prints_the_best_trials_writes_best_json_and_resumes(tmp_path):
    result = runner.invoke(app, [*ARGS, "--trials", "2", "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "best 2 of 2 trials (0 failed)" in result.output and "residual_aggregation" in result.output
    assert f"chosen configuration: {tmp_path / 'best.json'}" in result.output
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["params"]["depth"] == 2 and best["train"]["epochs"] == 2 and best["space"]["lr"]["log"]
    again = runner.invoke(app, [*ARGS, "--trials", "3", "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert again.exit_code == 0, again.output
    assert len(pd.read_csv(tmp_path / "trials.csv")) == 3


def test_a_space_file_with_fixed_settings_over_the_training_flags_under_fixed_flags(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("space: {init: [glorot, gnn_he]}\nfixed: {depth: 3, dropout: 0.25, lr: 1e-2}\n")
    result = runner.invoke(app, [*FIXED, "--space-file", str(path), "--trials", "1", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    best = json.loads((tmp_path / "o" / "best.json").read_text())
    assert best["params"]["dropout"] == 0.25 and best["params"]["depth"] == 2 and best["train"]["lr"] == 0.01


@pytest.mark.parametrize("extra, message", [
    (["--space", "dept=2,4"], "did you mean 'depth'"), (["--space", "lr=0.1:0.01"], "low <= high"),
    (["--space", "lr=0.1:x"], "lr must be float"), (["--space", "lr=1:2:3"], "low:high or low:high:log"),
    (["--fixed", "widht=8", "--space", "lr=0.1"], "did you mean 'width'"), ([], "nothing to search"),
])
def test_bad_input_is_a_usage_error_naming_the_problem(tmp_path, extra, message):
    result = runner.invoke(app, [*FIXED, *extra, "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "study.db").exists()


def test_without_optuna_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    result = runner.invoke(app, [*ARGS, "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "pip install 'fathom[tune]'" in result.output, result.output


def test_karate_is_refused_because_its_validation_nodes_are_its_test_nodes(tmp_path):
    result = runner.invoke(app, [*ARGS[:2], "karate", *ARGS[3:], "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "would select on test labels" in result.output, result.output

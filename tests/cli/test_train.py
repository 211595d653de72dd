import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from fathom.cli.main import app

runner = CliRunner()


def test_train_end_to_end(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--epochs", "3", "--depth", "4", "--width", "16", "--device", "cpu",
                                 "--aggregation", "mean", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "summary" in result.output and "best_val_acc" in result.output
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["aggregation"] == "mean" and config["data"]["dataset"] == "csbm"
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 3


def test_console_script_runs_with_defaults_in_a_temp_dir(tmp_path):
    command = [os.path.join(os.path.dirname(sys.executable), "fathom"), "train", "--epochs", "3", "--no-progress"]
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert {p.name for p in run_dir.iterdir()} == {"config.json", "env.json", "metrics.csv", "summary.json"}


def test_bad_values_exit_with_a_usage_error_naming_the_field():
    result = runner.invoke(app, ["train", "--aggregation", "max"])
    assert result.exit_code == 2 and "gcn" in result.output
    result = runner.invoke(app, ["train", "--residual", "none", "--beta", "0.5"])
    assert result.exit_code == 2 and "beta" in result.output


def test_missing_dataset_is_one_clear_line(tmp_path, offline_downloads):
    result = runner.invoke(app, ["train", "--dataset", "cora", "--data-root", str(tmp_path), "--epochs", "1"])
    assert result.exit_code == 1 and "Cora is not under" in result.output


def test_cora_depth_64_fixup_trains(shared_data_root, tmp_path):
    result = runner.invoke(app, ["train", "--dataset", "cora", "--data-root", str(shared_data_root), "--depth", "64",
                                 "--init", "gnn_he", "--residual", "fixup", "--epochs", "15", "--device", "cpu",
                                 "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert not summary["diverged"] and summary["final_train_loss"] < summary["initial_train_loss"]

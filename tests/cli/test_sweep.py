import importlib.util
import json
import re

import pandas as pd
from typer.testing import CliRunner

from fathom.cli.main import app
from fathom.cli.sweep import SUMMARY_METRICS
from fathom.report import summary_table

runner = CliRunner()
FIXED = ["sweep", "--dataset", "karate", "--depth", "2", "--width", "8", "--epochs", "5", "--device", "cpu",
         "--no-progress"]
ARGS = [*FIXED, "--grid", "init=glorot,gnn_he", "--seeds", "2"]


def test_sweep_writes_results_and_resumes(tmp_path):
    result = runner.invoke(app, [*ARGS, "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "4 runs (2 configurations x 2 seeds)" in result.output and "gnn_he" in result.output
    frame = pd.read_csv(tmp_path / "results.csv")
    assert len(frame) == 4 and set(frame["init"]) == {"glorot", "gnn_he"} and set(frame["seed"]) == {0, 1}
    again = runner.invoke(app, [*ARGS, "--out", str(tmp_path)])
    assert again.exit_code == 0 and "4 already finished" in again.output
    assert len(pd.read_csv(tmp_path / "results.csv")) == 4


def test_a_sweep_runs_on_the_protocol_features_as_fathom_train_does(tmp_path):
    result = runner.invoke(app, [*FIXED, "--features", "protocol", "--seeds", "1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(tmp_path / "results.csv")["features"]) == ["protocol"]


def test_grid_file_and_errors(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("fixed: {depth: 3}\ngrid: {residual_aggregation: [0, 0.5]}\nseeds: 1\n")
    result = runner.invoke(app, [*FIXED, "--grid-file", str(grid), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(tmp_path / "o" / "results.csv")["depth"]) == {3}
    bad = runner.invoke(app, ["sweep", "--grid", "depht=3", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unknown grid key" in bad.output


def test_a_misspelt_fixed_key_in_a_sweep_file_is_an_error_naming_the_closest(tmp_path):
    """`fixed: {dept: 2}` used to be ignored silently (the sweep ran at the default depth)."""
    grid = tmp_path / "sweep.yaml"
    grid.write_text("fixed: {dept: 2}\ngrid: {width: [8]}\nseeds: 1\n")
    result = runner.invoke(app, [*FIXED, "--grid-file", str(grid), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "dept" in result.output and "depth" in result.output
    assert not (tmp_path / "o" / "results.csv").exists()


def test_resuming_into_a_folder_of_another_sweep_is_refused(tmp_path):
    first = runner.invoke(app, [*ARGS, "--out", str(tmp_path)])
    assert first.exit_code == 0, first.output
    other = runner.invoke(app, [*FIXED, "--grid", "init=glorot,kaiming", "--seeds", "2", "--out", str(tmp_path)],
                          env={"COLUMNS": "300"})
    assert other.exit_code == 2 and "holds another sweep" in other.output and "grid" in other.output


def test_a_sweep_recorded_before_a_configuration_field_existed_resumes(tmp_path):
    """A sweep.json written before TrainConfig had ``selection`` lacks it; at its default the
    sweep is the same one, at another value it is not."""
    first = runner.invoke(app, [*ARGS, "--out", str(tmp_path)])
    assert first.exit_code == 0, first.output
    recorded = json.loads((tmp_path / "sweep.json").read_text())
    del recorded["fixed"]["selection"]
    (tmp_path / "sweep.json").write_text(json.dumps(recorded))
    again = runner.invoke(app, [*ARGS, "--out", str(tmp_path)])
    assert again.exit_code == 0 and "4 already finished" in again.output, again.output
    other = runner.invoke(app, [*ARGS, "--selection", "val_loss", "--out", str(tmp_path)], env={"COLUMNS": "300"})
    assert other.exit_code == 2 and "holds another sweep" in other.output


def test_the_ray_executor_without_ray_is_one_line_naming_the_fix(tmp_path, monkeypatch):
    """It used to be the RuntimeError at the end of a ~60-line traceback, after sweep.json was written."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "ray" else real_find_spec(name, *args))
    result = runner.invoke(app, [*ARGS, "--executor", "ray", "--out", str(tmp_path / "o")], env={"COLUMNS": "300"})
    assert result.exit_code == 1, result.output
    assert result.output.strip() == ("error: the ray executor needs Ray: pip install 'fathom[ray]' (or use the local "
                                     "executor)"), result.output
    assert not (tmp_path / "o").exists()


def test_the_summary_table_keeps_every_number_whole_at_80_columns(tmp_path):
    """At 80 columns the table used to cut numbers (``0.26 ± 0.007…``) and headers alike."""
    args = [*FIXED, "--grid", "init=glorot,gnn_he", "--grid", "residual_aggregation=0,0.5", "--seeds", "2",
            "--out", str(tmp_path)]
    result = runner.invoke(app, args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    table = summary_table(pd.read_csv(tmp_path / "results.csv"), ["init", "residual_aggregation"], SUMMARY_METRICS)
    numbers = {word for value in table.to_numpy().ravel() for word in str(value).split()
               if re.fullmatch(r"[-+0-9.e]+", word)}
    assert len(numbers) > 10
    for number in numbers:
        assert re.search(rf"(?<![\w.]){re.escape(number)}(?![\w.])", result.output), number
    assert "…" not in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80

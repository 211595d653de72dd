"""``fathom benchmark``: runs, resumes and reports; bad names are one line."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from fathom.cli.main import app

runner = CliRunner()


def test_a_benchmark_on_built_in_data_writes_its_report_and_resumes(tmp_path):
    out = tmp_path / "bench"
    command = ["benchmark", "--preset", "quick", "--datasets", "karate", "--models", "Fathom,GCN",
               "--out", str(out), "--no-progress"]
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    assert "3 runs of the quick preset" in result.output and "picks" not in result.output  # quick has no curve
    frame = pd.read_csv(out / "results.csv")
    assert sorted(zip(frame["entry"], frame["depth"])) == [("Fathom", 8), ("Fathom", 32), ("GCN", 2)]
    assert (frame["status"] == "ok").all() and frame["peak_memory_mb"].gt(0).all()
    report = (out / "report.md").read_text()
    assert "| model | karate |" in report and "Finished runs: 3 of 18" in report  # all quick's: 6 on each dataset
    assert (out / "accuracy_vs_depth.png").stat().st_size > 0
    before = (out / "sweep" / "results.csv").read_text()
    again = runner.invoke(app, command)
    assert again.exit_code == 0 and (out / "sweep" / "results.csv").read_text() == before
    assert "2 invocation(s), 0 stopped before the end" in (out / "report.md").read_text()


def test_a_restricted_invocation_still_reports_every_finished_run(tmp_path):
    out = tmp_path / "bench"
    base = ["benchmark", "--preset", "quick", "--datasets", "karate", "--out", str(out), "--no-progress"]
    assert runner.invoke(app, [*base, "--models", "Fathom,GCN"]).exit_code == 0
    result = runner.invoke(app, [*base, "--models", "APPNP"])
    assert result.exit_code == 0, result.output
    assert sorted(pd.read_csv(out / "results.csv")["entry"]) == ["APPNP", "Fathom", "Fathom", "GCN"]
    report = (out / "report.md").read_text()
    assert "Finished runs: 4 of 18" in report and "| GCN |" in report and "| APPNP |" in report
    again = runner.invoke(app, ["benchmark", "--preset", "quick", "--out", str(out), "--report-only", "--no-progress"])
    assert again.exit_code == 0, again.output  # no --datasets: karate is still reported, having run here
    assert len(pd.read_csv(out / "results.csv")) == 4 and "Finished runs: 4 of 18" in (out / "report.md").read_text()


def test_unknown_models_and_datasets_are_one_line_errors(tmp_path):
    result = runner.invoke(app, ["benchmark", "--models", "gcnn", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no benchmark entry named gcnn" in result.output
    result = runner.invoke(app, ["benchmark", "--datasets", "coraa", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown dataset 'coraa'" in result.output


def test_the_first_line_of_a_preset_with_depth_curves_says_that_picked_depths_get_seeds_after_its_runs(tmp_path):
    command = ["benchmark", "--preset", "full", "--datasets", "karate", "--models", "GCN", "--report-only",
               "--out", str(tmp_path / "bench"), "--no-progress"]
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    line = " ".join(result.output.split())
    assert "3 runs of the full preset" in line and "then the seeds that a depth validation picks" in line

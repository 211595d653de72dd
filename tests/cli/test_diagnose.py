import json

from typer.testing import CliRunner

from fathom.cli.diagnose import shown_layers
from fathom.cli.main import app
from fathom.diagnostics import LAYER_METRICS

runner = CliRunner()


def test_diagnose_writes_per_layer_lists_plot_and_verdict(tmp_path):
    result = runner.invoke(app, ["diagnose", "--depth", "6", "--width", "16", "--seeds", "2", "--device", "cpu",
                                 "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "feature collapse" in result.output and "signal scale" in result.output
    report = json.loads((tmp_path / "diagnostics.json").read_text())
    assert all(len(report[name]) == 6 for name in LAYER_METRICS)
    assert report["seeds"] == [0, 1] and report["config"]["init"] == "glorot"
    assert (tmp_path / "diagnostics.png").stat().st_size > 10_000


def test_compare_overlays_configurations(tmp_path):
    result = runner.invoke(app, ["diagnose", "--depth", "8", "--width", "16", "--seeds", "1", "--device", "cpu",
                                 "--out", str(tmp_path), "--compare", "init=glorot", "init=gnn_he,residual=fixup"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "diagnostics.json").read_text())
    assert list(report["runs"]) == ["init=glorot", "init=gnn_he,residual=fixup"]
    assert report["runs"]["init=gnn_he,residual=fixup"]["config"]["residual"] == "fixup"
    assert report["mean_cosine"] == report["runs"]["init=glorot"]["mean_cosine"]


def test_bad_compare_spec_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["diagnose", "--depth", "4", "--out", str(tmp_path), "--compare", "inti=glorot"])
    assert result.exit_code == 2 and "inti" in result.output


def test_table_shows_first_and_last_layers():
    assert shown_layers(5) == [1, 2, 3, 4, 5]
    layers = shown_layers(64)
    assert layers[0] == 1 and layers[-1] == 64 and len(layers) == 12

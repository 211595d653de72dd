import json

import pytest

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


@pytest.mark.parametrize("spec", ["", " , "])
def test_an_empty_compare_spec_is_a_one_line_usage_error(tmp_path, spec):
    """``--compare ""`` used to measure the flags' model, then fail in the plot's legend with a traceback."""
    result = runner.invoke(app, ["diagnose", "--depth", "2", "--seeds", "1", "--out", str(tmp_path), "--compare", spec],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "is empty" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_table_shows_first_and_last_layers():
    assert shown_layers(5) == [1, 2, 3, 4, 5]
    layers = shown_layers(64)
    assert layers[0] == 1 and layers[-1] == 64 and len(layers) == 12


def test_diagnose_a_pyg_model_before_and_after_principled(tmp_path):
    result = runner.invoke(app, ["diagnose", "--model", "torch_geometric.nn.models.GCN", "--model-kwargs",
                                 "hidden_channels=16,num_layers=8", "--principled", "--seeds", "2",
                                 "--device", "cpu", "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "GCN (PyG init)" in result.output and "GCN (principled_)" in result.output
    assert "signal scale" in result.output and "convs.7" in result.output
    report = json.loads((tmp_path / "diagnostics.json").read_text())
    assert list(report["runs"]) == ["GCN (PyG init)", "GCN (principled_)"]
    assert report["model_kwargs"] == {"hidden_channels": 16, "num_layers": 8}
    assert len(report["runs"]["GCN (principled_)"]["mad"]) == 8 and report["layers"][0] == "convs.0"
    assert (tmp_path / "diagnostics.png").stat().st_size > 10_000


def test_diagnose_a_factory_from_the_users_own_module(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(
        "from torch_geometric.nn.models import GraphSAGE\n"
        "def make(in_channels, out_channels, depth=4):\n"
        "    return GraphSAGE(in_channels, 8, depth, out_channels=out_channels)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = runner.invoke(app, ["diagnose", "--model", "my_models:make", "--model-kwargs", "depth=3", "--seeds", "1",
                                 "--device", "cpu", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "out" / "diagnostics.json").read_text())["mu"]) == 3


@pytest.mark.parametrize("args, message", [
    (["--model", "no_such_module.Model"], "cannot import 'no_such_module'"),
    (["--model", "GCN"], "expected package.module.Name or package.module:factory"),
    (["--model", ":build"], "expected package.module.Name or package.module:factory"),
    (["--model", "torch_geometric.nn.models.NoSuchGNN"], "has no attribute 'NoSuchGNN'"),
    (["--model", "torch_geometric.nn.models.GCN", "--model-kwargs", "hidden_channels"], "expected name=value"),
    (["--model", "torch_geometric.nn.models.GCN", "--model-kwargs", "hidden=3"], "missing 2 required positional arguments"),
])
def test_bad_model_paths_are_one_line_errors(tmp_path, args, message):
    result = runner.invoke(app, ["diagnose", *args, "--out", str(tmp_path)], env={"COLUMNS": "300"})
    assert result.exit_code == 1 and message in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_verdict_remedies_are_shown_as_flags():
    from fathom.cli.common import as_flags

    assert as_flags("use init=gnn_he and residual connections (residual=fixup)") == \
        "use --init gnn_he and residual connections (--residual fixup)"
    assert as_flags("aggregation (residual_aggregation=0.5 or more)") == "aggregation (--residual-aggregation 0.5 or more)"

from typer.testing import CliRunner

from fathom.cli.main import app


def test_datasets_lists_every_dataset_and_its_status(tmp_path):
    (tmp_path / "Cora" / "raw").mkdir(parents=True)
    (tmp_path / "Cora" / "raw" / "ind.cora.x").write_bytes(b"")
    result = CliRunner().invoke(app, ["datasets", "--data-root", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in ("csbm", "karate", "cora", "citeseer", "pubmed"):
        assert name in result.output
    assert "found" in result.output and "absent" in result.output

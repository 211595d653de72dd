from typer.testing import CliRunner

from fathom.cli.main import app
from fathom.data import DATASETS


def test_datasets_lists_every_dataset_found_in_the_shared_root(shared_data_root):
    result = CliRunner().invoke(app, ["datasets", "--data-root", str(shared_data_root)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for name in DATASETS:
        assert f"│ {name} " in result.output
    assert "pubmed (approximate)" in result.output and "absent" not in result.output
    assert "found wikipedia_network/chameleon/geom_gcn" in result.output
    assert "1113 graphs" in result.output and "geom-gcn x10" in result.output


def test_absent_datasets_show_documented_sizes_and_a_corrupt_one_one_red_line(tmp_path):
    (tmp_path / "Cora" / "raw").mkdir(parents=True)
    for part in ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index"):  # all there (no download), all empty
        (tmp_path / "Cora" / "raw" / f"ind.cora.{part}").write_bytes(b"")
    result = CliRunner().invoke(app, ["datasets", "--data-root", str(tmp_path)],
                                env={"COLUMNS": "250", "FATHOM_CACHE": str(tmp_path / "cache")})
    assert result.exit_code == 1, result.output
    assert "absent" in result.output and "unreadable Cora" in result.output and "Traceback" not in result.output
    assert "34493" in result.output  # physics' documented node count, shown though absent
    [error] = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert error.count("ind.cora.x") == 1 and "cora:" in error and "restore it" in error

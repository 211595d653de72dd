"""runs: atomic writes (a file is whole or as it was) and the environment record."""

import json
import os

import pytest
import torch

from fathom import runs


@pytest.mark.parametrize("write", ["text", "torch"])
def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch, write):
    target = tmp_path / "summary.json"
    target.write_text("old")

    def refuse(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        if write == "text":
            runs.write_atomic(target, "new")
        else:
            runs.write_torch_atomic(target, {"epoch": 3})
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["summary.json"]


def test_writes_replace_the_file_whole(tmp_path):
    runs.write_json(tmp_path / "a" / "config.json", {"depth": 4})
    assert json.loads((tmp_path / "a" / "config.json").read_text()) == {"depth": 4}
    runs.write_torch_atomic(tmp_path / "checkpoint.pt", {"epoch": 3})
    assert torch.load(tmp_path / "checkpoint.pt") == {"epoch": 3}
    runs.write_csv(tmp_path / "rows.csv", [{"a": 1, "b": 2}], ["a", "b"])
    assert (tmp_path / "rows.csv").read_text() == "a,b\n1,2\n"
    assert sorted(os.listdir(tmp_path)) == ["a", "checkpoint.pt", "rows.csv"]


def test_the_environment_records_versions_seed_commit_and_device():
    record = runs.environment(seed=7, device="cpu")
    assert record["seed"] == 7 and record["device"] == "cpu" and record["torch"] == torch.__version__
    assert {"fathom", "python", "torch_geometric", "numpy", "platform", "git_commit", "torch_threads"} <= set(record)

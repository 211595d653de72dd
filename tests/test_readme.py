"""The README's Python sections run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def section_blocks(title: str) -> list[str]:
    """The ```python blocks of the README section ``## title`` (up to the next ``## `` heading)."""
    text = README.read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"the README has no section {title!r}"
    blocks = re.findall(r"```python\n(.*?)```", match.group(1), re.S)
    assert blocks, f"the README section {title!r} has no Python example"
    return blocks


def run_blocks(blocks: list[str]) -> dict:
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    return namespace


def test_python_tour_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_blocks(section_blocks("Python tour"))
    assert (tmp_path / "runs" / "example" / "summary.json").is_file()


def test_use_it_on_your_own_pyg_model_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = run_blocks(section_blocks("Use it on your own PyG model"))
    before, after = namespace["before"], namespace["after"]
    assert len(before.layers) == len(after.layers) == 32
    growth = [r.metrics["second_moment"][-1] / r.metrics["second_moment"][0] for r in (before, after)]
    assert growth[0] < 1e-6 < 1e-2 < growth[1]  # glorot vanishes; principled_ keeps the order of magnitude
    assert all(conv.residual_aggregation == 0.5 for conv in namespace["model"].convs)


def test_the_headline_table_is_the_committed_leaderboard():
    results = README.parent / "docs" / "results" / "benchmark"
    headline = re.search(r"<!-- benchmark:start -->\n(.*?)<!-- benchmark:end -->", README.read_text(), re.S)
    assert headline, "the README has no benchmark:start/end block"
    assert (results / "leaderboard.md").read_text().strip() in headline.group(1)
    finished = re.search(r"Finished runs: (\d+) of (\d+)", (results / "report.md").read_text())
    assert finished, "the benchmark report does not say how many runs finished"
    assert f"{finished.group(1)} of its {finished.group(2)} runs finished" in headline.group(1)
    passed = re.search(r"(\d+) of (\d+) claim checks pass", (results / "report.md").read_text())
    assert passed and f"{passed.group(1)} of its {passed.group(2)} target checks pass" in headline.group(1)


def test_the_stated_metrics_columns_are_the_ones_written():
    from fathom.train import METRIC_COLUMNS

    stated = re.search(r"`metrics\.csv` \(per epoch:\s*`([^`]*)`", README.read_text())
    assert stated, "the README no longer says which columns metrics.csv has"
    assert [c.strip() for c in stated.group(1).split(",")] == METRIC_COLUMNS


def test_the_stated_diagnostics_keys_are_the_ones_written():
    from fathom.diagnostics import LAYER_METRICS

    stated = re.search(r"`diagnostics\.json` \(per-layer lists, means over `--seeds`:\s*(.*?)\)", README.read_text(), re.S)
    assert stated, "the README no longer says which per-layer lists diagnostics.json has"
    assert re.findall(r"`(\w+)`", stated.group(1)) == list(LAYER_METRICS)

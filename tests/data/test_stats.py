import json

import pytest

from fathom.data import stats


def test_statistics_are_measured_once_then_read_from_the_cache(copy_raw, tmp_path, monkeypatch):
    monkeypatch.setenv("FATHOM_CACHE", str(tmp_path / "cache"))
    raw = copy_raw("cornell")
    first = stats.dataset_stats("cornell", tmp_path)
    assert first == {"nodes": 183, "edges": 298, "features": 1703, "classes": 5,
                     "homophily": pytest.approx(0.305, abs=1e-3), "duplicates": 0}
    [cached] = (tmp_path / "cache" / "stats").glob("cornell-*.json")
    assert json.loads(cached.read_text())["raw"] == str(raw)

    calls = []
    monkeypatch.setattr(stats, "measure", lambda *args: calls.append(args) or {"nodes": -1})
    assert stats.dataset_stats("cornell", tmp_path) == first and calls == []
    (raw / "out1_graph_edges.txt").write_text((raw / "out1_graph_edges.txt").read_text() + "\n")  # a changed file
    assert stats.dataset_stats("cornell", tmp_path) == {"nodes": -1} and len(calls) == 1


def test_absent_datasets_have_no_statistics_and_graph_sets_count_graphs(tmp_path, shared_data_root):
    assert stats.dataset_stats("photo", tmp_path) is None
    mutag = stats.measure("mutag", shared_data_root)
    assert (mutag["graphs"], mutag["nodes"], mutag["features"]) == (188, 3371, 7) and "homophily" not in mutag

"""Running a benchmark preset: what an invocation records in the benchmark's folder."""

import json

from fathom.benchmark import run
from fathom.benchmark.suite import PRESETS


def test_an_invocation_keeps_the_record_of_one_that_ran_beside_it(tmp_path, monkeypatch):
    state = tmp_path / run.STATE_FILE

    def sweep_while_another_invocation_records_itself(*args, **kwargs):
        recorded = json.loads(state.read_text())
        recorded["invocations"].append({"command": "beside", "started": 1.0, "seconds": 5.0})
        recorded["wall_seconds"] = recorded.get("wall_seconds", 0.0) + 5.0
        state.write_text(json.dumps(recorded))

    monkeypatch.setattr(run, "run_sweep", sweep_while_another_invocation_records_itself)
    run.run_benchmark(PRESETS["quick"], tmp_path, datasets=("karate",), progress=False, command="this one")
    recorded = json.loads(state.read_text())
    assert [entry["command"] for entry in recorded["invocations"]] == ["this one", "beside"]
    mine = recorded["invocations"][0]["seconds"]
    assert mine is not None and recorded["wall_seconds"] == 5.0 + mine

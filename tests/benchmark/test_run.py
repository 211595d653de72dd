"""Running a benchmark preset: what an invocation records in the benchmark's folder."""

import json

from fathom.benchmark import Entry, Preset, run
from fathom.benchmark.suite import PRESETS
from fathom.sweep.store import ResultStore


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


def test_an_invocation_runs_the_seeds_a_picked_curve_depth_lacks_after_its_own_and_plans_them(tmp_path, monkeypatch):
    preset = Preset("test", ("karate",), (Entry("Fathom", "deepgnn", 3, (8,), curve={"karate": (2, 8)}),),
                    max_epochs=5, patience=5)
    sweeps, reported = [], {}

    def sweep(specs, out, *args, **kwargs):  # depth 2 validates best
        sweeps.append([(spec.model.depth, spec.train.seed) for spec in specs])
        for spec in specs:
            ResultStore(out).add({**spec.row(), "status": "ok", "best_val_acc": 0.9 if spec.model.depth == 2 else 0.5})

    monkeypatch.setattr(run, "run_sweep", sweep)
    monkeypatch.setattr(run, "write_report", lambda out, preset, planned, *rest: reported.update(planned=planned))
    run.run_benchmark(preset, tmp_path, progress=False)
    assert sweeps == [[(8, 0), (8, 1), (8, 2), (2, 0), (2, 1)], [(2, 2)]]
    assert [(spec.model.depth, spec.train.seed) for _, spec in reported["planned"]][-1] == (2, 2)
    assert json.loads((tmp_path / run.STATE_FILE).read_text())["planned_runs"] == 6

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from fathom.config import ModelConfig, TrainConfig
from fathom.models import factory
from fathom.sweep import RunSpec, expand, parse_grid, run_one, run_sweep

SMALL = ModelConfig(depth=2, width=8)
FAST = TrainConfig(epochs=12, device="cpu")


def test_sweep_rows_have_status_metrics_and_early_measures(tmp_path):
    specs = expand("karate", SMALL, FAST, parse_grid(["init=glorot,gnn_he"]), [0, 1])
    frame = run_sweep(specs, tmp_path, progress=False, target_loss=1.0)
    assert len(frame) == 4 and set(frame["status"]) == {"ok"}
    assert {"loss_at_10", "loss_at_25", "epochs_to_target", "loss_auc", "best_val_acc"} <= set(frame.columns)
    assert frame["loss_at_25"].isna().all() and frame["loss_at_10"].notna().all()  # 12 epochs only
    for run_id in frame["run_id"]:
        assert (tmp_path / "runs" / run_id / "metrics.csv").is_file()


def test_failed_and_diverged_runs_are_rows_with_reasons(tmp_path, offline_downloads):
    diverging = RunSpec("karate", ModelConfig(depth=64, aggregation="sum", init="kaiming", residual="none",
                                              residual_aggregation=0.0), FAST)
    row = run_one(diverging, str(tmp_path), 0.5)
    assert row["status"] == "diverged" and "training loss became" in row["reason"]
    missing = RunSpec("cora", SMALL, FAST, data_root=str(tmp_path / "nothing"))
    row = run_one(missing, str(tmp_path), 0.5)
    assert row["status"] == "failed" and "Cora" in row["reason"]


def test_worker_processes_give_the_same_rows_as_in_process(tmp_path):
    specs = expand("karate", SMALL, FAST, parse_grid(["init=glorot,gnn_he"]), [0, 1])
    serial = run_sweep(specs, tmp_path / "serial", progress=False).set_index("run_id").sort_index()
    parallel = run_sweep(specs, tmp_path / "parallel", workers=2, progress=False).set_index("run_id").sort_index()
    assert (serial["final_train_loss"] == parallel["final_train_loss"]).all()


def test_ray_executor_without_ray_is_a_clear_error(tmp_path):
    try:
        import ray  # noqa: F401
        pytest.skip("ray is installed")
    except ImportError:
        pass
    with pytest.raises(RuntimeError, match="pip install 'fathom\\[ray\\]'"):
        run_sweep([RunSpec("karate", SMALL, FAST)], tmp_path, executor="ray", progress=False)
    assert not (tmp_path / "sweep.json").exists()  # refused before anything is written


def test_repeated_configurations_are_refused(tmp_path):
    spec = RunSpec("karate", SMALL, FAST)
    with pytest.raises(ValueError, match="repeats a configuration"):
        run_sweep([spec, spec], tmp_path, progress=False)


SWEEP_SCRIPT = """
import sys
from fathom.config import ModelConfig, TrainConfig
from fathom.sweep import expand, parse_grid, run_sweep
specs = expand("karate", ModelConfig(depth=3, width=8), TrainConfig(epochs=60, device="cpu"),
               parse_grid(["lr=0.001,0.002,0.003,0.004,0.005,0.006", "width=8,9,10,11"]), [0])
run_sweep(specs, sys.argv[1], progress=False)
"""


def test_a_killed_sweep_resumes_without_losing_or_duplicating_rows(tmp_path):
    out = tmp_path / "sweep"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", SWEEP_SCRIPT, str(out)], env=env)
    results = out / "results.csv"
    deadline = time.time() + 120
    while time.time() < deadline and not (results.exists() and len(results.read_text().splitlines()) > 3):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = pd.read_csv(results)
    assert 2 <= len(before) < 24, "the sweep must be killed mid-way for this test to mean anything"

    specs = expand("karate", ModelConfig(depth=3, width=8), TrainConfig(epochs=60, device="cpu"),
                   parse_grid(["lr=0.001,0.002,0.003,0.004,0.005,0.006", "width=8,9,10,11"]), [0])
    after = run_sweep(specs, out, progress=False)
    assert len(after) == 24 and after["run_id"].is_unique
    kept = after.set_index("run_id").loc[before["run_id"]]
    assert (kept["final_train_loss"].values == before["final_train_loss"].values).all()  # finished rows untouched


def test_random_splits_follow_the_run_seed(tmp_path):
    specs = expand("karate", SMALL, FAST, {}, [0, 1], split=(0.5, 0.25, 0.25))
    assert specs[0].run_id != expand("karate", SMALL, FAST, {}, [0])[0].run_id  # the split is part of the identity
    frame = run_sweep(specs, tmp_path, progress=False)
    assert list(frame["split"]) == ["0.5/0.25/0.25"] * 2
    first, second = (pd.read_json(tmp_path / "runs" / run_id / "config.json", typ="series")
                     for run_id in frame["run_id"])
    assert first["data"]["description"].endswith("17 / 8 / 9")


def test_a_grid_over_model_factories_writes_one_results_table(tmp_path):
    """deepgnn and PyG's GCN side by side: the GCN cells take only the grid keys they have
    (width), so residual values do not multiply them."""
    grid = parse_grid(["model=deepgnn,gcn", "width=8,16", "residual=plain,fixup"])
    specs = expand("karate", SMALL, FAST, grid, [0])
    assert sorted(s.factory for s in specs) == ["deepgnn"] * 4 + ["gcn"] * 2
    frame = run_sweep(specs, tmp_path, progress=False)
    assert len(frame) == 6 and set(frame["status"]) == {"ok"}
    assert set(frame["model"]) == {"deepgnn", "gcn"}
    gcn = frame[frame["model"] == "gcn"]
    assert sorted(gcn["width"]) == [8, 16] and gcn["residual"].isna().all() and (gcn["depth"] == 2).all()
    assert (tmp_path / "results.csv").read_text().count("\n") == 7


def test_deepgnn_run_ids_are_those_of_sweeps_made_before_model_factories():
    """Committed sweeps stay resumable: a deepgnn run's id does not name its factory."""
    spec = RunSpec("karate", SMALL, FAST)
    assert spec.run_id == RunSpec("karate", SMALL, FAST, factory="deepgnn").run_id
    gcn = RunSpec("karate", factory("gcn").params(depth=2), FAST, factory="gcn")
    assert spec.run_id != gcn.run_id
    assert spec.run_id == "2ba67d36e6ff"  # the id this spec had before factories existed (commit 7fb8119)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_workers_die_with_a_sweep_killed_by_sigkill():
    """A killed sweep must not leave worker processes training on (they held both cores for hours)."""
    script = ("import time\nfrom fathom.sweep.executors import results\n"
              "for _ in results('local', time.sleep, [(300,), (300,)], workers=2): pass\n")
    parent = subprocess.Popen([sys.executable, "-c", script])
    workers: list[int] = []
    try:
        deadline = time.time() + 90
        while time.time() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = _spawned_children(parent.pid)
        assert len(workers) == 2
        parent.kill()
        parent.wait()
        # a worker still importing torch when its parent dies exits once its start-up ends (it then finds
        # itself orphaned): slow on a loaded machine, hence the long deadline
        deadline = time.time() + 90
        while time.time() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in workers)
    finally:
        parent.kill()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _spawned_children(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"spawn_main" in cmdline:
            children.append(int(entry.name))
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_an_interrupted_run_is_not_recorded_and_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    """A run stopped at epoch 7 (checkpoints every 3 epochs) raises instead of becoming a finished row;
    run again, it continues from epoch 6 and gives the uninterrupted run's metrics, timing aside."""
    import importlib

    runner = importlib.import_module("fathom.sweep.runner")
    fitting = importlib.import_module("fathom.train.fit")  # the module: fathom.train.fit is also the function

    monkeypatch.setattr(runner, "CHECKPOINT_EVERY", 3)
    spec = RunSpec("karate", SMALL, FAST)
    whole = run_one(spec, str(tmp_path / "whole"), 0.5)
    epochs, stop = [], [7]
    original = fitting.train_epoch

    def stop_at_seven(*args):
        epochs.append(len(epochs) + 1)
        if stop and len(epochs) == stop[0]:
            stop.clear()
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(fitting, "train_epoch", stop_at_seven)
    with pytest.raises(KeyboardInterrupt):
        run_one(spec, str(tmp_path / "split"), 0.5)
    run_dir = tmp_path / "split" / "runs" / spec.run_id
    assert (run_dir / "checkpoint.pt").is_file()
    epochs.clear()
    resumed = run_one(spec, str(tmp_path / "split"), 0.5)
    assert len(epochs) == FAST.epochs - 6  # epochs 7..12: the checkpoint held 6
    assert not (run_dir / "checkpoint.pt").exists()  # a finished run keeps no checkpoint
    columns = ["epoch", "train_loss", "train_acc", "val_acc", "test_acc"]
    torn = pd.read_csv(run_dir / "metrics.csv")[columns]
    full = pd.read_csv(tmp_path / "whole" / "runs" / spec.run_id / "metrics.csv")[columns]
    pd.testing.assert_frame_equal(torn, full)
    assert resumed["final_train_loss"] == whole["final_train_loss"]


def test_the_ray_executor_gives_the_local_executors_results_table(tmp_path):
    """A 4-run sweep on a local Ray instance: the same rows as in this process, timing aside."""
    ray = pytest.importorskip("ray")
    specs = expand("karate", SMALL, FAST, parse_grid(["init=glorot,gnn_he"]), [0, 1])
    local = run_sweep(specs, tmp_path / "local", progress=False).set_index("run_id").sort_index()
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        on_ray = run_sweep(specs, tmp_path / "ray", executor="ray", workers=2, progress=False)
    finally:
        ray.shutdown()
    on_ray = on_ray.set_index("run_id").sort_index()
    timing = [c for c in local.columns if "seconds" in c or "memory" in c]
    pd.testing.assert_frame_equal(local.drop(columns=timing), on_ray.drop(columns=timing))


def test_a_graph_run_pools_by_its_readout(monkeypatch):
    from fathom.sweep import runner

    asked = {}
    monkeypatch.setattr(runner, "load_task", lambda *args, **kwargs: asked.update(kwargs))
    runner.task_of(RunSpec("proteins", SMALL, TrainConfig(readout="mean", batch_size=128), split=3))
    assert asked == {"split": 3, "readout": "mean", "batch_size": 128}


def test_a_rerun_trains_only_the_runs_that_have_not_finished(tmp_path, monkeypatch):
    from fathom.sweep import runner

    specs = expand("karate", SMALL, FAST, {}, [0, 1])
    run_sweep(specs[:1], tmp_path, progress=False)
    trained = []
    one = runner.run_one
    monkeypatch.setattr(runner, "run_one", lambda spec, *args: trained.append(spec.run_id) or one(spec, *args))
    assert len(run_sweep(specs, tmp_path, progress=False)) == 2
    assert trained == [specs[1].run_id]
    assert len(run_sweep(specs, tmp_path, progress=False)) == 2 and trained == [specs[1].run_id]

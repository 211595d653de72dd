import csv
import dataclasses
import json
import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from fathom.cli.main import app
from fathom.data import DATASETS

runner = CliRunner()


def test_train_end_to_end(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--epochs", "3", "--depth", "4", "--width", "16", "--device", "cpu",
                                 "--aggregation", "mean", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "summary" in result.output and "best_val_acc" in result.output
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["aggregation"] == "mean" and config["data"]["dataset"] == "csbm"
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 3


def test_console_script_runs_with_defaults_in_a_temp_dir(tmp_path):
    command = [os.path.join(os.path.dirname(sys.executable), "fathom"), "train", "--epochs", "3", "--no-progress"]
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert {p.name for p in run_dir.iterdir()} == {"config.json", "env.json", "metrics.csv", "summary.json"}


def test_bad_values_exit_with_a_usage_error_naming_the_field():
    result = runner.invoke(app, ["train", "--aggregation", "max"])
    assert result.exit_code == 2 and "gcn" in result.output
    result = runner.invoke(app, ["train", "--residual", "none", "--beta", "0.5"])
    assert result.exit_code == 2 and "beta" in result.output


def test_missing_dataset_is_one_clear_line(tmp_path, offline_downloads):
    result = runner.invoke(app, ["train", "--dataset", "cora", "--data-root", str(tmp_path), "--epochs", "1"])
    assert result.exit_code == 1 and "Cora is not under" in result.output


def test_cora_depth_64_fixup_trains(shared_data_root, tmp_path):
    result = runner.invoke(app, ["train", "--dataset", "cora", "--data-root", str(shared_data_root), "--depth", "64",
                                 "--init", "gnn_he", "--residual", "fixup", "--epochs", "15", "--device", "cpu",
                                 "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert not summary["diverged"] and summary["final_train_loss"] < summary["initial_train_loss"]


def test_an_existing_run_directory_is_refused_unless_overwritten_or_resumed(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--epochs", "4", "--depth", "2", "--width", "8", "--device", "cpu", "--no-progress",
            "--out", str(out)]
    assert runner.invoke(app, [*args, "--checkpoint-every", "2"]).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "already holds a run" in again.output and "--resume" in again.output
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    file = tmp_path / "file"
    file.write_text("x")
    result = runner.invoke(app, [*args[:-1], str(file)])
    assert result.exit_code == 1 and "is a file" in result.output


def test_resume_continues_a_run_with_its_recorded_configuration(tmp_path):
    out = tmp_path / "run"
    first = runner.invoke(app, ["train", "--epochs", "4", "--depth", "2", "--width", "8", "--device", "cpu",
                                "--no-progress", "--out", str(out), "--checkpoint-every", "2"])
    assert first.exit_code == 0, first.output
    (out / "summary.json").unlink()
    resumed = runner.invoke(app, ["train", "--resume", str(out), "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 4


def test_ctrl_c_leaves_a_summary_marked_interrupted(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    command = [os.path.join(os.path.dirname(sys.executable), "fathom"), "train", "--epochs", "100000", "--depth", "2",
               "--width", "8", "--device", "cpu", "--no-progress", "--out", str(out), "--checkpoint-every", "5"]
    # A shell's background job inherits SIGINT ignored, and Python then never raises KeyboardInterrupt:
    # give the run the default disposition, as a terminal's Ctrl-C finds it.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:  # generous deadlines: on a loaded machine start-up alone took minutes (a signal during
        # torch's import then hung the process), so the signal is sent only once training has begun
        deadline = time.time() + 600
        while time.time() < deadline and not (out / "checkpoint.pt").exists() and process.poll() is None:
            time.sleep(0.05)
        assert (out / "checkpoint.pt").exists(), "the run wrote no checkpoint: it never reached epoch 5"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:  # a failed test must not leave a 100000-epoch run behind
            process.kill()
            process.wait()
    assert process.returncode == 130, output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["epochs_run"] >= 5 and summary["best_val_acc"] is not None
    assert f"fathom train --resume {out}" in output.replace("\n", "")


def test_a_model_broken_at_initialisation_is_warned_about_before_epoch_one(tmp_path):
    broken = runner.invoke(app, ["train", "--depth", "32", "--aggregation", "sum", "--init", "kaiming", "--residual",
                                 "none", "--epochs", "1", "--no-progress", "--out", str(tmp_path / "a")],
                           env={"COLUMNS": "300"})
    assert broken.exit_code == 0, broken.output
    warning = broken.output.index("warning at initialisation: [FAIL] signal scale")
    assert "--init gnn_he" in broken.output and warning < broken.output.index("DeepGNN(")
    sound = runner.invoke(app, ["train", "--epochs", "1", "--no-progress", "--out", str(tmp_path / "b")],
                          env={"COLUMNS": "300"})
    assert sound.exit_code == 0 and "warning at initialisation" not in sound.output


def test_a_graph_classification_dataset_trains_on_the_fold_given_by_split(shared_data_root, tmp_path):
    out = tmp_path / "mutag"
    result = runner.invoke(app, ["train", "--dataset", "mutag", "--data-root", str(shared_data_root), "--split", "3",
                                 "--depth", "16", "--width", "16", "--epochs", "3", "--device", "cpu",
                                 "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert "fold 3 of 10" in config["data"]["description"] and "188 graphs" in config["data"]["description"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_run"] == 3 and 0 <= summary["test_acc_at_best_val"] <= 1
    result = runner.invoke(app, ["train", "--dataset", "mutag", "--data-root", str(shared_data_root), "--split", "12",
                                 "--epochs", "1", "--out", str(tmp_path / "bad"), "--no-progress"])
    assert result.exit_code == 1 and "fold number 0..9; got 12" in result.output
    result = runner.invoke(app, ["train", "--dataset", "mutag", "--data-root", str(shared_data_root),
                                 "--record-every", "5", "--out", str(tmp_path / "recorded"), "--no-progress"])
    assert result.exit_code == 1 and "--record-every applies to one graph's nodes" in result.output
    assert not (tmp_path / "recorded").exists()
    result = runner.invoke(app, ["train", "--dataset", "mutag", "--data-root", str(shared_data_root), "--readout",
                                 "mean", "--depth", "2", "--width", "8", "--epochs", "1", "--device", "cpu",
                                 "--out", str(tmp_path / "mean"), "--no-progress"])
    assert result.exit_code == 0 and "mean readout" in result.output, result.output


def test_a_readout_on_a_node_dataset_is_one_line_naming_it(tmp_path):
    result = runner.invoke(app, ["train", "--dataset", "karate", "--readout", "mean", "--epochs", "1",
                                 "--out", str(tmp_path / "karate"), "--no-progress"])
    assert result.exit_code == 1 and "--readout mean: graph-classification settings; karate is a node-classification " \
        "dataset" in result.output
    assert not (tmp_path / "karate").exists()


def test_tensorboard_gets_every_epoch_metric_and_the_layer_diagnostics(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, logs = tmp_path / "run", tmp_path / "tb"
    result = runner.invoke(app, ["train", "--epochs", "4", "--depth", "4", "--width", "8", "--record-every", "2",
                                 "--tensorboard", str(logs), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    events = EventAccumulator(str(logs))
    events.Reload()
    metrics = list(csv.DictReader((out / "metrics.csv").open()))
    logged = [(e.step, e.value) for e in events.Scalars("epoch/train_loss")]
    assert logged == [(int(r["epoch"]), pytest.approx(float(r["train_loss"]), rel=1e-6)) for r in metrics]
    layers = list(csv.DictReader((out / "layer_metrics.csv").open()))
    last = [r for r in layers if r["epoch"] == "4"][-1]
    (step, value), = [(e.step, e.value) for e in events.Scalars("layers/second_moment/last") if e.step == 4]
    assert value == pytest.approx(float(last["second_moment"]), rel=1e-6)
    assert {e.step for e in events.Scalars("layers/second_moment/first")} == {0, 2, 4}


def test_a_broken_dataset_is_one_line_naming_the_field(broken_graph_case, monkeypatch, tmp_path):
    """Before: label 99 trained a 100-class model; the other faults were tracebacks from torch (or
    an uncaught InvalidGraphError for an integer mask)."""
    case, graph, message = broken_graph_case
    spec = DATASETS["csbm"]
    monkeypatch.setitem(DATASETS, "csbm", dataclasses.replace(spec, builtin=lambda seed, **options: graph.clone()))
    if case == "label 99, count not declared":  # the registry declares the documented count
        message = rf"data\.y holds class label 99 but there are {spec.sizes.classes} classes \(data\.num_classes"
    result = runner.invoke(app, ["train", "--epochs", "1", "--depth", "2", "--width", "8", "--no-progress",
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception  # not a traceback
    assert re.search(rf"^error: {message}", result.output, re.MULTILINE), result.output


def test_cuda_without_a_gpu_is_one_line_naming_the_fix(tmp_path, monkeypatch):
    """It used to be the RuntimeError at the end of a ~50-line traceback."""
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    result = runner.invoke(app, ["train", "--device", "cuda", "--epochs", "1", "--depth", "2", "--out",
                                 str(tmp_path / "run"), "--no-progress"], env={"COLUMNS": "300"})
    assert result.exit_code == 1, result.output
    assert result.output.strip() == ("error: --device cuda was requested but torch sees no CUDA device (use --device "
                                     "cpu, or --device auto to take a GPU when there is one)"), result.output


def test_a_model_too_big_for_memory_is_one_line_with_the_estimate_and_the_mode_that_fits(tmp_path, monkeypatch):
    """``--depth 100000 --width 512`` used to allocate until the memory ran out."""
    from fathom.config import ModelConfig
    from fathom.data import load_dataset, num_classes
    from fathom.train import memory

    data = load_dataset("csbm", None, seed=0)
    config = ModelConfig(depth=256, width=64)
    needs = {mode: memory.estimate(config.replace(memory=mode), data.num_nodes, data.num_edges, data.num_features,
                                   num_classes(data)).total for mode in ("full", "reversible")}
    monkeypatch.setattr(memory, "available_bytes", lambda device: (needs["full"] + needs["reversible"]) // 2)
    result = runner.invoke(app, ["train", "--depth", "256", "--width", "64", "--epochs", "1", "--device", "cpu",
                                 "--out", str(tmp_path / "run"), "--no-progress"], env={"COLUMNS": "400"})
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith("error: training this model needs about ")
    assert "of activations with --memory full) but " in result.output
    assert "; try --memory reversible (about " in result.output
    assert not (tmp_path / "run").exists()


def test_partitions_train_one_part_per_step_and_are_recorded(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--epochs", "2", "--depth", "2", "--width", "8", "--device", "cpu",
                                 "--partitions", "4", "--partition-method", "random", "--out", str(out),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["partitions"] == 4 and len(config["part_nodes"]) == 4
    assert sum(config["part_nodes"]) == 1000 and "4 parts" in config["data"]["description"]
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 2


def test_partition_errors_are_one_line_in_flag_wording(tmp_path, monkeypatch):
    result = runner.invoke(app, ["train", "--epochs", "1", "--depth", "2", "--partitions", "1001",
                                 "--partition-method", "random", "--out", str(tmp_path / "a"), "--no-progress"])
    assert result.exit_code == 1 and "--partitions 1001 exceeds the graph's 1000 nodes" in result.output
    monkeypatch.setitem(sys.modules, "pymetis", None)  # as if not installed
    result = runner.invoke(app, ["train", "--epochs", "1", "--depth", "2", "--partitions", "2",
                                 "--out", str(tmp_path / "b"), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "pip install pymetis" in result.output and "--partition-method random" in result.output
    assert "Traceback" not in result.output


def test_the_park2024_issue_command_trains_what_the_reproduction_checks(tmp_path):
    """Check (5) of ``fathom reproduce park2024`` trains the issue's ``fathom train`` command in
    process: the CLI given that command line must build the same model and training configuration
    (and ``--norm weight`` the paper's Frobenius bound)."""
    from fathom.reproduce.park2024 import FULL, command_configs, command_line_of

    protocol = dataclasses.replace(FULL, command_dataset="csbm", command_epochs=2)
    out = tmp_path / "run"
    flags = command_line_of(protocol, 4).split()[2:]
    result = runner.invoke(app, ["train", *flags, "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    model, train = command_configs(protocol, 4)
    assert config["model"] == model.to_dict() and config["model"]["norm_bound"] == "frobenius"
    assert config["train"] == train.to_dict()
    assert config["data"]["split"] == "random"

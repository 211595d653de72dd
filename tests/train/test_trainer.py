import csv
import json
import math

import pytest
import torch

from fathom import ModelConfig, TrainConfig
from fathom.data import InvalidGraphError, csbm
from fathom.runtime import resolve_device, subnormals_flushed
from fathom.train import METRIC_COLUMNS, summarize, train_node_classifier


@pytest.fixture(scope="module")
def small_graph():
    return csbm(num_nodes=300, num_classes=3, p_in=0.05, p_out=0.005, num_features=16, signal=1.5, seed=0)


def run(small_graph, out=None, record_every=None, **changes):
    model = ModelConfig(depth=4, width=32).replace(**changes.pop("model", {}))
    return train_node_classifier(model, TrainConfig(epochs=40, lr=0.01, device="cpu").replace(**changes),
                                 small_graph, out, progress=False, record_every=record_every)


def test_training_learns_and_writes_the_run_directory(small_graph, tmp_path):
    result = run(small_graph, tmp_path)
    summary = result.summary
    assert not summary["diverged"]
    assert summary["final_train_loss"] < 0.5 * summary["initial_train_loss"]
    assert summary["best_val_acc"] > 0.6  # chance is 1/3
    with open(tmp_path / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == METRIC_COLUMNS and len(rows) == 40
    assert all(float(row["seconds"]) > 0 for row in rows)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"]["depth"] == 4 and config["train"]["epochs"] == 40
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    env = json.loads((tmp_path / "env.json").read_text())
    assert {"torch", "torch_geometric", "numpy", "seed", "git_commit", "device"} <= set(env)


def test_same_seed_gives_identical_metrics(small_graph):
    first, second = run(small_graph, seed=7), run(small_graph, seed=7)
    strip = lambda history: [{k: v for k, v in row.items() if k != "seconds"} for row in history]  # noqa: E731
    assert strip(first.history) == strip(second.history)
    assert strip(run(small_graph, seed=8).history) != strip(first.history)


def test_huge_learning_rate_is_recorded_as_divergence(small_graph, tmp_path):
    result = run(small_graph, tmp_path, lr=1e4, model={"residual": "none", "residual_aggregation": 0.0, "depth": 8})
    assert result.summary["diverged"] is True
    assert "training loss became" in result.summary["divergence"]
    assert result.summary["epochs_run"] < 40
    assert json.loads((tmp_path / "summary.json").read_text())["diverged"] is True


def test_plain_he_with_sum_aggregation_overflows_at_depth_64(small_graph):
    result = run(small_graph, model={"depth": 64, "aggregation": "sum", "init": "kaiming", "residual": "none",
                                     "residual_aggregation": 0.0})
    assert result.summary["diverged"] and result.summary["epochs_run"] == 0


def test_gnn_he_with_sum_aggregation_trains_at_depth_64(small_graph):
    """Where plain He overflows at init, gnn_he starts at order one and trains at a small lr. (At
    lr 0.01 one Adam step takes this residual-free model's loss to 1e9: the divergence rule's case.)"""
    result = run(small_graph, epochs=10, lr=1e-4, model={"depth": 64, "aggregation": "sum", "init": "gnn_he",
                                                          "residual": "none", "residual_aggregation": 0.0})
    assert not result.summary["diverged"] and result.summary["epochs_run"] == 10
    assert result.summary["final_train_loss"] < result.summary["initial_train_loss"]
    exploding = run(small_graph, epochs=10, model={"depth": 64, "aggregation": "sum", "init": "gnn_he",
                                                   "residual": "none", "residual_aggregation": 0.0})
    assert exploding.summary["divergence_kind"] == "exploded" and exploding.summary["epochs_run"] == 1


def test_nan_features_are_rejected_before_training(small_graph):
    bad = small_graph.clone()
    bad.x[0, 0] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        run(bad)


def test_summary_picks_the_best_validation_epoch():
    history = [
        {"epoch": 1, "train_loss": 2.0, "val_acc": 0.5, "test_acc": 0.4, "seconds": 0.1},
        {"epoch": 2, "train_loss": 1.0, "val_acc": 0.7, "test_acc": 0.6, "seconds": 0.1},
        {"epoch": 3, "train_loss": 0.5, "val_acc": 0.6, "test_acc": 0.7, "seconds": 0.1},
    ]
    summary = summarize(history, diverged=False)
    assert (summary["best_epoch"], summary["test_acc_at_best_val"], summary["final_train_loss"]) == (2, 0.6, 0.5)
    assert summary["initial_train_loss"] == 2.0 and math.isclose(summary["seconds"], 0.3)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no CUDA device"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_layer_metrics_are_recorded_at_init_and_every_k_epochs(small_graph, tmp_path):
    result = run(small_graph, tmp_path, epochs=10, record_every=5)
    assert sorted({row["epoch"] for row in result.layer_history}) == [0, 5, 10]
    assert len(result.layer_history) == 3 * 4
    with open(tmp_path / "layer_metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["epoch"] == "0" and rows[0]["layer"] == "1" and float(rows[0]["grad_norm"]) > 0
    with pytest.raises(ValueError, match="record_every"):
        run(small_graph, record_every=0)


def test_sparse_features_train_like_dense_ones(small_graph):
    sparse_graph = small_graph.clone()
    sparse_graph.x = sparse_graph.x * (sparse_graph.x > 1.5)  # about 7% non-zero: the sparse encoder path
    dense = run(sparse_graph, epochs=15)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("fathom.tasks.node.SPARSE_FEATURES_BELOW", 0.0)  # force the dense path
        reference = run(sparse_graph, epochs=15)
    for a, b in zip(dense.history, reference.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)


def test_run_files_get_the_usual_permissions(small_graph, tmp_path):
    run(small_graph, tmp_path, epochs=2)
    assert (tmp_path / "summary.json").stat().st_mode & 0o044 == 0o044  # group/others can read


def test_early_stopping_on_validation_accuracy(small_graph):
    result = run(small_graph, epochs=200, patience=5, lr=0.05)
    summary = result.summary
    assert summary["stopped_early"] and summary["epochs_run"] < 200
    assert summary["epochs_run"] - summary["best_epoch"] == 5
    assert not run(small_graph, epochs=10).summary["stopped_early"]


def test_subnormals_are_zero_inside_the_block_and_kept_after():
    tiny = torch.tensor([1e-39], dtype=torch.float32)
    if not torch.set_flush_denormal(False) or tiny.item() == 0.0:
        pytest.skip("this CPU cannot toggle subnormal flushing")
    assert (tiny * 1.0).item() != 0.0
    with subnormals_flushed():
        assert (tiny * 1.0).item() == 0.0
        assert (torch.tensor([1e-30]) * 1e-10).item() == 0.0
    assert (tiny * 1.0).item() != 0.0


def test_a_broken_graph_is_refused_before_training_naming_the_field(broken_graph_case):
    _, graph, message = broken_graph_case
    with pytest.raises(InvalidGraphError, match=message):
        train_node_classifier(ModelConfig(depth=2, width=8), TrainConfig(epochs=1, device="cpu"), graph,
                              progress=False)

"""fit(model, task, config): any PyG model trains through the same loop as Fathom's own."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch_geometric.nn.models import GCN

from fathom.config import ConfigError, ModelConfig, TrainConfig
from fathom.data import load_dataset
from fathom.nn import DeepGNN
from fathom.tasks import NodeClassification
from fathom.train import fit, train_node_classifier
from fathom.train.fit import parameter_groups

FAST = TrainConfig(epochs=30, lr=0.01, device="cpu")


def test_fit_trains_a_plain_pyg_gcn(tmp_path):
    data = load_dataset("csbm")
    task = NodeClassification(data)
    torch.manual_seed(0)
    model = GCN(data.num_features, 16, 2, task.num_classes)
    result = fit(model, task, FAST, tmp_path / "run", progress=False)
    losses = [row["train_loss"] for row in result.history]
    assert len(losses) == FAST.epochs and losses[-1] < 0.5 * losses[0]
    assert result.summary["best_val_acc"] > 0.5 and not result.summary["diverged"]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"] == "GCN" and config["train"]["epochs"] == FAST.epochs
    assert (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0] == \
        "epoch,train_loss,train_acc,val_acc,val_loss,test_acc,seconds"


def test_train_node_classifier_is_fit_on_a_deepgnn():
    """The shortcut and fit on the same seeded DeepGNN give the same losses, epoch by epoch."""
    data, model_config = load_dataset("karate"), ModelConfig(depth=3, width=8, dropout=0.2)
    shortcut = train_node_classifier(model_config, FAST, data, progress=False)
    torch.manual_seed(FAST.seed)
    model = DeepGNN.for_graph(model_config, data, 4)
    direct = fit(model, NodeClassification(data), FAST, progress=False)
    assert [r["train_loss"] for r in shortcut.history] == pytest.approx([r["train_loss"] for r in direct.history])


def test_patience_stops_on_the_tasks_selection_metric():
    data = load_dataset("karate")
    torch.manual_seed(0)
    result = fit(GCN(data.num_features, 8, 2, 4), NodeClassification(data), FAST.replace(epochs=300, patience=5),
                 progress=False)
    assert result.summary["stopped_early"] and result.summary["epochs_run"] < 300


def _history(val_acc, val_loss):
    return [{"epoch": e + 1, "train_loss": 1.0, "val_acc": a, "val_loss": v, "test_acc": e / 10, "seconds": 1.0}
            for e, (a, v) in enumerate(zip(val_acc, val_loss))]


def test_the_selection_reads_the_epoch_of_highest_validation_accuracy_or_of_lowest_validation_loss():
    from fathom.train.fit import summarize

    history = _history(val_acc=[0.5, 0.8, 0.7, 0.8, 0.6], val_loss=[1.0, 0.6, 0.4, 0.5, 0.4])
    by_accuracy = summarize(history, False, selection="val_acc")
    assert (by_accuracy["best_epoch"], by_accuracy["best_val_acc"], by_accuracy["test_acc_at_best_val"]) == (2, 0.8, 0.1)
    by_loss = summarize(history, False, selection="val_loss")  # the first of the two lowest losses: epoch 3
    assert (by_loss["best_epoch"], by_loss["best_val_acc"], by_loss["test_acc_at_best_val"]) == (3, 0.7, 0.2)


def test_patience_counts_epochs_since_the_lowest_validation_loss():
    from fathom.train import stale

    history = _history(val_acc=[0.5, 0.9, 0.9, 0.9], val_loss=[0.5, 0.6, 0.7, 0.8])  # accuracy peaks, loss rises
    assert stale(history, 3, "val_loss") and not stale(history, 4, "val_loss")
    assert not stale(history, 3, "val_acc")  # its best accuracy, from epoch 2 on, is two epochs old
    # a tie keeps the first best epoch, as the selection does: a plateau counts as no improvement
    assert stale(history, 2, "val_acc")
    assert stale(_history(val_acc=[0.5] * 4, val_loss=[1.0, 0.5, 0.5, 0.5]), 2, "val_loss")


def test_epochs_without_the_metric_neither_select_nor_stop_a_run():
    """A checkpoint from before the validation loss was recorded resumes with NaN there: those
    epochs must not hold the best place, or a run still improving would stop."""
    from fathom.train import stale
    from fathom.train.fit import summarize

    nan = float("nan")
    history = _history(val_acc=[0.5] * 8, val_loss=[nan, nan, nan, nan, 0.9, 0.8, 0.7, 0.6])
    assert not stale(history, 3, "val_loss") and summarize(history, False, selection="val_loss")["best_epoch"] == 8
    assert stale(history[:5] + _history(val_acc=[0.5] * 3, val_loss=[1.0] * 3), 3, "val_loss")


def test_a_run_selected_on_validation_loss_stops_and_reports_where_that_loss_was_lowest():
    data = load_dataset("karate")
    torch.manual_seed(0)
    result = fit(GCN(data.num_features, 8, 2, 4, dropout=0.5), NodeClassification(data),
                 FAST.replace(epochs=400, patience=20, selection="val_loss"), progress=False)
    losses = [row["val_loss"] for row in result.history]
    best = losses.index(min(losses))
    assert result.summary["stopped_early"] and len(losses) - 1 - best == 20
    assert result.summary["best_epoch"] == best + 1
    assert result.summary["best_val_acc"] == result.history[best]["val_acc"]
    assert result.summary["test_acc_at_best_val"] == result.history[best]["test_acc"]


def test_a_selection_the_task_does_not_measure_is_refused():
    class AccuracyOnly(NodeClassification):
        metrics = ("train_acc", "val_acc", "test_acc")

    data = load_dataset("karate")
    with pytest.raises(ValueError, match="selection 'val_loss' is not a metric this task measures"):
        fit(GCN(data.num_features, 8, 2, 4), AccuracyOnly(data), FAST.replace(selection="val_loss"), progress=False)
    with pytest.raises(ConfigError, match="selection"):
        TrainConfig(selection="test_acc")


def test_a_non_finite_loss_stops_the_run_as_diverged():
    data = load_dataset("karate")

    class Exploding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(1.0))

        def forward(self, x, edge_index):
            return self.scale * torch.full((x.size(0), 4), float("inf"))

    result = fit(Exploding(), NodeClassification(data), FAST, progress=False)
    assert result.summary["diverged"] and "epoch 1" in result.summary["divergence"]
    assert result.summary["divergence_kind"] == "non-finite"
    assert result.history == []


class Scaled(torch.nn.Module):
    """Logits of a fixed size: class 0 gets ``value``, the others 0."""

    def __init__(self, value: float):
        super().__init__()
        self.value = torch.nn.Parameter(torch.tensor(value))

    def forward(self, x, edge_index):
        logits = torch.zeros(x.size(0), 4)
        logits[:, 0] = 1.0
        return logits * self.value


@pytest.mark.parametrize("value, diverged", [(1e20, True), (1e3, False)])
def test_a_finite_loss_far_above_chance_counts_as_diverged(value, diverged):
    """Karate has 4 classes: chance is ln 4 = 1.39, the limit 1e3 ln 4 = 1386. Logits (v, 0, 0, 0)
    give a loss of about v on nodes of the other classes: 1e20 is far past the limit, 1e3 not."""
    data = load_dataset("karate")
    result = fit(Scaled(value), NodeClassification(data), FAST.replace(epochs=2, lr=1e-9), progress=False)
    assert result.summary["diverged"] is diverged
    if diverged:
        assert result.summary["divergence_kind"] == "exploded" and "1386" in result.summary["divergence"]
        assert result.history == []  # stopped at epoch 1, before any step: the model exploded at init


def test_a_run_stopped_and_resumed_gives_the_uninterrupted_metrics(tmp_path):
    """Killed at epoch 7 with checkpoints every 5 epochs, then resumed: the same metrics.csv as one
    uninterrupted run, timing aside (dropout makes it depend on the restored RNG state)."""
    data, config = load_dataset("karate"), TrainConfig(epochs=10, lr=0.01, device="cpu", seed=3)

    def model():
        torch.manual_seed(0)
        return DeepGNN.for_graph(ModelConfig(depth=3, width=8, dropout=0.3), data, 4)

    whole = fit(model(), NodeClassification(data), config, tmp_path / "whole", progress=False)

    def stop_at_7(epoch, _):
        if epoch == 7:
            raise KeyboardInterrupt

    stopped = fit(model(), NodeClassification(data), config, tmp_path / "run", progress=False, on_epoch=stop_at_7,
                  checkpoint_every=5)
    assert stopped.summary["interrupted"] and stopped.summary["epochs_run"] == 7
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["interrupted"] is True
    resumed = fit(model(), NodeClassification(data), config, tmp_path / "run", progress=False, checkpoint_every=5,
                  resume=True)
    without_time = [{k: v for k, v in row.items() if k != "seconds"} for row in whole.history]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in resumed.history] == without_time
    assert not resumed.summary["interrupted"] and resumed.summary["epochs_run"] == 10


def test_a_checkpoint_written_before_a_metric_existed_resumes_with_that_metric_missing(tmp_path):
    from fathom.train.fit import CHECKPOINT_FILE

    data, config = load_dataset("karate"), TrainConfig(epochs=6, lr=0.01, device="cpu")
    torch.manual_seed(0)
    fit(GCN(data.num_features, 8, 2, 4), NodeClassification(data), config.replace(epochs=4), tmp_path,
        progress=False, checkpoint_every=4)
    state = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=False)
    state["history"] = [{k: v for k, v in row.items() if k != "val_loss"} for row in state["history"]]
    torch.save(state, tmp_path / CHECKPOINT_FILE)
    torch.manual_seed(0)
    resumed = fit(GCN(data.num_features, 8, 2, 4), NodeClassification(data), config, tmp_path, progress=False,
                  resume=True)
    losses = [row["val_loss"] for row in resumed.history]
    assert all(math.isnan(v) for v in losses[:4]) and all(math.isfinite(v) for v in losses[4:])
    assert resumed.summary["epochs_run"] == 6


def test_resume_without_a_checkpoint_names_the_file(tmp_path):
    data = load_dataset("karate")
    with pytest.raises(FileNotFoundError, match="checkpoint.pt"):
        fit(GCN(data.num_features, 8, 2, 4), NodeClassification(data), FAST, tmp_path, progress=False, resume=True)


def test_block_weight_decay_penalises_the_message_passing_parameters_only():
    data = load_dataset("karate")
    model = DeepGNN(ModelConfig(depth=2, width=8), data.num_features, 4)
    groups = parameter_groups(model, TrainConfig(weight_decay=5e-4, block_weight_decay=1e-2))
    assert [g["weight_decay"] for g in groups] == [1e-2, 5e-4]
    block_ids = {id(p) for p in model.blocks.parameters()}
    assert {id(p) for p in groups[0]["params"]} == block_ids
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in model.parameters()} - block_ids
    single = parameter_groups(model, TrainConfig(weight_decay=5e-4))
    assert len(single) == 1 and single[0]["weight_decay"] == 5e-4
    with pytest.raises(ConfigError, match="message_passing_parameters"):
        parameter_groups(torch.nn.Linear(2, 2), TrainConfig(block_weight_decay=1e-2))


def test_the_step_schedule_sets_each_epochs_learning_rate(monkeypatch):
    """lr_step=3, lr_gamma=0.5: epochs 1-3 at lr, 4-6 at lr/2, 7 at lr/4, read off the optimizer at
    every step (karate is full batch: one step per epoch); without lr_step, lr throughout."""
    seen: list[float] = []

    class RecordingAdam(torch.optim.Adam):
        def step(self, closure=None):
            seen.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    data = load_dataset("karate")
    for config, expected in ((TrainConfig(epochs=7, lr=0.01, lr_step=3, device="cpu"),
                              [0.01] * 3 + [0.005] * 3 + [0.0025]),
                             (TrainConfig(epochs=4, lr=0.01, device="cpu"), [0.01] * 4)):
        seen.clear()
        torch.manual_seed(0)
        fit(DeepGNN.for_graph(ModelConfig(depth=2, width=8), data, 4), NodeClassification(data), config,
            progress=False)
        assert seen == pytest.approx(expected)


@pytest.mark.parametrize("field, value", [("lr_step", 0), ("lr_step", 2.5), ("lr_gamma", 0.0), ("lr_gamma", 1.5)])
def test_an_impossible_step_schedule_is_refused(field, value):
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value})

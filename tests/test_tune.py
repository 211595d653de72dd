import importlib
import importlib.util
import json
import sys

import pandas as pd
import pytest
import torch

import fathom.tune as tuning
from fathom.config import ConfigError, ModelConfig, TrainConfig
from fathom.data import SplitError, load_dataset
from fathom.tune import Choice, Range, chosen_config, hide_test, load_space_file, parse_space, search_space, tune

pytest.importorskip("optuna")

TINY = {"depth": 2, "width": 8}
FAST = {"epochs": 3, "device": "cpu"}


def run(tmp_path, name="t", space=None, trials=3, **kwargs):
    space = space or {"lr": {"low": 0.001, "high": 0.1, "log": True}, "residual_aggregation": [0.0, 0.5]}
    return tune("deepgnn", "csbm", None, space, TINY, FAST, trials, 0, tmp_path / name, progress=False, **kwargs)


def test_a_space_is_typed_from_flags_and_from_data():
    space = parse_space(["depth=16,32", "lr=0.001:0.05:log", "width=8:64", "residual-aggregation=0:1",
                         "beta=none,0.5"], "deepgnn")
    assert space == {"depth": Choice((16, 32)), "lr": Range(0.001, 0.05, log=True),
                     "width": Range(8, 64, integer=True), "residual_aggregation": Range(0.0, 1.0),
                     "beta": Choice((None, 0.5))}
    assert search_space({"lr": {"low": "1e-3", "high": 0.1, "log": True}, "init": "glorot"}, "deepgnn") == {
        "lr": Range(0.001, 0.1, log=True), "init": Choice(("glorot",))}
    assert parse_space(["width=8,16"], "gcn") == {"width": Choice((8, 16))}  # the factory's own parameters


@pytest.mark.parametrize("item, message", [
    ("dept=16,32", "did you mean 'depth'"), ("lrr=0.1", "did you mean 'lr'"), ("lr=0.1:0.01", "low <= high"),
    ("lr=0.1:", "low:high or low:high:log"), ("depth=1:8:lin", "low:high or low:high:log"),
    ("lr=0:0.1:log", "lr must lie in"), ("width=-1:8", "width must lie in"), ("depth=2.5:8", "depth must be int"),
    ("aggregation=gcn,median", "aggregation must be one of"), ("init=0:1", "not a number"),
    ("seed=0,1", "seed is not searched"), ("epochs=0,5", "epochs must lie in"), ("depth", "key=v1,v2"),
])
def test_bad_search_entries_are_config_errors_naming_the_problem(item, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_space([item], "deepgnn")


def test_a_space_file_holds_the_space_and_fixed_settings(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("space:\n  lr: {low: 1e-3, high: 0.1, log: true}\n  depth: [2, 4]\nfixed: {width: 8}\n")
    space, fixed = load_space_file(path, "deepgnn")
    assert space == {"lr": Range(0.001, 0.1, log=True), "depth": Choice((2, 4))} and fixed == {"width": 8}
    path.write_text("space: {dept: [2]}\n")
    with pytest.raises(ConfigError, match="space.yaml.*did you mean 'depth'"):
        load_space_file(path, "deepgnn")


def test_hide_test_empties_the_test_mask_and_overwrites_its_labels():
    data = load_dataset("csbm", seed=0)
    hidden = hide_test(data)
    assert not hidden.test_mask.any() and bool((hidden.y[data.test_mask] == 0).all())
    assert torch.equal(hidden.y[~data.test_mask], data.y[~data.test_mask]) and data.test_mask.any()
    with pytest.raises(SplitError, match="also validation or training nodes"):
        hide_test(load_dataset("karate"))  # karate's validation nodes are its test nodes
    data.val_mask[:] = False
    with pytest.raises(SplitError, match="no validation nodes"):
        hide_test(data)


def test_tuning_never_sees_the_test_labels(tmp_path, monkeypatch):
    """Scrambling every test label in the input must change nothing: the trials' objective values,
    their parameters and the chosen configuration are identical, and fit only gets graphs without
    test nodes whose labels carry no trace of the test labels."""
    true = load_dataset("csbm", seed=0)
    scrambled = true.clone()
    scrambled.y = torch.where(true.test_mask, (true.y + 1) % int(true.y.max() + 1), true.y)
    seen = []
    real_fit = tuning.fit

    def spy(model, task, config, *args, **kwargs):  # records (an assertion here would fail the trial only)
        seen.append((bool(task.data.test_mask.any() or task.masks["test"].any()), task.data.y.clone()))
        return real_fit(model, task, config, *args, **kwargs)

    monkeypatch.setattr(tuning, "fit", spy)
    results = []
    for name, data in (("true", true), ("scrambled", scrambled)):
        monkeypatch.setattr(tuning, "load_dataset", lambda *args, data=data, **kwargs: data)
        results.append(run(tmp_path, name))
    first, second = results
    assert [(r["val_acc"], r["lr"], r["residual_aggregation"]) for r in first.trials] == \
           [(r["val_acc"], r["lr"], r["residual_aggregation"]) for r in second.trials]
    assert all(r["state"] == "complete" for r in first.trials) and len(first.trials) == 3
    assert (first.params, first.train, first.best_val_acc) == (second.params, second.train, second.best_val_acc)
    assert chosen_config(tmp_path / "true") == chosen_config(tmp_path / "scrambled")
    assert len(seen) == 6 and not any(has_test for has_test, _ in seen)
    assert all(torch.equal(y, seen[0][1]) for _, y in seen)


def test_best_json_records_the_chosen_configuration_and_its_provenance(tmp_path):
    result = tune("deepgnn", "csbm", None, {"lr": {"low": 0.001, "high": 0.1, "log": True},
                  "residual_aggregation": [0.0, 0.5]}, ModelConfig(**TINY), TrainConfig(seed=5, **FAST), 2, 0,
                  tmp_path / "t", progress=False)  # configuration objects work too; tune's seed wins
    best = json.loads(result.best_file.read_text())
    assert best["best_val_acc"] == max(r["val_acc"] for r in result.trials)
    assert best["env"]["seed"] == 0 and "git_commit" in best["env"] and "torch" in best["env"]
    assert best["space"]["lr"] == {"low": 0.001, "high": 0.1, "log": True} and best["model"] == "deepgnn"
    params, train = chosen_config(result.best_file)
    assert params["depth"] == 2 and params["width"] == 8 and train["epochs"] == 3 and train["seed"] == 0
    assert train["lr"] == result.train["lr"] and params == result.params
    frame = pd.read_csv(tmp_path / "t" / "trials.csv")
    assert list(frame.columns) == ["trial", "state", "val_acc", "lr", "residual_aggregation", "seconds", "reason"]
    assert best["selection"].startswith("best validation accuracy of a run")


def test_best_json_says_a_loss_selected_tuning_scored_the_accuracy_at_the_least_loss(tmp_path):
    result = tune("deepgnn", "csbm", None, {"lr": [0.01]}, TINY, {**FAST, "selection": "val_loss"}, 1, 0,
                  tmp_path / "t", progress=False)
    assert json.loads(result.best_file.read_text())["selection"].startswith(
        "validation accuracy of a run at its epoch of least validation loss")


def test_failed_and_diverged_trials_are_recorded_and_the_study_goes_on(tmp_path, monkeypatch):
    real_fit = tuning.fit

    def diverging(model, task, config, *args, **kwargs):
        result = real_fit(model, task, config.replace(epochs=1), *args, **kwargs)
        if config.lr > 0.5:
            result.summary.update(diverged=True, divergence="training loss became nan at epoch 1")
        return result

    monkeypatch.setattr(tuning, "fit", diverging)
    result = run(tmp_path, space={"lr": [0.01, 1.0], "init": ["fixup", "gnn_he"], "residual": ["none", "plain"]},
                 trials=8)
    reasons = {r["reason"] for r in result.trials if r["state"] == "fail"}
    assert any("diverged: training loss became nan" in r for r in reasons)
    assert any("ConfigError: init=fixup" in r for r in reasons)
    assert any(r["state"] == "complete" for r in result.trials) and len(result.trials) == 8
    assert result.best_val_acc is not None and result.train["lr"] == 0.01


def test_a_stopped_tuning_resumes_where_it_stopped(tmp_path, monkeypatch):
    real_fit = tuning.fit
    calls = []

    def interrupted_on_second_call(model, task, config, *args, **kwargs):
        calls.append(1)
        result = real_fit(model, task, config, *args, **kwargs)
        result.summary["interrupted"] = len(calls) == 2
        return result

    monkeypatch.setattr(tuning, "fit", interrupted_on_second_call)
    stopped = run(tmp_path, trials=3)
    assert stopped.interrupted and [r["state"] for r in stopped.trials] == ["complete", "fail"]
    assert stopped.trials[1]["reason"] == "interrupted"
    resumed = run(tmp_path, trials=3)  # the interrupted trial does not count toward the 3
    assert not resumed.interrupted and [r["state"] for r in resumed.trials].count("complete") == 3
    assert resumed.trials[0] == stopped.trials[0]
    assert len({(r["lr"], r["residual_aggregation"]) for r in resumed.trials}) == 4  # no replayed draws
    with pytest.raises(ConfigError, match="another configuration .*space"):
        run(tmp_path, space={"lr": [0.01]})


def test_optuna_is_optional(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    for name in ("fathom.tune", "fathom.cli.tune"):  # a fresh copy of each module imports without optuna
        module = sys.modules[name] if name in sys.modules else importlib.import_module(name)
        spec = importlib.util.spec_from_file_location(name, module.__file__)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    with pytest.raises(ImportError, match=r"pip install 'fathom\[tune\]'"):
        run(tmp_path)

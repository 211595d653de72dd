"""Benchmark presets: which runs, in which order, with which settings."""

from __future__ import annotations

import pandas as pd
import pytest

from fathom.benchmark import PRESETS, Entry, Preset, fathom_config
from fathom.benchmark.chosen import chosen_configs, record_choice
from fathom.benchmark.suite import DATASET_ORDER, TU
from fathom.config import ConfigError


def _preset(*entries: Entry) -> Preset:
    return Preset("test", ("cora", "texas"), entries, max_epochs=50, patience=10)


def test_base_seeds_come_first_then_extra_seeds_ablations_and_depth_curves_and_repeats_run_once():
    preset = _preset(
        Entry("Fathom", "deepgnn", 2, (8,), seeds_on={"cora": 3}, curve={"cora": (2, 8)}, curve_seeds=1),
        Entry("Fathom: no dropout", "deepgnn", 1, (8,), ("cora",), params={"dropout": 0.0}, ablation=True),
        Entry("GCN", "gcn", 1))
    runs = preset.specs()
    kinds = [(label, spec.dataset, spec.model.depth, spec.train.seed) for label, spec in runs]
    assert kinds == [("Fathom", "cora", 8, 0), ("Fathom", "cora", 8, 1), ("GCN", "cora", 2, 0),
                     ("Fathom", "texas", 8, 0), ("Fathom", "texas", 8, 1), ("GCN", "texas", 2, 0),
                     ("Fathom", "cora", 8, 2),  # cora's extra seed after every dataset's base seeds
                     ("Fathom: no dropout", "cora", 8, 0),
                     ("Fathom", "cora", 2, 0)]  # the curve's depth-8 seed 0 is the main run's
    assert runs[-2][1].model.dropout == 0.0 and runs[0][1].model.dropout == fathom_config("cora")[0]["dropout"]


def test_depths_on_a_dataset_replace_the_entry_depths_there_only():
    fathom = Entry("Fathom", "deepgnn", 1, (8,), depths_on={"texas": (4, 8)})
    runs = _preset(fathom, Entry("GCN", "gcn", 1, depths_on={"texas": (3,)})).specs()
    assert [(label, spec.dataset, spec.model.depth) for label, spec in runs] == [
        ("Fathom", "cora", 8), ("GCN", "cora", 2), ("Fathom", "texas", 4), ("Fathom", "texas", 8), ("GCN", "texas", 3)]


def test_the_budget_caps_epochs_and_sets_patience_and_features():
    (_, spec), *_ = _preset(Entry("GCN", "gcn", 1, train={"epochs": 500})).specs(datasets=("cora",))
    assert spec.train.epochs == 50 and spec.train.patience == 10 and spec.features == "protocol"


def test_unknown_entries_datasets_and_impossible_settings_are_named():
    preset = _preset(Entry("GCN", "gcn", 1))
    with pytest.raises(ConfigError, match="no benchmark entry named gcnn"):
        preset.specs(entries=("gcnn",))
    with pytest.raises(ConfigError, match="unknown dataset 'coraa'"):
        preset.specs(datasets=("coraa",))
    with pytest.raises(ConfigError, match="entry 'bad' on cora: .*dropout"):
        _preset(Entry("bad", "gcn", 1, params={"dropout": 2.0})).specs(datasets=("cora",))


def test_the_chosen_configuration_is_valid_for_every_benchmark_dataset(tmp_path):
    for dataset in DATASET_ORDER:
        params, train = fathom_config(dataset)
        assert params["depth"] >= (16 if dataset in TU else 32)
    path = tmp_path / "chosen.json"
    path.write_text('{"default": {"params": {"depth": 64}, "train": {"lr": 0.01}}}')
    record_choice("texas", {"depth": 16, "dropout": 0.5}, {"lr": 0.05, "seed": 3}, "tuned", path)
    assert fathom_config("texas", path) == ({"depth": 16, "dropout": 0.5}, {"lr": 0.05})
    assert fathom_config("cora", path) == ({"depth": 64}, {"lr": 0.01})
    assert chosen_configs(path)["texas"]["how"] == "tuned"
    with pytest.raises(ConfigError, match="dropout"):
        record_choice("texas", {"dropout": 3.0}, {}, "bad", path)


def test_an_entry_carrying_another_datasets_choice_gets_its_changes_under_its_own(tmp_path):
    path = tmp_path / "chosen.json"
    path.write_text('{"default": {"params": {"depth": 64, "dropout": 0.6}, "train": {"lr": 0.01}},'
                    ' "photo": {"params": {"dropout": 0.5}, "train": {"weight_decay": 1e-4}},'
                    ' "cs": {"carried_from": "photo", "how": "carried"},'
                    ' "physics": {"carried_from": "photo", "params": {"depth": 32, "dropout": 0.3},'
                    ' "train": {"weight_decay": 5e-4}},'
                    ' "bad": {"carried_from": "cs"}}')
    assert fathom_config("cs", path) == fathom_config("photo", path) == (
        {"depth": 64, "dropout": 0.5}, {"lr": 0.01, "weight_decay": 1e-4})
    # the entry's own settings win over the ones it carries, where both set one
    assert fathom_config("physics", path) == ({"depth": 32, "dropout": 0.3}, {"lr": 0.01, "weight_decay": 5e-4})
    with pytest.raises(ConfigError, match="bad carries 'cs', which is no dataset's own entry"):
        fathom_config("bad", path)
    assert fathom_config("cs") == fathom_config("photo")  # the committed file's carried entries


def test_the_full_preset_spends_ten_seeds_on_planetoid_for_fathom_and_gcnii_only():
    runs = PRESETS["full"].specs(datasets=("cora", "chameleon"), entries=("Fathom", "APPNP"))
    main = [(label, spec) for label, spec in runs if spec.model.depth in (64, 10)]
    assert sum(spec.dataset == "cora" for label, spec in main if label == "Fathom") == 10
    assert sum(spec.dataset == "cora" for label, spec in main if label == "APPNP") == 3
    assert sum(spec.dataset == "chameleon" and spec.split is None for label, spec in main if label == "Fathom") == 3
    at_256 = [spec.train.seed for label, spec in runs if label == "Fathom" and spec.model.depth == 256
              and spec.dataset == "cora"]
    assert sorted(at_256) == list(range(10))  # on cora, where the 256-block target compares it with 64


def test_the_full_preset_gives_fathom_and_gcnii_ten_seeds_on_each_planetoid_set_and_three_elsewhere():
    seeds: dict[tuple[str, str], set[int]] = {}
    for label, spec in PRESETS["full"].specs(datasets=("cora", "citeseer", "pubmed", "chameleon"),
                                             entries=("Fathom", "GCNII", "APPNP")):
        seeds.setdefault((label, spec.dataset), set()).add(spec.train.seed)
    for dataset in ("cora", "citeseer", "pubmed", "chameleon"):
        ten = dataset != "chameleon"
        for label in ("Fathom", "GCNII"):
            assert seeds[(label, dataset)] == set(range(10 if ten else 3)), (label, dataset)
        assert seeds[("APPNP", dataset)] == {0, 1, 2}


def test_every_split_datasets_run_each_geom_gcn_split_once_at_seed_zero():
    preset = Preset("test", ("cora", "texas"), (Entry("Fathom", "deepgnn", 3, (8, 16)), Entry("GCN", "gcn", 2)),
                    max_epochs=50, patience=10, every_split=("texas",))
    runs = preset.specs()
    texas = [(label, spec.model.depth, spec.split, spec.train.seed) for label, spec in runs if spec.dataset == "texas"]
    assert texas == ([("Fathom", depth, split, 0) for depth in (8, 16) for split in range(10)]
                     + [("GCN", 2, split, 0) for split in range(10)])
    assert runs[-1][1].split_name == "geom-gcn:9"
    assert [(s.split, s.train.seed) for _, s in runs if s.dataset == "cora" and _ == "GCN"] == [(None, 0), (None, 1)]
    assert {spec.split for _, spec in PRESETS["full"].specs(datasets=("wisconsin",))} == set(range(10))
    with pytest.raises(ConfigError, match="every_split names 'cora', which has no geom-gcn splits"):
        Preset("bad", ("cora",), (), max_epochs=1, patience=1, every_split=("cora",))


def test_graph_datasets_run_the_ten_folds_at_seed_zero_for_every_entry():
    runs = PRESETS["graphs"].specs(datasets=("mutag",))
    labels = ("Fathom", "GIN", "Fathom (no early stopping)", "GIN (no early stopping)")
    assert [(label, spec.split, spec.train.seed) for label, spec in runs] == (
        [(label, fold, 0) for label in labels for fold in range(10)])
    assert runs[3][1].split_name == "fold:3" and runs[0][1].model.depth == 16
    assert len({spec.run_id for _, spec in runs}) == 40


def test_the_whole_budget_twins_differ_from_their_entries_only_in_early_stopping():
    runs = PRESETS["graphs"].specs(datasets=("proteins",))
    by_label = {}
    for label, spec in runs:
        by_label.setdefault(label, []).append(spec)
    for name in ("Fathom", "GIN"):
        for stopped, whole in zip(by_label[name], by_label[f"{name} (no early stopping)"]):
            assert stopped.train.patience == 100 and whole.train.patience is None
            assert whole.train.replace(patience=100) == stopped.train and whole.model == stopped.model
            assert (whole.split, whole.factory) == (stopped.split, stopped.factory)


def test_the_least_validation_loss_twins_differ_from_their_entries_only_in_the_selection_rule():
    runs = PRESETS["full"].specs(datasets=("cora", "citeseer", "chameleon"))
    main = {(label, spec.dataset, spec.model.depth, spec.train.seed): spec for label, spec in runs}
    twins = [(label, spec) for label, spec in runs if label.endswith("(least validation loss)")]
    depths = {(label.split()[0], spec.dataset): spec.model.depth for label, spec in twins}
    assert depths == {("Fathom", "cora"): 64, ("Fathom", "citeseer"): 64, ("GCNII", "cora"): 64,
                      ("GCNII", "citeseer"): 32}  # Planetoid only: Fathom's target depth, GCNII's published
    assert len(twins) == 40
    for label, twin in twins:
        own = main[(label.split()[0], twin.dataset, twin.model.depth, twin.train.seed)]
        assert twin.train.selection == "val_loss" and own.train.selection == "val_acc"
        assert twin.train.replace(selection="val_acc") == own.train and twin.model == own.model


def test_folds_restrict_the_graph_runs_only():
    runs = PRESETS["graphs"].specs(datasets=("nci1",), entries=("Fathom (no early stopping)",), folds=(1, 3, 9))
    assert [(label, spec.split) for label, spec in runs] == [("Fathom (no early stopping)", f) for f in (1, 3, 9)]
    node = PRESETS["quick"].specs(datasets=("cora",), folds=(1,))
    assert node == PRESETS["quick"].specs(datasets=("cora",))  # node datasets have no folds to restrict
    with pytest.raises(ConfigError, match="folds must lie in 0..9"):
        PRESETS["graphs"].specs(folds=(10,))


def _finished(runs, validation) -> pd.DataFrame:
    """The rows of finished ``runs``, each with the validation accuracy ``validation(depth, seed)``."""
    return pd.DataFrame([{**spec.row(), "status": "ok", "best_val_acc": validation(spec.model.depth, spec.train.seed)}
                         for _, spec in runs])


def test_a_curve_depth_that_validation_picks_gets_the_main_depths_seeds_once_the_curve_has_finished():
    preset = _preset(Entry("Fathom", "deepgnn", 2, (8,), seeds_on={"cora": 4}, curve={"cora": (2, 4, 8)}, curve_seeds=2))
    planned = preset.specs(datasets=("cora",))
    best_at_2 = _finished(planned, lambda depth, seed: 0.9 if depth == 2 else 0.7)
    extra = preset.confirmation_specs(best_at_2, datasets=("cora",))
    assert [(label, spec.model.depth, spec.train.seed) for label, spec in extra] == [("Fathom", 2, 2), ("Fathom", 2, 3)]
    assert {spec.run_id for _, spec in extra}.isdisjoint(spec.run_id for _, spec in planned)
    # finished confirmations stay planned runs
    assert preset.confirmation_specs(pd.concat([best_at_2, _finished(extra, lambda depth, seed: 0.9)])) == extra
    # a diverged run has finished, and the pick passes over it
    diverged = best_at_2.copy()
    diverged.loc[diverged["depth"] == 2, "status"] = "diverged"
    assert [(spec.model.depth, spec.train.seed) for _, spec in preset.confirmation_specs(diverged)] == [(4, 2), (4, 3)]
    # the main depth picked: nothing to add; a curve or extra main seed unfinished: the pick may still move
    assert preset.confirmation_specs(_finished(planned, lambda depth, seed: 0.9 if depth == 8 else 0.7)) == []
    assert preset.confirmation_specs(best_at_2[best_at_2["depth"] != 4]) == []
    assert preset.confirmation_specs(best_at_2[best_at_2["seed"] != 3]) == []
    assert preset.confirmation_specs(best_at_2.assign(status="failed")) == []
    assert preset.confirmation_specs(best_at_2, datasets=("texas",)) == []  # no curve there


def test_the_pick_is_judged_on_the_seeds_every_depth_ran_and_each_least_depth_picks_once():
    # depth 8's extra seeds validate best, but on the seeds all depths ran depth 2 leads; at >= 4, depth 4 does
    preset = _preset(Entry("Fathom", "deepgnn", 3, (8,), curve={"cora": (2, 4, 8)}, curve_seeds=2, picks=(0, 4)))
    planned = preset.specs(datasets=("cora",))
    scores = {2: 0.78, 4: 0.75, 8: 0.7}
    extra = preset.confirmation_specs(_finished(planned, lambda depth, seed: 1.0 if seed == 2 else scores[depth]))
    assert [(spec.model.depth, spec.train.seed) for _, spec in extra] == [(2, 2), (4, 2)]

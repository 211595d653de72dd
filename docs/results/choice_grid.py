"""A model's setting on one dataset, chosen on validation: its benchmark default against candidates.

Seeds 0-2 at the full preset's budget, by mean best validation accuracy (the test split chooses
nothing). Runs the benchmark's store ``docs/results/benchmark/sweep/results.csv`` holds (the default's,
which the benchmark ran first, and chosen candidates' runs copied there: the same run ids) are read
from it; the others run into ``runs/<dataset>_choice/<entry>``:

    python docs/results/choice_grid.py pubmed Fathom 2 > docs/results/pubmed_choice/results.csv
    python docs/results/choice_grid.py photo GCNII 1 > docs/results/photo_choice/gcnii_results.csv

A candidate is ``(name, model changes, training changes)`` in Fathom's terms; for GCNII the
initial residual and identity mapping are its ``alpha`` and ``theta``.
"""
import dataclasses
import sys

import pandas as pd

from fathom.benchmark.chosen import chosen_configs
from fathom.benchmark.suite import preset
from fathom.models import factory
from fathom.sweep import run_sweep


def full_supervised(name: str, alpha: float, lam: float, dropout: float = 0.5,
                    **train: float) -> tuple[str, dict, dict]:
    """GCNII's full-supervised form (Chen et al. 2020, full-supervised.py: dropout 0.5, one weight
    decay for every parameter) at initial residual ``alpha`` and identity mapping ``lam``."""
    return (name, {"initial_residual": alpha, "identity_mapping": lam, "dropout": dropout, "input_dropout": dropout},
            {"block_weight_decay": None, **train})


PHOTO_CHOICE = full_supervised("GCNII full-supervised Cora: alpha 0.2, dropout 0.5, one weight decay 1e-4",
                               0.2, 0.5, weight_decay=1e-4)
LESS_DROPOUT = full_supervised("the same with dropout 0.2", 0.2, 0.5, dropout=0.2, weight_decay=1e-4)
CANDIDATES = {
    # GCNII's semi-supervised PubMed settings (Chen et al. 2020, semi.sh: lambda 0.4, dropout 0.5, one
    # weight decay 5e-4), and their regularisation alone.
    "pubmed": [
        ("GCNII PubMed: lambda 0.4, dropout 0.5, one weight decay",
         {"identity_mapping": 0.4, "dropout": 0.5, "input_dropout": 0.5}, {"block_weight_decay": None}),
        ("dropout 0.5, one weight decay (lambda 0.5)", {"dropout": 0.5, "input_dropout": 0.5},
         {"block_weight_decay": None}),
    ],
    # Photo's split is full-supervised (60/20/20): GCNII's full-supervised Cora setting (full.sh: alpha
    # 0.2, lambda 0.5, dropout 0.5, one weight decay 1e-4), Cora being the homophilous set it tuned; and
    # the same with dropout 0.2, which validation chose on Computers.
    "photo": [PHOTO_CHOICE, LESS_DROPOUT],
    # Computers carries Photo's choice (its reference here, not the Cora settings), under which both deep
    # models stop at training losses of 0.40-0.48 against JKNet's 0.23-0.31: the same with dropout 0.2.
    "computers": [PHOTO_CHOICE, LESS_DROPOUT],
    # GCNII's full-supervised settings for the heterophilous sets it tuned (Cornell/Wisconsin: alpha 0.5,
    # lambda 1.0; Texas: lambda 1.5) and a stronger initial residual (alpha 0.9).
    "actor": [
        full_supervised("full-supervised a=0.5 l=1.0", 0.5, 1.0),
        full_supervised("full-supervised a=0.5 l=1.5", 0.5, 1.5),
        full_supervised("a=0.9 l=1.0", 0.9, 1.0),
    ],
    # Its Chameleon setting (Squirrel's sister Wikipedia graph), its Cornell/Wisconsin setting, and the
    # setting validation chose on Actor.
    "squirrel": [
        full_supervised("chameleon a=0.2 l=1.5", 0.2, 1.5),
        full_supervised("a=0.5 l=1.0", 0.5, 1.0),
        full_supervised("a=0.9 l=1.0", 0.9, 1.0),
    ],
}
GCNII_NAMES = {"initial_residual": "alpha", "identity_mapping": "theta"}
SEEDS = range(3)
DEFAULT = "default (the model's Cora settings)"
BENCHMARK_STORE = "docs/results/benchmark/sweep/results.csv"  # every run the benchmark made
COLUMNS = ["candidate", "run_id", "initial_residual", "identity_mapping", "alpha", "theta", "dropout",
           "input_dropout", "weight_decay", "block_weight_decay", "seed", "best_val_acc", "test_acc_at_best_val",
           "best_epoch", "epochs_run", "epoch_seconds"]


def default_specs(dataset: str, entry: str) -> list:
    """The entry's benchmark runs on ``dataset`` (seeds 0-2) under its default setting, the one
    before any choice for the dataset: each model's Cora settings."""
    full = preset("full")
    row = next(e for e in full.entries if e.label == entry)
    params, train = row.settings("cora")
    train = {k: v for k, v in train.items() if k not in ("epochs", "patience")}  # the preset's budget
    runs = full.specs("../shared/datasets", datasets=(dataset,), entries=(entry,))
    return [dataclasses.replace(spec, model=factory(row.factory).params(**{**params, "depth": spec.model.depth}),
                                train=spec.train.replace(**train))
            for label, spec in runs if label == entry and spec.train.seed in SEEDS]


def candidate_specs(dataset: str, entry: str) -> list[tuple[str, object]]:
    """``(candidate name, run)`` for each candidate and seed."""
    made = []
    for name, model_changes, train_changes in CANDIDATES[dataset]:
        if entry != "Fathom":
            model_changes = {GCNII_NAMES.get(k, k): v for k, v in model_changes.items() if k != "input_dropout"}
        made += [(name, dataclasses.replace(spec, model=spec.model.replace(**model_changes),
                                            train=spec.train.replace(**train_changes)))
                 for spec in default_specs(dataset, entry)]
    return made


def choice_table(dataset: str, entry: str, workers: int) -> pd.DataFrame:
    """One row per run of the default (where the dataset carries no other's choice) and the candidates,
    seeds 0-2. A run the benchmark's store holds (its own default runs, and chosen candidates' runs
    copied there) is read from it; the others run."""
    carries = "carried_from" in chosen_configs().get(dataset, {})  # its reference is the carried choice
    named = [] if carries else [(DEFAULT, spec) for spec in default_specs(dataset, entry)]
    named += candidate_specs(dataset, entry)
    stored = pd.read_csv(BENCHMARK_STORE)
    stored = stored[stored.run_id.isin([spec.run_id for _, spec in named])]
    todo = [spec for _, spec in named if spec.run_id not in set(stored.run_id)]
    ran = run_sweep(todo, f"runs/{dataset}_choice/{entry}", workers=workers, progress=False) if todo else None
    rows = pd.concat([stored, ran]).set_index("run_id").loc[[spec.run_id for _, spec in named]].reset_index()
    rows.insert(0, "candidate", [name for name, _ in named])
    return rows.reindex(columns=COLUMNS).dropna(axis=1, how="all")


if __name__ == "__main__":
    dataset, entry, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(choice_table(dataset, entry, workers).to_csv(index=False))

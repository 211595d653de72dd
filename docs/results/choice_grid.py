"""A model's setting on one dataset, chosen on validation: its benchmark default against candidates.

Seeds 0-2 at the full preset's budget, by mean best validation accuracy (the test split chooses
nothing). The default's runs are the benchmark's own (the same run ids), read from its store
``docs/results/benchmark/sweep/results.csv``; the candidates run into ``runs/<dataset>_choice/<entry>``:

    python docs/results/choice_grid.py pubmed Fathom 2 > docs/results/pubmed_choice/results.csv
    python docs/results/choice_grid.py photo GCNII 1 > docs/results/photo_choice/gcnii_results.csv

A candidate is ``(name, model changes, training changes)`` in Fathom's terms; for GCNII the
initial residual and identity mapping are its ``alpha`` and ``theta``.
"""
import dataclasses
import sys

import pandas as pd

from fathom.benchmark.suite import preset
from fathom.models import factory
from fathom.sweep import run_sweep

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
    # 0.2, lambda 0.5, dropout 0.5, one weight decay 1e-4), Cora being the homophilous set it tuned.
    "photo": [
        ("GCNII full-supervised Cora: alpha 0.2, dropout 0.5, one weight decay 1e-4",
         {"initial_residual": 0.2, "identity_mapping": 0.5, "dropout": 0.5, "input_dropout": 0.5},
         {"weight_decay": 1e-4, "block_weight_decay": None}),
    ],
}
GCNII_NAMES = {"initial_residual": "alpha", "identity_mapping": "theta"}
SEEDS = range(3)
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


if __name__ == "__main__":
    dataset, entry, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    benchmark = pd.read_csv("docs/results/benchmark/sweep/results.csv").set_index("run_id")  # every run it made
    default = benchmark.loc[[spec.run_id for spec in default_specs(dataset, entry)]].reset_index()
    default.insert(0, "candidate", "default (the model's Cora settings)")
    named = candidate_specs(dataset, entry)
    rows = run_sweep([spec for _, spec in named], f"runs/{dataset}_choice/{entry}", workers=workers, progress=False)
    names = {spec.run_id: name for name, spec in named}
    rows = rows.set_index("run_id").loc[list(names)].reset_index()  # in the candidates' order
    rows.insert(0, "candidate", rows.run_id.map(names))
    print(pd.concat([default, rows]).reindex(columns=COLUMNS).dropna(axis=1, how="all").to_csv(index=False))

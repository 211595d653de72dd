"""Fathom on PubMed-approx: its default against GCNII's published PubMed settings, on validation.

Seeds 0-2 at the full preset's budget (64 blocks, at most 1000 epochs, patience 100), chosen by mean
best validation accuracy (the test split chooses nothing). The default's runs are the benchmark's own
(same run ids), read from ``docs/results/benchmark/results.csv``; the candidates run here:

    python docs/results/pubmed_choice/grid.py 2 > docs/results/pubmed_choice/results.csv
"""
import dataclasses
import sys

import pandas as pd

from fathom.benchmark.suite import preset
from fathom.sweep import run_sweep

# GCNII's semi-supervised PubMed settings (Chen et al. 2020, the authors' semi.sh: lambda 0.4,
# dropout 0.5, one weight decay 5e-4 for all parameters), and their regularisation alone.
CANDIDATES = {
    "GCNII PubMed: lambda 0.4, dropout 0.5, one weight decay": {"identity_mapping": 0.4, "dropout": 0.5,
                                                                 "input_dropout": 0.5},
    "dropout 0.5, one weight decay (lambda 0.5)": {"dropout": 0.5, "input_dropout": 0.5},
}
SEEDS = range(3)
COLUMNS = ["candidate", "run_id", "identity_mapping", "dropout", "input_dropout", "weight_decay", "block_weight_decay",
           "seed", "best_val_acc", "test_acc_at_best_val", "best_epoch", "epochs_run", "epoch_seconds"]


def default_specs() -> list:
    runs = preset("full").specs("../shared/datasets", datasets=("pubmed",), entries=("Fathom",))
    return [spec for label, spec in runs if label == "Fathom" and spec.train.seed in SEEDS]


def candidate_specs() -> list:
    return [dataclasses.replace(spec, model=spec.model.replace(**change), train=spec.train.replace(block_weight_decay=None))
            for change in CANDIDATES.values() for spec in default_specs()]


if __name__ == "__main__":
    benchmark = pd.read_csv("docs/results/benchmark/results.csv").set_index("run_id")
    default = benchmark.loc[[spec.run_id for spec in default_specs()]].reset_index()
    default.insert(0, "candidate", "default (GCNII's Cora settings)")
    specs = candidate_specs()
    rows = run_sweep(specs, "runs/pubmed_choice", workers=int(sys.argv[1]), progress=False)
    names = {spec.run_id: name for spec, name in zip(specs, (name for name in CANDIDATES for _ in SEEDS))}
    rows.insert(0, "candidate", rows.run_id.map(names))
    rows = rows.set_index("run_id").loc[list(names)].reset_index()  # in the candidates' order
    print(pd.concat([default, rows])[COLUMNS].to_csv(index=False))

"""The NCI1 candidates, read from the graphs benchmark's own runs (its store keeps every run).

    python docs/results/tu_choice/nci1_choice.py

Each candidate changes one setting of the incumbent of its time: first of the configuration the
benchmark first ran on NCI1 (16 blocks, width 64, weight decay 5e-4, batch size 32, the sum readout;
the rest as ``chosen.json``), then of width 32 once validation chose it. Its runs are the benchmark's
runs of that configuration (``fathom benchmark --preset graphs --datasets nci1 --folds ...`` with
``chosen.json``, or for the depth the preset's Fathom entry, set to it). Validation chooses: the mean over folds 0-4 of each fold's best
validation accuracy under the preset's early stopping (patience 100). A candidate trained without early
stopping is read under it by cutting its history where the stop would have come: training before the
stop does not depend on it (``fathom.benchmark.protocols``). Test accuracy is printed, never used.
"""
import sys

import pandas as pd

from fathom.benchmark.suite import preset
from fathom.sweep.store import ResultStore
from fathom.train.fit import stale

STORE = ResultStore("docs/results/graph_classification/sweep")
PATIENCE = 100
FIRST = {"depth": 16, "width": 64, "weight_decay": 5e-4, "batch_size": 32}  # the configuration the benchmark first ran on NCI1
CANDIDATES = {  # label: (changes from FIRST, trained with early stopping)
    "width 64, weight decay 5e-4 (the first runs)": ({}, True),
    "weight decay 0 (GIN's)": ({"weight_decay": 0.0}, False),
    "weight decay 1e-3": ({"weight_decay": 1e-3}, True),
    "width 32 (GIN's grid: 16 or 32 on these sets)": ({"width": 32}, True),
    "batch size 128 at width 32 (GIN's grid: 32 or 128)": ({"width": 32, "batch_size": 128}, True),
    "32 blocks at width 32": ({"depth": 32, "width": 32}, True),
    "width 16 (GIN's grid's other width)": ({"width": 16}, True),
}


def early_stopped(history: pd.DataFrame, patience: int = PATIENCE) -> pd.DataFrame:
    """The history up to the epoch where early stopping on validation accuracy stops it, as ``fit`` does."""
    epochs = history.to_dict("records")
    end = next((n for n in range(1, len(epochs) + 1) if stale(epochs[:n], patience)), len(epochs))
    return history.iloc[:end]


def read(changes: dict, stopping: bool, folds: range) -> pd.DataFrame:
    rows, finished = [], STORE.finished_ids()
    for _, spec in preset("graphs").specs(None, ("nci1",), ("Fathom",)):
        if spec.split not in folds:
            continue
        settings = {**FIRST, **changes}
        train = spec.train.replace(weight_decay=settings["weight_decay"], batch_size=settings["batch_size"],
                                   patience=PATIENCE if stopping else None)
        model = spec.model.replace(depth=settings["depth"], width=settings["width"])
        run = spec.__class__(spec.dataset, model, train, split=spec.split, factory=spec.factory, features=spec.features)
        if run.run_id not in finished:
            continue  # not run on this fold, or stopped by hand
        history = early_stopped(STORE.metrics(run.run_id))
        best = history["val_acc"].idxmax()
        rows.append({"fold": spec.split, "run_id": run.run_id, "epochs": len(history),
                     "best_val_acc": history.loc[best, "val_acc"], "test_acc_at_best_val": history.loc[best, "test_acc"],
                     "final_train_loss": history["train_loss"].iloc[-1]})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    folds = range(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    for label, (changes, stopping) in CANDIDATES.items():
        table = read(changes, stopping, folds)
        if table.empty:
            continue
        print(f"\n{label}: {len(table)} folds, validation {table['best_val_acc'].mean():.4f} "
              f"({round((table['best_val_acc'] * 370).sum())} graphs), test {table['test_acc_at_best_val'].mean():.4f}")
        print(table.to_string(index=False))

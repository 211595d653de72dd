"""The leaderboard: test accuracy at best validation, mean ± std over seeds, model x dataset.

For each model and dataset the depth shown is the one with the best mean *validation* accuracy
over the seeds (or folds) that every depth ran;
test accuracy is only ever read at that depth and at each run's best validation epoch.
"""

from __future__ import annotations

import pandas as pd

from ..report.markdown import markdown_table

ACCURACY = "test_acc_at_best_val"
SELECTION = "best_val_acc"


RUN_KEYS = ("seed", "split")  # what makes runs of one entry at two depths the same run but for depth


def chosen_depths(frame: pd.DataFrame) -> pd.DataFrame:
    """The finished runs of each (entry, dataset) at the depth of best mean validation accuracy
    (the shallower one on a tie), the depths compared on the runs (seeds, folds) that all of them
    finished, so that a depth run on more seeds is not judged on different ones; the chosen depth
    keeps all its runs."""
    ok = frame[frame["status"] == "ok"]
    if ok.empty:
        return ok
    best = [(entry, dataset, depth_of_best_validation(runs))
            for (entry, dataset), runs in ok.groupby(["entry", "dataset"])]
    return ok.merge(pd.DataFrame(best, columns=["entry", "dataset", "depth"]), on=["entry", "dataset", "depth"])


def depth_of_best_validation(runs: pd.DataFrame) -> int:
    """The depth of best mean validation accuracy among one model's finished ``runs`` on one dataset,
    compared on the runs (seeds, folds, splits) that every depth finished; the shallower on a tie."""
    keys = [column for column in RUN_KEYS if column in runs]
    if keys:
        run = runs[keys].astype(str).agg("|".join, axis=1)
        shared = set.intersection(*(set(group) for _, group in run.groupby(runs["depth"])))
        if shared:
            runs = runs[run.isin(shared)]
    means = runs.groupby("depth")[SELECTION].mean()
    return means[means == means.max()].index.min()


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (entry, dataset) at its chosen depth: depth, seeds, the mean and std of the
    test accuracy (in %), the median epoch time (ms) and the median peak memory (MB)."""
    chosen = chosen_depths(frame)
    if chosen.empty:
        return pd.DataFrame(columns=["entry", "dataset", "depth", "seeds", "mean", "std", "epoch_ms", "peak_mb"])
    grouped = chosen.groupby(["entry", "dataset"])
    table = grouped.agg(depth=("depth", "first"), seeds=(ACCURACY, "size"), mean=(ACCURACY, "mean"),
                        std=(ACCURACY, "std"), epoch_ms=("epoch_seconds", "median"),
                        peak_mb=("peak_memory_mb", "median")).reset_index()
    table[["mean", "std"]] = table[["mean", "std"]] * 100
    table["epoch_ms"] = table["epoch_ms"] * 1000
    return table


def _grid(table: pd.DataFrame, cell, entries: list[str], datasets: list[str], bold_best: bool) -> pd.DataFrame:
    present = [d for d in datasets if d in set(table["dataset"])]
    rows = []
    for entry in entries:
        row = {"model": entry}
        for dataset in present:
            match = table[(table["entry"] == entry) & (table["dataset"] == dataset)]
            row[dataset] = cell(match.iloc[0]) if len(match) else "–"
            if bold_best and len(match):
                best = table.loc[(table["dataset"] == dataset) & table["entry"].isin(entries), "mean"].max()
                if match.iloc[0]["mean"] == best:
                    row[dataset] = f"**{row[dataset]}**"
        rows.append(row)
    return pd.DataFrame(rows, columns=["model", *present])


def _accuracy_cell(row: pd.Series) -> str:
    spread = "" if pd.isna(row["std"]) else f" ± {row['std']:.1f}"
    return f"{row['mean']:.1f}{spread} (L={int(row['depth'])}, n={int(row['seeds'])})"


def _cost_cell(row: pd.Series) -> str:
    memory = "–" if pd.isna(row["peak_mb"]) else f"{row['peak_mb']:.0f} MB"
    return f"{row['epoch_ms']:.0f} ms, {memory}"


def leaderboard_tables(frame: pd.DataFrame, entries: list[str], datasets: list[str]) -> tuple[str, str]:
    """Markdown: the accuracy table (best mean per dataset in bold, among ``entries``) and the
    cost table (median epoch time and peak memory at the same depths)."""
    table = summary(frame)
    present = [e for e in entries if e in set(table["entry"])]
    accuracy = _grid(table, _accuracy_cell, present, datasets, bold_best=True)
    cost = _grid(table, _cost_cell, present, datasets, bold_best=False)
    return markdown_table(accuracy), markdown_table(cost)

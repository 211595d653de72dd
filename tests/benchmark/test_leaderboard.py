"""The leaderboard renderer on a tiny results table with known means."""

from __future__ import annotations

import pandas as pd

from fathom.benchmark.leaderboard import leaderboard_tables, summary


def _rows(entry, dataset, depth, vals, tests, status="ok"):
    return [{"entry": entry, "dataset": dataset, "depth": depth, "status": status, "best_val_acc": v,
             "test_acc_at_best_val": t, "epoch_seconds": 0.02, "peak_memory_mb": 500.0}
            for v, t in zip(vals, tests)]


FRAME = pd.DataFrame(
    _rows("A", "cora", 2, [0.80, 0.82], [0.70, 0.72])       # val 0.81 at depth 2
    + _rows("A", "cora", 64, [0.85, 0.87], [0.80, 0.84])    # val 0.86: chosen, test mean 82.0, std 2.83
    + _rows("B", "cora", 2, [0.90, 0.90], [0.81, 0.83])     # test 82.0: ties A's mean
    + _rows("B", "cora", 8, [0.99], [0.99], status="failed")  # failed runs never count
    + _rows("A", "texas", 16, [0.5, 0.6, 0.7], [0.50, 0.60, 0.70])
    + _rows("B", "texas", 2, [0.4], [0.90]))                # best test, worse validation: B's only depth


def test_the_depth_shown_is_chosen_on_validation_and_failed_runs_are_ignored():
    shallow_wins = pd.DataFrame(_rows("C", "cora", 2, [0.9], [0.5]) + _rows("C", "cora", 64, [0.8], [0.9]))
    chosen = summary(shallow_wins).iloc[0]
    assert chosen["depth"] == 2 and chosen["mean"] == 50.0  # validation decides, never test or depth
    tie = pd.DataFrame(_rows("C", "cora", 64, [0.8], [0.9]) + _rows("C", "cora", 2, [0.8], [0.5]))
    chosen = summary(tie).iloc[0]
    assert chosen["depth"] == 2 and chosen["mean"] == 50.0  # a validation tie goes to the shallower depth
    table = summary(FRAME).set_index(["entry", "dataset"])
    assert table.loc[("A", "cora"), "depth"] == 64
    assert table.loc[("A", "cora"), "mean"] == 82.0
    assert round(table.loc[("A", "cora"), "std"], 2) == 2.83
    assert table.loc[("B", "cora"), "depth"] == 2 and table.loc[("B", "cora"), "seeds"] == 2
    assert table.loc[("A", "texas"), "mean"] == 60.0


def test_depths_are_compared_on_the_seeds_and_folds_they_share():
    def runs(depth, vals, splits="public"):
        return [{**row, "seed": seed, "split": splits if isinstance(splits, str) else splits[seed]}
                for seed, row in enumerate(_rows("C", "citeseer", depth, vals, [0.7] * len(vals)))]

    # depth 64 wins on seeds 0-1 (0.74 against 0.73), its eight more seeds pull its mean under 256's
    frame = pd.DataFrame(runs(64, [0.75, 0.73] + [0.72] * 8) + runs(256, [0.735, 0.725]))
    chosen = summary(frame).iloc[0]
    assert chosen["depth"] == 64 and chosen["seeds"] == 10  # the chosen depth keeps all its seeds
    # folds are runs too: fold 1 at depth 16 is not fold 1 at depth 8
    folds = pd.DataFrame(runs(8, [0.9, 0.5], ["fold:0", "fold:1"]) + runs(16, [0.8, 0.8], ["fold:0", "fold:2"]))
    assert summary(folds).iloc[0]["depth"] == 8  # shared: fold 0 only, 0.9 > 0.8
    apart = pd.DataFrame(runs(8, [0.6]) + [{**runs(16, [0.9])[0], "seed": 5}])  # nothing shared: all runs
    assert summary(apart).iloc[0]["depth"] == 16


def test_cells_show_mean_std_depth_seeds_and_the_best_per_dataset_is_bold():
    accuracy, cost = leaderboard_tables(FRAME, ["A", "B"], ["cora", "citeseer", "texas"])
    lines = accuracy.splitlines()
    assert lines[0] == "| model | cora | texas |"  # datasets without results are left out
    assert lines[2] == "| A | **82.0 ± 2.8 (L=64, n=2)** | 60.0 ± 10.0 (L=16, n=3) |"
    assert lines[3] == "| B | **82.0 ± 1.4 (L=2, n=2)** | **90.0 (L=2, n=1)** |"
    assert "| A | 20 ms, 500 MB | 20 ms, 500 MB |" in cost

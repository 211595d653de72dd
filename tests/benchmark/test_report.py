"""The benchmark's target claims: each passes or fails by its stated rule on a results table."""

from __future__ import annotations

import pandas as pd

from fathom.benchmark.report import PUBLISHED_GIN, target_claims


def _rows(entry, dataset, depth, tests):
    return [{"entry": entry, "dataset": dataset, "depth": depth, "status": "ok", "best_val_acc": 0.5,
             "test_acc_at_best_val": t, "epoch_seconds": 0.01, "peak_memory_mb": 100.0} for t in tests]


def test_the_gcnii_target_needs_its_accuracy_and_ten_seeds():
    reached = _rows("Fathom", "cora", 64, [0.86] * 10) + _rows("GCNII", "cora", 64, [0.84] * 3)
    claims = target_claims(pd.DataFrame(reached), ["cora"])
    assert [c.passed for c in claims] == [True, True]  # 86 >= 85.5 over 10 seeds; 86 >= GCNII's 84
    short = _rows("Fathom", "cora", 64, [0.86] * 9) + _rows("GCNII", "cora", 64, [0.87] * 3)
    assert [c.passed for c in target_claims(pd.DataFrame(short), ["cora"])] == [False, False]


def test_the_gin_spread_target_fails_below_the_published_mean_minus_std_or_short_of_ten_folds():
    mean, std = PUBLISHED_GIN["proteins"]
    inside = (mean - std + 0.2) / 100
    below = (mean - std - 0.2) / 100

    def claim(tests, depth=16):
        claims = [c for c in target_claims(pd.DataFrame(_rows("Fathom", "proteins", depth, tests)), ["proteins"])
                  if "GIN" in c.statement]
        assert len(claims) == 1 and f"mean >= {mean - std:.1f}" in claims[0].statement
        return claims[0].passed

    assert claim([inside] * 10)
    assert not claim([below] * 10)
    assert not claim([inside] * 9)  # every fold must have run
    assert not [c for c in target_claims(pd.DataFrame(_rows("Fathom", "proteins", 8, [inside] * 10)), ["proteins"])
                if "GIN" in c.statement]  # a shallow Fathom is not the deep model the target is about


def test_what_ran_counts_runs_and_sums_their_training_time():
    from fathom.benchmark.report import _progress
    from fathom.config import ModelConfig, TrainConfig
    from fathom.sweep import RunSpec

    planned = [("Fathom", RunSpec("cora", ModelConfig(depth=4), TrainConfig(seed=seed))) for seed in range(3)]
    rows = [{**row, "status": status, "seconds": seconds}
            for row, status, seconds in zip(_rows("Fathom", "cora", 4, [0.8, 0.8, 0.8]), ["ok", "ok", "failed"],
                                            [60.0, 120.0, 999.0])]
    progress = _progress(planned, pd.DataFrame(rows)).iloc[0]
    assert (progress["finished"], progress["failed"], progress["planned"]) == (2, 1, 3)
    assert progress["training min"] == 3.0 and progress["median run s"] == 90  # the failed run's time is not counted

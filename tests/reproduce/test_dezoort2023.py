import itertools

import pandas as pd
import pytest

from fathom.reproduce import dezoort2023 as experiment
from fathom.reproduce.dezoort2023 import BASELINE, PRINCIPLED, Protocol, check_claims

PROTOCOL = Protocol(datasets=("csbm",), aggregations=("sum",), depths=(16, 32), seeds=5)


def synthetic_results(principled_epochs, baseline_epochs, gnn_he_status="ok"):
    """All 8 switch combinations x 2 depths x 5 seeds; only the fields the claims read."""
    rows = []
    for depth, init, a, residual, seed in itertools.product((16, 32), ("glorot", "gnn_he"), (0.0, 0.5),
                                                           ("none", "fixup"), range(5)):
        switches = {"init": init, "residual_aggregation": a, "residual": residual}
        epochs = principled_epochs[seed] if switches == PRINCIPLED else \
            baseline_epochs[seed] if switches == BASELINE else 50.0
        glorot_vanilla = init == "glorot" and residual == "none"
        status = gnn_he_status if init == "gnn_he" else "ok"
        auc = 0.2 if switches == PRINCIPLED else 1e20 if switches == BASELINE else 0.5
        rows.append({"dataset": "csbm", "aggregation": "sum", "depth": depth, **switches, "seed": seed,
                     "num_classes": 4, "initial_train_loss": 1.4, "status": status,
                     "loss_at_50": 1e20 if glorot_vanilla else 0.3,
                     "loss_auc": float("nan") if status == "diverged" else auc,
                     "epochs_to_target": epochs})
    return pd.DataFrame(rows)


def verdicts(claims):
    return [claim.passed for claim in claims]


def test_claims_pass_when_the_principles_win():
    claims = check_claims(synthetic_results([10, 12, 11, 10, 90], [40, float("nan"), 30, 50, 20]), PROTOCOL)
    assert verdicts(claims) == [True, True, True, True, True]
    assert "faster in 4 of 5 seeds" in claims[1].evidence
    assert "PyG default [40, never, 30, 50, 20]" in claims[1].evidence


def test_claims_fail_when_the_data_says_so():
    claims = check_claims(synthetic_results([10, 40, 41, 10, 90], [40, 30, 30, 50, 20], gnn_he_status="diverged"),
                          PROTOCOL)
    assert claims[0].passed is False and "gnn_he diverged in 20 runs" in claims[0].evidence
    assert claims[1].passed is False and "faster in 2 of 5 seeds" in claims[1].evidence
    # gnn_he alone "diverged" everywhere: its area is infinite, so the init principle does not help.
    assert claims[2].passed is False and "does not in: csbm/sum/L=16" in claims[2].evidence


def test_tiny_end_to_end_run_writes_the_report(tmp_path):
    tiny = Protocol(datasets=("karate",), aggregations=("gcn", "sum"), depths=(2, 32), seeds=2, epochs=8, width=8,
                    target_loss=1.0, lr_candidates=(0.01, 0.03), lr_search_depth=2)
    report = experiment.run(tmp_path, protocol=tiny, progress=False)
    text = report.read_text()
    assert "## Claim checks (computed from the results)" in text
    assert text.count("**PASS**") + text.count("**FAIL**") == 1 + 2 + 3  # claim 1, claim 2 per depth-32 cell, 3
    assert (tmp_path / "loss_karate_sum.png").is_file() and (tmp_path / "env.json").is_file()
    assert len(pd.read_csv(tmp_path / "sweep" / "results.csv")) == 8 * 2 * 2 * 2
    assert len(pd.read_csv(tmp_path / "lr_search" / "results.csv")) == 8 * 2


def test_report_only_rerenders_from_the_stored_runs(tmp_path):
    tiny = Protocol(datasets=("karate",), aggregations=("gcn",), depths=(2, 32), seeds=1, epochs=4, width=8,
                    lr_candidates=(0.01,), lr_search_depth=2)
    experiment.run(tmp_path, protocol=tiny, progress=False)
    (tmp_path / "report.md").unlink()
    report = experiment.run(tmp_path, protocol=tiny, progress=False, report_only=True).read_text()
    assert "re-rendered from the stored runs" in report and ("**PASS**" in report or "**FAIL**" in report)
    empty = tmp_path / "empty"
    with pytest.raises(FileNotFoundError, match="run the reproduction first"):
        experiment.run(empty, protocol=tiny, report_only=True)

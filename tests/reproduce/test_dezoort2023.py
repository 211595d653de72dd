import itertools

import pandas as pd
import pytest

from fathom.reproduce import dezoort2023 as experiment
from fathom.reproduce.dezoort2023 import BASELINE, PRINCIPLED, Protocol, check_claims, combination_name, ranking

PROTOCOL = Protocol(datasets=("csbm",), aggregations=("sum",), depths=(16, 32), seeds=5)


def synthetic_results(principled_epochs, baseline_epochs, gnn_he_status="ok", gnn_he_loss_at_50=0.3,
                      other_epochs=None):
    """All 8 switch combinations x 2 depths x 5 seeds; only the fields the claims read.

    ``other_epochs`` maps a combination's name to its epochs to target (default 50 for all seeds).
    Glorot without residual connections stalls (loss 1e20 at epoch 50); the PyG default's seed 0 diverges.
    """
    other_epochs = other_epochs or {}
    rows = []
    for depth, init, a, residual, seed in itertools.product((16, 32), ("glorot", "gnn_he"), (0.0, 0.5),
                                                           ("none", "fixup"), range(5)):
        switches = {"init": init, "residual_aggregation": a, "residual": residual}
        name = combination_name(switches)
        epochs = principled_epochs[seed] if switches == PRINCIPLED else \
            baseline_epochs[seed] if switches == BASELINE else other_epochs.get(name, [50.0] * 5)[seed]
        glorot_vanilla = init == "glorot" and residual == "none"
        status = gnn_he_status if init == "gnn_he" else "diverged" if switches == BASELINE and seed == 0 else "ok"
        auc = 0.2 if switches == PRINCIPLED else 1e20 if switches == BASELINE else 0.5
        rows.append({"dataset": "csbm", "aggregation": "sum", "depth": depth, **switches, "seed": seed,
                     "num_classes": 4, "initial_train_loss": 1.4, "status": status,
                     "loss_at_50": 1e20 if glorot_vanilla else gnn_he_loss_at_50 if init == "gnn_he" else 0.3,
                     "loss_auc": float("nan") if status == "diverged" else auc,
                     "epochs_to_target": epochs})
    return pd.DataFrame(rows)


def verdicts(claims):
    return [claim.passed for claim in claims]


def test_claims_pass_when_the_principles_win():
    claims = check_claims(synthetic_results([10, 12, 11, 10, 90], [40, float("nan"), 30, 50, 20]), PROTOCOL)
    assert verdicts(claims) == [True, True, True, True, True, True]
    assert "in those cells gnn_he failed in 0 of 20 runs" in claims[0].evidence
    assert "glorot diverged in 2 runs" in claims[1].evidence
    assert "ranked 1 of 8" in claims[2].evidence and claims[2].evidence.index("gnn_he + a=0.5 + fixup 26.6") \
        < claims[2].evidence.index("glorot + fixup 50.0")


def test_claims_fail_when_the_data_says_so():
    claims = check_claims(synthetic_results([10, 40, 41, 10, 90], [40, 30, 30, 50, 20], gnn_he_status="diverged"),
                          PROTOCOL)
    assert claims[0].passed is False and "gnn_he failed in 20 of 20 runs" in claims[0].evidence
    assert claims[1].passed is False and "gnn_he diverged in 10 of 10 runs" in claims[1].evidence
    assert claims[2].passed is False and "ranked 2 of 8; beaten by glorot (no fix) (34.0 vs 38.2" in claims[2].evidence
    # gnn_he alone "diverged" everywhere: its area is infinite, so the init principle does not help.
    assert claims[3].passed is False and "does not in: csbm/sum/L=16" in claims[3].evidence


def test_a_stall_is_a_failure_for_gnn_he_as_for_glorot():
    """gnn_he never diverges but is no better than chance at epoch 50: the same rule that fails
    glorot fails it (the check once counted only divergence against gnn_he)."""
    claims = check_claims(synthetic_results([10] * 5, [40] * 5, gnn_he_loss_at_50=1.3), PROTOCOL)  # 1.3 > 0.9 ln 4
    assert claims[0].passed is False and "gnn_he failed in 20 of 20 runs" in claims[0].evidence
    assert claims[1].passed is True  # divergence alone: gnn_he never diverged


def test_the_full_combination_must_beat_every_pair_and_single_fix():
    """Beating the PyG default is not enough: a pair that is faster fails claim (2) and is named."""
    pair = {"glorot + fixup": [8, 9, 10, 11, 12]}
    claims = check_claims(synthetic_results([10, 10, 10, 10, 10], [float("nan")] * 5, other_epochs=pair), PROTOCOL)
    assert claims[2].passed is True and "ranked 1 of 8" in claims[2].evidence  # equal means: a tie counts as fastest
    pair = {"glorot + fixup": [8, 9, 10, 10, 10]}
    claims = check_claims(synthetic_results([10, 10, 10, 10, 10], [float("nan")] * 5, other_epochs=pair), PROTOCOL)
    assert claims[2].passed is False
    assert "beaten by glorot + fixup (9.4 vs 10.0; faster in 2, tied in 3 of 5 seeds)" in claims[2].evidence


def test_claims_with_nothing_to_compare_fail():
    """(1)/(1b) need failing glorot runs and gnn_he runs beside them; (2) needs the full combination's runs."""
    results = synthetic_results([10] * 5, [40] * 5)
    glorot = results["init"] == "glorot"
    healthy = results.copy()
    healthy.loc[glorot, ["loss_at_50", "status", "loss_auc"]] = [0.3, "ok", 0.5]
    claims = check_claims(healthy, PROTOCOL)
    assert claims[0].passed is False and "(vacuous: glorot never failed)" in claims[0].evidence
    assert claims[1].passed is False and "(vacuous: glorot never diverged)" in claims[1].evidence
    alone = check_claims(results[glorot], PROTOCOL)  # no gnn_he run anywhere
    assert alone[0].passed is False and "failed in 0 of 0 runs" in alone[0].evidence
    assert "(vacuous: no gnn_he runs in those cells)" in alone[0].evidence and alone[1].passed is False
    full = (results["init"] == "gnn_he") & (results["residual_aggregation"] == 0.5) & (results["residual"] == "fixup")
    missing = check_claims(results[~(full & (results["depth"] == 32))], PROTOCOL)
    assert missing[2].passed is False and "no runs of gnn_he + a=0.5 + fixup in this cell" in missing[2].evidence


def test_the_failure_rule_is_90_percent_of_ln_classes():
    """ln 4 = 1.386: a loss of 1.2 at epoch 50 is under 0.9 ln 4 = 1.248, 1.3 is over it."""
    claims = check_claims(synthetic_results([10] * 5, [40] * 5, gnn_he_loss_at_50=1.2), PROTOCOL)
    assert claims[0].passed is True
    claims = check_claims(synthetic_results([10] * 5, [40] * 5, gnn_he_loss_at_50=1.3), PROTOCOL)
    assert claims[0].passed is False


def test_ranking_orders_by_mean_then_by_seeds_that_reached_the_target_and_ties_share_a_rank():
    nan = float("nan")
    other = {"gnn_he + fixup": [10] * 5, "glorot + fixup": [5, nan, 5, 5, 5],
             "glorot + a=0.5 + fixup": [7, nan, nan, 7, 7]}
    frame = synthetic_results([10] * 5, [nan] * 5, other_epochs=other)
    table = ranking(frame[frame["depth"] == 32]).set_index("combination")
    assert table.loc["gnn_he + a=0.5 + fixup", "rank"] == table.loc["gnn_he + fixup", "rank"] == 1
    assert table.loc["glorot + fixup", "rank"] < table.loc["glorot + a=0.5 + fixup", "rank"] \
        < table.loc["glorot (no fix)", "rank"]  # 4 of 5 reached before 3 of 5, before never


def test_tiny_end_to_end_run_writes_the_report(tmp_path):
    tiny = Protocol(datasets=("karate",), aggregations=("gcn", "sum"), depths=(2, 32), seeds=2, epochs=8, width=8,
                    target_loss=1.0, lr_candidates=(0.01, 0.03), lr_search_depth=2)
    report = experiment.run(tmp_path, protocol=tiny, progress=False)
    text = report.read_text()
    assert "## Claim checks (computed from the results)" in text
    assert text.count("**PASS**") + text.count("**FAIL**") == 2 + 2 + 3  # claims 1 and 1b, claim 2 per depth-32 cell, 3
    assert "## Ranking of the eight combinations" in text
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


def test_report_only_keeps_the_figures_when_the_run_directories_are_gone(tmp_path):
    """The committed results keep results.csv but not runs/<id>/metrics.csv: re-rendering must not
    replace the loss-curve figure by an empty plot."""
    frame = synthetic_results([10] * 5, [40] * 5).assign(lr=0.003, loss_at_10=1.0, test_acc_at_best_val=0.5)
    frame["run_id"] = [f"run{i}" for i in range(len(frame))]
    (tmp_path / "sweep").mkdir()
    frame.to_csv(tmp_path / "sweep" / "results.csv", index=False)
    figure = tmp_path / "loss_csbm_sum.png"
    figure.write_bytes(b"the committed figure")
    report = experiment.render_from_store(tmp_path, PROTOCOL, "fathom reproduce dezoort2023", None).read_text()
    assert figure.read_bytes() == b"the committed figure"
    assert "![loss_csbm_sum](loss_csbm_sum.png)" in report and "| gnn_he + a=0.5 + fixup | 10.0 (#1) |" in report

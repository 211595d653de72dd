"""The benchmark's target claims: each passes or fails by its stated rule on a results table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fathom.benchmark.protocols import EpochOfBestMean
from fathom.benchmark.report import (PUBLISHED_GIN, REEVALUATED_GIN, RuleRead, rules_table, selection_rules,
                                     target_claims, whole_preset_command)
from fathom.sweep.store import ResultStore


def _rows(entry, dataset, depth, tests):
    return [{"entry": entry, "dataset": dataset, "depth": depth, "seed": seed, "status": "ok", "best_val_acc": 0.5,
             "test_acc_at_best_val": t, "epoch_seconds": 0.01, "peak_memory_mb": 100.0}
            for seed, t in enumerate(tests)]


def test_the_gcnii_target_needs_its_accuracy_and_ten_seeds_selected_as_gcniis_paper_selected():
    twin = "Fathom (least validation loss)"
    reached = (_rows("Fathom", "cora", 64, [0.84] * 10) + _rows(twin, "cora", 64, [0.86] * 10)
               + _rows("GCNII", "cora", 64, [0.83] * 3))
    claims = target_claims(pd.DataFrame(reached), ["cora"])
    assert [c.passed for c in claims] == [True, True]  # 86 >= 85.5 over 10 seeds; 84 >= GCNII's 83
    assert "86.0 ± 0.0 % at L=64 over 10 seeds" in claims[0].evidence and "84.0 ± 0.0 % at L=64" in claims[0].evidence
    short = _rows("Fathom", "cora", 64, [0.86] * 10) + _rows(twin, "cora", 64, [0.86] * 9)
    assert not target_claims(pd.DataFrame(short), ["cora"])[0].passed
    below = _rows("Fathom", "cora", 64, [0.86] * 10) + _rows(twin, "cora", 64, [0.85] * 10)
    assert not target_claims(pd.DataFrame(below), ["cora"])[0].passed
    unread, = target_claims(pd.DataFrame(_rows("Fathom", "cora", 64, [0.86] * 10)), ["cora"])  # the leaderboard's
    assert not unread.passed and "no run yet" in unread.evidence  # rule alone does not decide it
    twin_alone, = target_claims(pd.DataFrame(_rows(twin, "cora", 64, [0.86] * 10)), ["cora"])  # --entries: the twin
    assert twin_alone.passed and "leaderboard" not in twin_alone.evidence


def test_the_gcnii_rule_table_reads_both_models_under_both_rules_at_the_twins_depth():
    from fathom.benchmark.report import gcnii_rule_table

    frame = pd.DataFrame(_rows("Fathom", "cora", 64, [0.84] * 10) + _rows("Fathom", "cora", 256, [0.80] * 10)
                         + _rows("Fathom (least validation loss)", "cora", 64, [0.86] * 10)
                         + _rows("GCNII", "cora", 64, [0.83] * 3) + _rows("GCNII", "cora", 16, [0.9] * 3)
                         + _rows("GCNII (least validation loss)", "cora", 64, [0.85] * 3))
    frame.loc[(frame["entry"] == "GCNII") & (frame["depth"] == 16), "best_val_acc"] = 0.9  # GCNII's own pick: 16
    row = gcnii_rule_table(frame, ["cora"]).iloc[0]
    assert row["Fathom: best validation accuracy"] == "84.0 ± 0.0 (L=64, n=10)"
    assert row["Fathom: least validation loss"] == "86.0 ± 0.0 (L=64, n=10)"
    assert row["GCNII: best validation accuracy"] == "83.0 ± 0.0 (L=64, n=3)"  # the twin's depth, not the pick
    assert row["GCNII: least validation loss"] == "85.0 ± 0.0 (L=64, n=3)" and row["GCNII published"] == "85.5"
    assert gcnii_rule_table(frame[~frame["entry"].str.contains("least")], ["cora"]).empty


def test_the_twins_selected_on_the_loss_stay_off_the_leaderboard_and_get_their_own_section(tmp_path):
    from fathom.benchmark import PRESETS
    from fathom.benchmark.report import write_report

    frame = pd.DataFrame(_rows("Fathom", "cora", 64, [0.84] * 3) + _rows("Fathom (least validation loss)", "cora",
                                                                          64, [0.86] * 3))
    frame["seconds"] = 1.0
    write_report(tmp_path, PRESETS["full"], PRESETS["full"].specs(datasets=("cora",)), frame, {})
    assert "least validation loss" not in (tmp_path / "leaderboard.md").read_text()
    report = (tmp_path / "report.md").read_text()
    assert "## GCNII's published figures under their own selection rule" in report
    assert "| cora | 84.0 ± 0.0 (L=64, n=3) | 86.0 ± 0.0 (L=64, n=3) | – | – | 85.5 |" in report


def test_the_rival_check_states_the_gap_and_its_standard_error_over_seeds():
    fathom, gcnii = [0.951, 0.953, 0.957], [0.953, 0.950, 0.959]
    frame = pd.DataFrame(_rows("Fathom", "cs", 64, fathom) + _rows("GCNII", "cs", 64, gcnii))
    claim, = target_claims(frame, ["cs"])
    error = np.hypot(np.std(fathom, ddof=1), np.std(gcnii, ddof=1)) / np.sqrt(3) * 100
    differences = (np.array(fathom) - np.array(gcnii)) * 100
    paired = np.std(differences, ddof=1) / np.sqrt(3)
    assert not claim.passed and claim.evidence == (
        f"Fathom 95.37 % (L=64) vs GCNII 95.40 % (L=64): -0.03 points (standard error {error:.2f}, unpaired; "
        f"paired over the 3 runs both ran: {differences.mean():+.2f} ± {paired:.2f})")
    claim, = target_claims(pd.DataFrame(_rows("Fathom", "cs", 64, fathom) + _rows("GCNII", "cs", 64, [0.9])), ["cs"])
    assert claim.passed and claim.evidence.endswith("+5.37 points")  # one seed: no spread to state


def test_the_rival_is_the_best_of_the_three_whichever_is_listed_first():
    """Fathom 80 against GCNII 85 and APPNP 75 (APPNP at its published depth, 10): the check reads GCNII."""
    frame = pd.DataFrame(_rows("Fathom", "cs", 64, [0.80] * 3) + _rows("GCNII", "cs", 64, [0.85] * 3)
                         + _rows("APPNP", "cs", 10, [0.75] * 3) + _rows("JKNet", "cs", 6, [0.70] * 3))
    claim, = target_claims(frame, ["cs"])
    assert not claim.passed and "vs GCNII 85.00 % (L=64): -5.00 points" in claim.evidence
    ahead = frame.assign(test_acc_at_best_val=frame["test_acc_at_best_val"].where(frame["entry"] != "Fathom", 0.86))
    claim, = target_claims(ahead, ["cs"])
    assert claim.passed and "vs GCNII 85.00 % (L=64): +1.00 points" in claim.evidence


def test_the_paired_gap_pairs_runs_by_seed_and_split_and_skips_runs_one_model_lacks():
    """Ten splits at seed 0, where one split is hard for both: pairing by split cancels it (a pairing by
    seed alone would match every run with every other); GCNII's extra split 9 has no partner."""
    fathom = [0.70, 0.80, 0.90, 0.60, 0.75, 0.85, 0.65, 0.95, 0.20]
    gcnii = [0.69, 0.80, 0.88, 0.60, 0.74, 0.85, 0.66, 0.93, 0.18, 0.99]
    rows = [{**row, "seed": 0, "split": f"geom-gcn:{i}"} for model, tests in (("Fathom", fathom), ("GCNII", gcnii))
            for i, row in enumerate(_rows(model, "texas", 64, tests))]
    claim, = target_claims(pd.DataFrame(rows), ["texas"])
    differences = (np.array(fathom) - np.array(gcnii[:9])) * 100
    assert claim.evidence.endswith(f"; paired over the 9 runs both ran: {differences.mean():+.2f} ± "
                                   f"{np.std(differences, ddof=1) / 3:.2f})")
    unpaired = float(claim.evidence.split("standard error ")[1].split(",")[0])
    assert np.std(differences, ddof=1) / 3 < unpaired / 10  # the hard split 8 cancels only when paired


def test_hold_out_selection_is_held_to_gins_figure_re_evaluated_under_that_rule():
    mean, std = REEVALUATED_GIN["proteins"]
    inside = (mean - std + 0.2) / 100
    below = (mean - std - 0.2) / 100

    def claim(tests, depth=16):
        claims = [c for c in target_claims(pd.DataFrame(_rows("Fathom", "proteins", depth, tests)), ["proteins"])
                  if "Errica" in c.statement]
        assert len(claims) == 1 and f"mean >= {mean - std:.1f}" in claims[0].statement
        assert "hold-out selection" in claims[0].statement
        return claims[0].passed

    assert claim([inside] * 10)
    assert not claim([below] * 10)
    assert not claim([inside] * 9)  # every fold must have run
    assert not [c for c in target_claims(pd.DataFrame(_rows("Fathom", "proteins", 8, [inside] * 10)), ["proteins"])
                if "GIN" in c.statement]  # a shallow Fathom is not the deep model the target is about


def _read(mean, folds=10, epochs=350, budget=350):
    return RuleRead(EpochOfBestMean(mean / 100, 0.05, min(epochs, 100), epochs, folds, budget))


def test_gins_published_figure_is_checked_under_its_own_rule_and_a_cut_read_is_undecided():
    mean, std = PUBLISHED_GIN["mutag"]

    def claim(rules):
        claims = [c for c in target_claims(pd.DataFrame(_rows("Fathom", "mutag", 16, [0.5] * 10)), ["mutag"], rules)
                  if "published" in c.statement]
        assert len(claims) == 1 and f"mean >= {mean - std:.1f}" in claims[0].statement
        return claims[0]

    assert claim({("Fathom", "mutag"): _read(mean - std + 0.1)}).passed  # the hold-out reads (50 %) play no part
    assert not claim({("Fathom", "mutag"): _read(mean - std - 0.1)}).passed
    assert not claim({("Fathom", "mutag"): _read(mean - std + 0.1, folds=9)}).passed
    cut = claim({("Fathom", "mutag"): _read(mean - std - 0.1, epochs=120)})
    assert not cut.passed and "undecided" in cut.evidence and "lower bound" in cut.evidence
    missed = claim({("Fathom", "mutag"): _read(mean - std - 0.1)})
    assert "undecided" not in missed.evidence  # every fold ran the budget: the read is exact
    extended = claim({("Fathom", "mutag"): RuleRead(_read(mean - std + 0.1).read, extended=3)})
    assert "3 folds read on to the end" in extended.evidence
    unread = claim({})  # runs but no read (no history, or one fold): a failed target, not a missing one
    assert not unread.passed and "no read" in unread.evidence


def test_selection_rules_read_each_entrys_fold_histories(tmp_path):
    rng = np.random.default_rng(0)
    rows, curves = [], {}
    for entry, depth, epochs in [("Fathom", 16, 5), ("GIN", 5, 7), ("Fathom", 8, 5)]:
        for fold in range(3):
            run_id = f"{entry}{depth}-{fold}"
            curves[run_id] = rng.random(epochs - fold)  # fold 2 stopped two epochs early
            (tmp_path / "runs" / run_id).mkdir(parents=True)
            pd.DataFrame({"train_loss": 1 - curves[run_id], "test_acc": curves[run_id]}).to_csv(
                tmp_path / "runs" / run_id / "metrics.csv")
            rows.append({**_rows(entry, "mutag", depth, [0.5])[0], "run_id": run_id, "split": f"fold:{fold}",
                         "epochs": epochs, "best_val_acc": 0.9 if depth != 8 else 0.1})
    rules = selection_rules(pd.DataFrame(rows), ["mutag"], ResultStore(tmp_path))
    assert set(rules) == {("Fathom", "mutag"), ("GIN", "mutag")}
    fathom = np.stack([curves[f"Fathom16-{fold}"][:3] for fold in range(3)])
    read = rules[("Fathom", "mutag")].read
    assert read.mean == pytest.approx(fathom.mean(axis=0).max()) and read.epoch == fathom.mean(axis=0).argmax() + 1
    assert (read.epochs, read.budget, read.lower_bound) == (3, 5, True)
    table = rules_table(pd.DataFrame(rows), rules)
    assert list(table["entry"]) == ["Fathom", "GIN"] and table.iloc[0]["epoch of best mean"].startswith("≥ ")
    (tmp_path / "runs" / "GIN5-1" / "metrics.csv").unlink()  # a history missing: GIN is not read
    assert set(selection_rules(pd.DataFrame(rows), ["mutag"], ResultStore(tmp_path))) == {("Fathom", "mutag")}
    cut_all = [{**r, "epochs": 9} for r in rows]  # every fold stopped before a 9-epoch budget
    assert selection_rules(pd.DataFrame(cut_all), ["mutag"], ResultStore(tmp_path))[("Fathom", "mutag")].read.budget == 9
    twin = [{**r, "entry": "Fathom (no early stopping)"} for r in rows if r["depth"] == 8]
    assert ("Fathom (no early stopping)", "mutag") not in selection_rules(
        pd.DataFrame(rows + twin), ["mutag"], ResultStore(tmp_path))  # a shallow Fathom twin is not read either
    # a fold cut short is read on from its twin's run when that run starts as the stopped one did
    fathom_rows = [r for r in rows if r["entry"] == "Fathom" and r["depth"] == 16]
    twins = []
    for fold, tail in [(2, rng.random(3)), (1, rng.random(1))]:
        run_id = f"twin-{fold}"
        history = pd.read_csv(tmp_path / "runs" / f"Fathom16-{fold}" / "metrics.csv", index_col=0)
        longer = pd.concat([history, pd.DataFrame({"train_loss": 1 - tail, "test_acc": tail})], ignore_index=True)
        if fold == 1:
            longer.loc[0, "test_acc"] += 0.01  # another machine: not the same run, extends nothing
        (tmp_path / "runs" / run_id).mkdir()
        longer.to_csv(tmp_path / "runs" / run_id / "metrics.csv")
        twins.append({**fathom_rows[fold], "entry": "Fathom (no early stopping)", "run_id": run_id})
    rules = selection_rules(pd.DataFrame(fathom_rows + twins), ["mutag"], ResultStore(tmp_path))
    rule = rules[("Fathom", "mutag")]
    fold2 = pd.read_csv(tmp_path / "runs" / "twin-2" / "metrics.csv")["test_acc"].to_numpy()
    extended = np.stack([curves["Fathom16-0"][:4], curves["Fathom16-1"][:4], fold2[:4]])
    assert rule.extended == 1 and rule.read.epochs == 4  # fold 1 (4 epochs, not extended) now the shortest
    assert rule.read.mean == pytest.approx(extended.mean(axis=0).max())
    # hiding a shallow Fathom: a Fathom chosen at 8 blocks is not read (the target is about >= 16)
    shallow = pd.DataFrame([r for r in rows if r["depth"] == 8])
    assert selection_rules(shallow, ["mutag"], ResultStore(tmp_path)) == {}


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


def test_256_blocks_are_compared_with_64_on_the_seeds_both_ran():
    def runs(depth, tests):
        return _rows("Fathom", "cora", depth, tests)

    def claim(frame):
        claims = [c for c in target_claims(pd.DataFrame(frame), ["cora"]) if "256 blocks" in c.statement]
        assert len(claims) == 1
        return claims[0]

    ten_at_64 = runs(64, [0.80, 0.80] + [0.90] * 8)  # all ten: 88 %; seeds 0-1: 80 %
    close = claim(ten_at_64 + runs(256, [0.805, 0.805]))
    assert close.passed and "80.5 % vs 80.0 % over seeds 0, 1" in close.evidence
    assert not claim(ten_at_64 + runs(256, [0.78, 0.78])).passed
    assert not [c for c in target_claims(pd.DataFrame(runs(64, [0.8] * 3)), ["cora"]) if "256 blocks" in c.statement]


def test_the_ablation_table_compares_fathom_on_the_ablations_seeds_and_depth():
    from fathom.benchmark.report import ablation_table

    fathom = _rows("Fathom", "cora", 64, [0.80, 0.80, 0.80] + [0.90] * 7) + _rows("Fathom", "cora", 16, [0.1] * 3)
    removed = _rows("Fathom: no dropout", "cora", 64, [0.70, 0.70, 0.70])
    table = ablation_table(pd.DataFrame(fathom + removed), ["Fathom: no dropout", "Fathom: no norm"],
                           ["cora", "texas"])
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| Fathom")}
    assert "50.0 / 80.0 (n=3)" in rows["Fathom"]  # seeds 0-2 at depth 64, not all ten nor depth 16
    assert "50.0 / 70.0 (n=3)" in rows["Fathom: no dropout"]
    assert "texas" not in table and "n=" not in rows["Fathom: no norm"]


def test_the_budget_claim_adds_the_unfinished_runs_at_their_median_and_cannot_pass_on_unknown_costs():
    from fathom.benchmark.report import BUDGET_HOURS, _progress, budget_claim
    from fathom.config import ModelConfig, TrainConfig
    from fathom.sweep import RunSpec

    def planned(dataset, seeds):
        return [("Fathom", RunSpec(dataset, ModelConfig(depth=4), TrainConfig(seed=seed))) for seed in range(seeds)]

    def finished(dataset, seconds):
        return [{**row, "dataset": dataset, "seconds": s} for row, s in
                zip(_rows("Fathom", dataset, 4, [0.8] * len(seconds)), seconds)]

    # cora: 2 of 4 done at 60 and 120 s (median 90): 3 min done, 2 x 90 s = 3 min left
    progress = _progress(planned("cora", 4), pd.DataFrame(finished("cora", [60.0, 120.0])))
    assert progress.iloc[0]["left min (est.)"] == 3.0
    claim = budget_claim(progress, workers=2)
    assert claim.passed and "1.5 h" not in claim.evidence and "0.1 h of wall on 2 workers" in claim.evidence
    slow = budget_claim(_progress(planned("cora", 4), pd.DataFrame(finished("cora", [60.0, 3600 * BUDGET_HOURS]))),
                        workers=2)
    assert not slow.passed  # (1 + 120 + 2 x 60.5 min) / 2 workers > 2 h
    unknown = budget_claim(_progress(planned("cora", 2) + planned("texas", 3), pd.DataFrame(finished("cora", [60.0]))))
    assert not unknown.passed and "leaving out 3 runs of entries with no finished run" in unknown.evidence
    done = budget_claim(_progress(planned("cora", 3), pd.DataFrame(finished("cora", [3600.0 * BUDGET_HOURS] * 3))),
                        workers=2)  # 3 x 2 h of training on 2 workers: 3 h
    minutes = 3 * 60 * BUDGET_HOURS
    assert not done.passed and f"{minutes:.0f} min of training, every planned run finished: {minutes / 120:.1f} h" \
        in done.evidence
    assert "unfinished" not in done.evidence


def test_an_unfinished_run_is_priced_at_its_depths_median_where_a_run_of_that_depth_finished():
    from fathom.benchmark.report import _progress
    from fathom.config import ModelConfig, TrainConfig
    from fathom.sweep import RunSpec

    planned = [("GCNII", RunSpec("citeseer", ModelConfig(depth=depth), TrainConfig(seed=seed)))
               for depth in (16, 256) for seed in range(3)]
    rows = [{**row, "seconds": s} for row, s in zip(_rows("GCNII", "citeseer", 16, [0.7] * 3), [60.0, 60.0, 60.0])]
    rows += [{**row, "seconds": 1800.0} for row in _rows("GCNII", "citeseer", 256, [0.7])]
    progress = _progress(planned, pd.DataFrame(rows)).iloc[0]
    assert progress["left min (est.)"] == 2 * 30.0  # two 256-layer runs at 1800 s, not at the 60 s median
    unseen = _progress(planned, pd.DataFrame(rows[:2])).iloc[0]
    assert unseen["left min (est.)"] == 1 + 3  # no 256-layer run has finished: all four at the median, 60 s
    skewed = [{**row, "seconds": s} for row, s in zip(_rows("GCNII", "citeseer", 16, [0.7] * 3), [60.0, 60.0, 240.0])]
    four = [("GCNII", RunSpec("citeseer", ModelConfig(depth=16), TrainConfig(seed=seed))) for seed in range(4)]
    assert _progress(four, pd.DataFrame(skewed)).iloc[0]["left min (est.)"] == 1.0  # the median, 60 s; the mean is 120
    wider = four[:3] + [("GCNII", RunSpec("citeseer", ModelConfig(depth=256), TrainConfig(seed=0)))]
    assert _progress(wider, pd.DataFrame(skewed)).iloc[0]["left min (est.)"] == 1.0  # no 256-layer run: the median


@pytest.mark.parametrize("invocation, whole", [
    ("fathom benchmark --preset full --datasets actor --models Fathom --data-root ../data --out res --workers 1",
     "fathom benchmark --preset full --data-root ../data --out res --workers 1"),
    ("fathom benchmark --preset graphs --folds=1,3 --out 'my results' --report-only",
     "fathom benchmark --preset graphs --out 'my results'"),
    ("fathom benchmark --preset quick --out q", "fathom benchmark --preset quick --out q"),
])
def test_the_reports_command_runs_the_whole_preset(invocation, whole):
    assert whole_preset_command(invocation) == whole

"""The Xu et al. (2021) reproduction: a tiny run of the whole pipeline, and claims computed from data."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fathom.reproduce.xu2021 import Protocol, check_claims, orderings, run
from fathom.reproduce.xu2021.claims import _assumption_claims

TINY = Protocol(datasets=("karate",), depths=(1, 2), deep_depths=(3,), seeds=(0, 1), linear_width=16, linear_steps=40,
                lambda_every=5, relu_width=8, relu_depths=(1, 2), relu_steps=20, probe_steps=10, gin_depths=(1,),
                late_depths=(1, 2), late_steps=60, late_seeds=(0,), relu_late_seeds=(0,), bind_dataset="karate", bind_width=40,
                bind_depths=(1,), bind_seeds=(0,), bind_lr=1e-2, bind_steps=60)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("xu2021")
    return out, run(out, protocol=TINY, progress=False)


def test_pipeline_writes_report_figures_and_tables(tiny_run):
    out, report = tiny_run
    text = report.read_text()
    claim_lines = [line for line in text.splitlines() if line.startswith("- **PASS**") or line.startswith("- **FAIL**")]
    assert len(claim_lines) == 13  # checks 1, 1b, 2-4 early and late, 5 early and late, 6a-6c
    assert all("rule: PASS iff" in line for line in claim_lines)  # every claim states its rule
    for figure in ("loss_curves.png", "late.png", "late_relu.png", "bound.png", "quantities.png", "labels.png"):
        assert (out / figure).stat().st_size > 10_000 and f"]({figure})" in text
    results = json.loads((out / "results.json").read_text())
    assert [c["passed"] for c in results["claims"]] == ["**PASS**" in line for line in claim_lines]
    assert results["protocol"]["seeds"] == [0, 1] and results["environment"]["torch"]
    frame = pd.read_csv(out / "results.csv")
    main = frame[frame["phase"] == "main"]
    # linear: depths 1, 2 x skip x 2 label kinds x 2 seeds, + depth 3 x skip x true x 2 seeds; ReLU: 2 x 2 x 2 x 2
    assert len(main[main["model"] == "linear"]) == 16 + 4 and len(main[main["model"] == "relu"]) == 16
    assert set(frame["phase"]) == {"probe", "gin", "main", "late", "bind"}
    late, bind = frame[frame["phase"] == "late"], frame[frame["phase"] == "bind"]
    assert set(late["steps"]) == {60}
    assert (late["model"].value_counts() == 2 * 2 * 2).all()  # linear and ReLU: depths x skip x labels, one seed
    assert len(bind) == 1 and bind["skip"].all() and set(bind["width"]) == {40}
    ratios = frame.loc[frame["model"] == "linear", ["bound_ratio_quarter", "bound_ratio_mid", "bound_ratio_final"]]
    assert (ratios.dropna() >= 1 - 1e-9).all().all()  # the bound is above the measured gap: ratio >= 1
    assert (frame.loc[frame["model"] == "linear", "lambda_T"].dropna() > 0).all()
    quantities = pd.read_csv(out / "quantities.csv")
    assert set(quantities["operator"]) == {"GCN", "GIN"} and set(quantities["depth"]) == {1, 2, 3}


def _speed_rows(skip_loss: float, noskip_loss: float) -> pd.DataFrame:
    rows = []
    for seed in (0, 1):
        for skip, loss in ((True, skip_loss), (False, noskip_loss)):
            for depth in (1, 2):
                for labels in ("true", "shuffled"):
                    value = loss / depth * (1 if labels == "true" else 2)
                    rows.append({"dataset": "g", "skip": skip, "depth": depth, "labels": labels, "seed": seed,
                                 "quarter_loss": 3 * value, "mid_loss": 2 * value, "final_loss": value})
    return pd.DataFrame(rows)


def test_orderings_follow_the_data():
    good = orderings(_speed_rows(skip_loss=1.0, noskip_loss=3.0))
    assert {name: total for name, (total, _) in good.items()} == {"skip": 4, "depth": 2, "labels": 4}
    assert all(not failures for _, failures in good.values())
    bad = orderings(_speed_rows(skip_loss=3.0, noskip_loss=1.0))
    assert len(bad["skip"][1]) == 4 and not bad["depth"][1]


def test_a_broken_bound_fails_and_a_smaller_step_does_not_repair_it(tiny_run):
    out, _ = tiny_run
    frame = pd.read_csv(out / "results.csv")
    quantities = pd.read_csv(out / "quantities.csv")
    assert check_claims(frame, quantities, TINY)[0].passed
    linear = (frame["phase"] == "main") & (frame["model"] == "linear")
    broken = frame.copy()
    broken.loc[linear & (frame["seed"] == 0), "violation"] = 0.5
    claim = check_claims(broken, quantities, TINY)[0]
    assert not claim.passed and "main (40 steps): held in 10 of 20" in claim.evidence
    rerun = broken[linear & (broken["seed"] == 0)].assign(phase="refine", violation=0.0, lr=1e-5)
    assert not check_claims(pd.concat([broken, rerun]), quantities, TINY)[0].passed


def test_the_binding_check_fails_when_the_bound_stays_vacuous(tiny_run):
    out, _ = tiny_run
    frame = pd.read_csv(out / "results.csv")
    quantities = pd.read_csv(out / "quantities.csv")
    binding = check_claims(frame, quantities, TINY)[1]
    assert binding.statement.startswith("(1b)")
    vacuous = frame.copy()
    vacuous.loc[vacuous["phase"] == "bind", "bound_fraction"] = 0.99
    assert not check_claims(vacuous, quantities, TINY)[1].passed


def test_late_orderings_are_read_at_the_late_steps():
    rows = _speed_rows(skip_loss=1.0, noskip_loss=3.0)
    rows["three_quarter_loss"] = rows["final_loss"]
    rows.loc[rows["skip"], "final_loss"] = 10.0  # skips lose at the very end only
    late = orderings(rows, ("three_quarter_loss", "final_loss"))
    assert len(late["skip"][1]) == 4 and not orderings(rows)["skip"][1]


def test_the_late_relu_check_reads_the_late_relu_runs(tiny_run):
    out, _ = tiny_run
    frame = pd.read_csv(out / "results.csv")
    quantities = pd.read_csv(out / "quantities.csv")
    late_relu = [c for c in check_claims(frame, quantities, TINY) if c.statement.startswith("(5L)")]
    assert len(late_relu) == 1 and "steps 45 and 60 of 60" in late_relu[0].statement
    rigged = frame.copy()  # skips and true labels win everywhere: every ordering holds
    selected = (rigged["phase"] == "late") & (rigged["model"] == "relu")
    loss = 10.0 / rigged["depth"] * (1 + (~rigged["skip"])) * (1 + (rigged["labels"] == "shuffled"))
    for column in ("three_quarter_loss", "final_loss"):
        rigged.loc[selected, column] = loss[selected]
    by_statement = {c.statement[:4]: c.passed for c in check_claims(rigged, quantities, TINY)}
    assert by_statement["(5L)"]
    rigged.loc[selected & rigged["skip"], "final_loss"] = 100.0  # skips lose at the last step only
    after = {c.statement[:4]: c.passed for c in check_claims(rigged, quantities, TINY)}
    assert not after["(5L)"] and after["(5) "] == by_statement["(5) "]


def test_the_late_linear_checks_read_the_late_linear_runs_at_the_late_steps(tiny_run):
    out, _ = tiny_run
    frame = pd.read_csv(out / "results.csv")
    quantities = pd.read_csv(out / "quantities.csv")
    rigged = frame.copy()  # on the late linear runs, skips, depth and true labels win at the late steps
    selected = (rigged["phase"] == "late") & (rigged["model"] == "linear") & (rigged["operator"] == "GCN")
    assert selected.any()
    loss = 10.0 / rigged["depth"] * (1 + (~rigged["skip"])) * (1 + (rigged["labels"] == "shuffled"))
    for column in ("three_quarter_loss", "final_loss"):
        rigged.loc[selected, column] = loss[selected]
    for column in ("quarter_loss", "mid_loss"):  # ... and lose at the early ones, which these checks ignore
        rigged.loc[selected, column] = 1000.0 / loss[selected]
    late = {c.statement[:4]: c for c in check_claims(rigged, quantities, TINY)}
    assert all(late[key].passed for key in ("(2L)", "(3L)", "(4L)")) and "steps 45 and 60 of 60" in late["(2L)"].statement
    rigged.loc[selected & rigged["skip"], "final_loss"] = 100.0  # skips lose at the last step only
    after = {c.statement[:4]: c.passed for c in check_claims(rigged, quantities, TINY)}
    assert not after["(2L)"] and after["(2) "] == late["(2) "].passed


def test_a_rerun_loads_finished_runs_instead_of_training_them(tiny_run, monkeypatch):
    out, _ = tiny_run
    claims = [c["passed"] for c in json.loads((out / "results.json").read_text())["claims"]]
    saved = sorted(path.name for path in (out / "runs").glob("*.npz"))
    assert len(saved) == len(pd.read_csv(out / "results.csv"))  # every run saved as it finished

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    from fathom.reproduce.xu2021 import experiment
    monkeypatch.setattr(experiment, "linear_run", no_training)
    monkeypatch.setattr(experiment, "relu_run", no_training)
    run(out, protocol=TINY, progress=False)
    assert [c["passed"] for c in json.loads((out / "results.json").read_text())["claims"]] == claims
    assert sorted(path.name for path in (out / "runs").glob("*.npz")) == saved


def _quantities(sigma_mins, degenerate=None) -> pd.DataFrame:
    """Theorem 1's graph quantities without skips at depths 1, 2, ... (and one row with skips)."""
    degenerate = degenerate or [False] * len(sigma_mins)
    rows = [{"dataset": "karate", "skip": False, "depth": h, "sigma_min": value, "sigma_min_nonzero": value,
             "degenerate": flag, "rank": 3, "train_nodes": 4}
            for h, (value, flag) in enumerate(zip(sigma_mins, degenerate), start=1)]
    rows.append({"dataset": "karate", "skip": True, "depth": 1, "sigma_min": 0.5, "sigma_min_nonzero": 0.5,
                 "degenerate": False, "rank": 4, "train_nodes": 4})
    return pd.DataFrame(rows)


def _linear(lambdas) -> pd.DataFrame:
    return pd.DataFrame([{"skip": skip, "lambda_T": value, "lambda_T_plain": 0.0}
                         for skip, value in zip([False, True] * len(lambdas), lambdas)])


@pytest.mark.parametrize("sigma_mins,decays", [
    ([0.3, 0.2, 0.1], True), ([0.1, 0.2, 0.3], False), ([0.3, 0.3, 0.1], False), ([0.3], False)])
def test_the_decay_check_needs_a_strict_fall_at_every_depth(sigma_mins, decays):
    claims = _assumption_claims(_quantities(sigma_mins), _linear([0.1, 0.2]), TINY)
    assert claims[2].statement.startswith("(6c)") and claims[2].passed is decays
    assert claims[0].passed is True and claims[1].passed is True


def test_a_degenerate_design_matrix_or_a_zero_lambda_fails_the_assumption_checks():
    claims = _assumption_claims(_quantities([0.3, 1e-17], degenerate=[False, True]), _linear([0.1, 0.0]), TINY)
    assert claims[0].passed is False and "karate at H=2" in claims[0].evidence
    assert claims[1].passed is False

import json
import math

import pandas as pd
import pytest

from fathom.reproduce import park2024 as experiment
from fathom.reproduce.park2024 import ACTIVATIONS, BOUNDED, MODELS, Protocol, check_claims, family_of, variant_of

PROTOCOL = Protocol(datasets=("csbm",), depths=(2, 4, 128), seeds=2, activation_depth=3)
BOUNDED_MODELS = [name for name in MODELS if variant_of(name) in BOUNDED]


def synthetic(bounded_accuracy=0.89, vanilla_ratio=1e-4, vanilla_norm=1e-30, residual_expansion=1e6,
              heights=None, deep_status="ok"):
    """Rows, initial diagnostics and activation profiles as the claims read them; the vanilla model's
    ``mu(G_1)/||G_1||`` and ``||G_1||`` at depth 128 are ``vanilla_ratio`` and ``vanilla_norm``."""
    heights = heights or {"ReLU": 1e-10, "GELU": 1e-30, "LeakyReLU(0.8)": 1e-5}
    rows, initial = [], []
    for name in MODELS:
        for depth in PROTOCOL.depths:
            deep = depth == 128
            accuracy = 0.9 if not deep else bounded_accuracy if name in BOUNDED_MODELS else 0.3
            rows += [{"dataset": "csbm", "model": name, "depth": depth, "seed": s, "test_acc_at_best_val": accuracy,
                      "status": deep_status if deep and name in BOUNDED_MODELS else "ok",
                      "initial_train_loss": 1.1, "final_train_loss": 0.1} for s in range(2)]
            vanilla = variant_of(name) == "vanilla"
            initial.append({"model": name, "depth": depth,
                            "expansion": residual_expansion if deep and variant_of(name) == "residual" else 1.0,
                            "grad_norm_first": vanilla_norm if deep and vanilla else 1.0,
                            "grad_ratio_first": vanilla_ratio if deep and vanilla else 0.9})
    profiles = [{"dataset": "csbm", "family": family, "activation": activation, "layer": k, "grad_mu": value}
                for family in PROTOCOL.families for activation, value in heights.items() for k in (1, 2, 3)]
    return pd.DataFrame(rows), pd.DataFrame(initial), pd.DataFrame(profiles)


def test_every_family_and_bounded_model_gets_a_claim_and_all_pass_on_good_numbers():
    claims = check_claims(*synthetic(), PROTOCOL)
    assert len(claims) == 2 + 2 + len(BOUNDED_MODELS) + 1
    assert all(claim.passed for claim in claims), [c.line() for c in claims if not c.passed]
    assert "GCN residual+layer (ours) trains" in claims[4 + BOUNDED.index("residual+layer (ours)")].statement
    assert not any("GAT residual+layer" in claim.statement for claim in claims)  # refused with attention
    assert "gradient oversmoothing: the ratio collapses" in claims[0].evidence


def test_vanishing_is_named_and_fails_the_oversmoothing_claim():
    """mu(G_1) collapsing with ||G_1|| while their ratio stays is vanishing, not oversmoothing."""
    claims = check_claims(*synthetic(vanilla_ratio=0.85, vanilla_norm=1e-40), PROTOCOL)
    assert [c.passed for c in claims[:2]] == [False, False]
    assert "vanishing, not oversmoothing" in claims[0].evidence and "1.00e-40" in claims[0].evidence


def test_bounded_models_fail_when_they_lose_accuracy_or_do_not_train():
    claims = check_claims(*synthetic(bounded_accuracy=0.5), PROTOCOL)
    bounded = [c for c in claims if c.statement.startswith("(3)")]
    assert len(bounded) == len(BOUNDED_MODELS) and not any(c.passed for c in bounded)
    assert "csbm/L=128 +40.0 points" in bounded[0].evidence
    diverged = [c for c in check_claims(*synthetic(deep_status="diverged"), PROTOCOL) if c.statement.startswith("(3)")]
    assert not any(c.passed for c in diverged) and "did not train" in diverged[0].evidence


def test_a_residual_model_that_does_not_expand_fails_claim_2():
    claims = check_claims(*synthetic(residual_expansion=3.0), PROTOCOL)
    assert [c.passed for c in claims if c.statement.startswith("(2)")] == [False, False]


def test_claim_2_needs_ten_times_the_shallowest_expansion_not_just_above_ten():
    rows, initial, profiles = synthetic()
    residual = initial["model"].map(variant_of) == "residual"
    initial.loc[residual & (initial["depth"] == 2), "expansion"] = 5.0
    initial.loc[residual & (initial["depth"] == 128), "expansion"] = 20.0  # above 10, but only 4 x depth 2's
    claims = check_claims(rows, initial, profiles, PROTOCOL)
    assert [c.passed for c in claims if c.statement.startswith("(2)")] == [False, False]


def test_claim_1_needs_the_accuracy_drop_as_well_as_the_collapse():
    rows, initial, profiles = synthetic()
    rows.loc[rows["model"].map(variant_of) == "vanilla", "test_acc_at_best_val"] = 0.9  # no drop at depth 128
    claims = check_claims(rows, initial, profiles, PROTOCOL)
    assert [c.passed for c in claims[:2]] == [False, False]
    assert "gradient oversmoothing: the ratio collapses" in claims[0].evidence and "csbm 0.0 points" in claims[0].evidence


def test_a_bounded_model_whose_loss_never_fell_did_not_train():
    rows, initial, profiles = synthetic()
    rows.loc[rows["model"].isin(BOUNDED_MODELS) & (rows["depth"] == 128), "final_train_loss"] = 1.2  # above 1.1
    bounded = [c for c in check_claims(rows, initial, profiles, PROTOCOL) if c.statement.startswith("(3)")]
    assert not any(c.passed for c in bounded) and all("did not train" in c.evidence for c in bounded)


@pytest.mark.parametrize("heights", [
    {"ReLU": 1e-5, "GELU": 1e-30, "LeakyReLU(0.8)": 1e-10},  # ReLU above LeakyReLU
    {"ReLU": 0.0, "GELU": 1e-30, "LeakyReLU(0.8)": 1e-5},  # ReLU underflowed below GELU
])
def test_the_activation_ordering_fails_when_the_curves_are_misordered(heights):
    claim = check_claims(*synthetic(heights=heights), PROTOCOL)[-1]
    assert not claim.passed and "misordered: csbm/GCN, csbm/GAT" in claim.evidence


def test_an_underflowed_similarity_counts_at_the_float32_floor():
    assert experiment.curve_height(pd.Series([0.0, 1e-5])) == pytest.approx((-45 - 5) / 2)


def test_tiny_end_to_end_run_writes_the_report(tmp_path):
    """Two seeds in the protocol, the report on the first (``seeds=1``, a run in steps): one run per cell."""
    tiny = Protocol(datasets=("karate",), depths=(2, 4), seeds=2, gat_seeds=None, epochs=6, patience=3, width=8,
                    diagnostic_depth=4, activation_depth=4, command_dataset="karate", command_depths=(2, 4),
                    command_epochs=3)
    report = experiment.run(tmp_path, protocol=tiny, progress=False, seeds=1).read_text()
    assert "; 1 seed; depths" in report
    assert report.count("**PASS**") + report.count("**FAIL**") == 2 + 2 + len(BOUNDED_MODELS) + 1 + 1
    assert "(5) the issue's command `fathom train --dataset karate" in report
    command_run = tmp_path / "command" / "depth-4" / "summary.json"
    assert json.loads(command_run.read_text())["epochs_run"] == 3
    for figure in ("accuracy_vs_depth", "expansion_vs_depth", "gradient_similarity_by_activation",
                   "gradients_by_layer"):
        assert (tmp_path / f"{figure}.png").is_file() and f"({figure}.png)" in report
    results = pd.read_csv(tmp_path / "sweep" / "results.csv")
    assert len(results) == len(MODELS) * 2
    assert set(results["features"]) == {"protocol"} and set(results["activation_position"]) == {"post"}
    assert set(results["io"]) == {"park"} and set(results["init"]) == {"glorot"}
    profiles = pd.read_csv(tmp_path / "activation_profiles.csv")
    assert len(profiles) == 2 * len(ACTIVATIONS) * 4
    grid_header = "| dataset | model | depth 2 | depth 4 |"
    grid_models = [line.split("|")[2].strip() for line in report.split(grid_header)[1].splitlines()[2:2 + len(MODELS)]]
    assert grid_models == list(MODELS)
    trained_at = command_run.stat().st_mtime_ns
    again = experiment.run(tmp_path, protocol=tiny, progress=False, report_only=True).read_text()  # both seeds
    assert f"Finished runs: {len(MODELS) * 2} of the {len(MODELS) * 4} planned" in again
    assert len(pd.read_csv(tmp_path / "sweep" / "results.csv")) == len(MODELS) * 2  # nothing trained
    assert "(5) the issue's command" in again and command_run.stat().st_mtime_ns == trained_at


@pytest.mark.parametrize(("deep_accuracy", "deep_loss", "passed"), [
    (0.69, 0.5, True),  # 2 points below depth 2
    (0.66, 0.5, False),  # 5 points below
    (0.70, 2.0, False),  # the training loss never fell
])
def test_the_issue_command_check_needs_the_deep_run_trained_and_within_three_points(deep_accuracy, deep_loss, passed):
    summary = {"diverged": False, "initial_train_loss": 1.8}
    summaries = {2: {**summary, "test_acc_at_best_val": 0.71, "final_train_loss": 0.1},
                 256: {**summary, "test_acc_at_best_val": deep_accuracy, "final_train_loss": deep_loss}}
    claim = experiment.command_claim(summaries, experiment.FULL)
    assert claim.passed is passed
    assert "--depth 256 --residual plain --norm weight`" in claim.statement


def test_each_model_is_named_back_from_its_row_and_the_bounds_are_the_ones_stated():
    for name, variant in MODELS.items():
        config = experiment.model_config(PROTOCOL, variant, 8)
        row = pd.Series({**config.to_dict(), "dataset": "cora"})
        assert experiment.model_name(row, MODELS) == name
        assert (config.conv == "gat") == (family_of(name) == "GAT")
        if config.norm == "weight":
            assert config.norm_bound in name
    assert experiment.model_config(PROTOCOL, MODELS["GCN residual+weight(frobenius)"]).norm_bound == "frobenius"
    assert math.isclose(experiment.model_config(PROTOCOL, MODELS["GCN residual"]).residual_aggregation, 0.0)


def test_the_full_protocol_runs_gat_where_it_fits_and_every_seed_0_first():
    specs = experiment._specs(experiment.FULL, MODELS, (2, 256), 10, None, experiment.FULL.datasets)
    gat = [spec for spec in specs if spec.model.conv == "gat"]
    assert {spec.dataset for spec in gat} == {"cora"} and {spec.train.seed for spec in gat} == {0}
    gcn = [spec for spec in specs if spec.model.conv == "fathom"]
    assert {spec.dataset for spec in gcn} == {"cora", "citeseer", "chameleon"}
    assert {spec.train.seed for spec in gcn} == set(range(experiment.FULL.seeds))
    seeds = [spec.train.seed for spec in specs]
    assert seeds == sorted(seeds) and all(spec.features == "protocol" for spec in specs)


@pytest.mark.parametrize("deep_norm, passed, named", [(math.nan, True, "overflowed"), (0.0, False, "underflowed")])
def test_a_residual_model_that_overflows_at_init_has_expanded_and_one_that_underflows_has_not(deep_norm, passed, named):
    frame, initial, profiles = synthetic()
    residual = initial["model"].map(variant_of) == "residual"
    initial.loc[residual & (initial["depth"] == 4), "expansion"] = 50.0
    initial.loc[residual & (initial["depth"] == 128), ["expansion", "grad_norm_first"]] = [math.nan, deep_norm]
    claims = [c for c in check_claims(frame, initial, profiles, PROTOCOL) if c.statement.startswith("(2)")]
    assert [c.passed for c in claims] == [passed, passed] and named in claims[0].evidence.split("128: ")[1]

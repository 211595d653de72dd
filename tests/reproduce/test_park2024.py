import pandas as pd

from fathom.reproduce import park2024 as experiment
from fathom.reproduce.park2024 import MODELS, NORMALISED, Protocol, check_claims

PROTOCOL = Protocol(datasets=("csbm",), depths=(2, 4, 128), seeds=2)


def frame_and_initial(normalised_accuracy, residual_expansion, weight_expansion):
    rows, initial = [], []
    for name in MODELS:
        for depth in PROTOCOL.depths:
            deep = depth == 128
            accuracy = 0.9 if not deep else normalised_accuracy if name in NORMALISED else 0.3
            rows += [{"dataset": "csbm", "model": name, "depth": depth, "seed": s, "test_acc_at_best_val": accuracy}
                     for s in range(2)]
            expansion = {"residual": residual_expansion[depth], "residual+weight": weight_expansion}.get(name, 1.0)
            initial.append({"model": name, "depth": depth, "expansion": expansion,
                            "grad_mu_first": 1e-9 if name == "vanilla" and deep else 1.0})
    return pd.DataFrame(rows), pd.DataFrame(initial)


def test_claims_follow_the_numbers():
    frame, initial = frame_and_initial(0.89, {2: 1.0, 4: 2.0, 128: 1e6}, 30.0)
    claims = check_claims(frame, initial, PROTOCOL)
    assert [c.passed for c in claims] == [True, True] + [True] * len(NORMALISED)
    assert "csbm 60.0 points" in claims[0].evidence and "128: 1e+06" in claims[1].evidence


def test_claims_fail_when_normalised_models_lose_accuracy_or_expand():
    frame, initial = frame_and_initial(0.5, {2: 1.0, 4: 1.0, 128: 1.5}, 1e4)
    claims = check_claims(frame, initial, PROTOCOL)
    assert [c.passed for c in claims] == [True, False] + [False] * len(NORMALISED)
    assert "expansion 1e+04" in claims[2].evidence and "+40.0 points" in claims[3].evidence


def test_tiny_end_to_end_run_writes_the_report(tmp_path):
    tiny = Protocol(datasets=("karate",), depths=(2, 4), seeds=1, epochs=6, patience=3, width=8, diagnostic_depth=4)
    report = experiment.run(tmp_path, protocol=tiny, progress=False).read_text()
    assert report.count("**PASS**") + report.count("**FAIL**") == 2 + len(NORMALISED)
    for figure in ("accuracy_vs_depth", "expansion_vs_depth", "representation_similarity_vs_depth",
                   "gradients_by_layer"):
        assert (tmp_path / f"{figure}.png").is_file() and f"({figure}.png)" in report
    assert len(pd.read_csv(tmp_path / "sweep" / "results.csv")) == len(MODELS) * 2
    grid_header = "| dataset | model | depth 2 | depth 4 |"
    assert grid_header in report
    grid_models = [line.split("|")[2].strip() for line in report.split(grid_header)[1].splitlines()[2:2 + len(MODELS)]]
    assert grid_models == list(MODELS)


def test_an_underflowed_gradient_is_named_not_printed_as_nan():
    frame, initial = frame_and_initial(0.89, {2: 1.0, 4: 2.0, 128: 1e6}, float("nan"))
    claims = check_claims(frame, initial, PROTOCOL)
    assert not claims[2].passed and "underflowed" in claims[2].evidence


def test_the_weight_bound_models_state_the_spectral_bound_their_results_were_made_with():
    """The ModelConfig default became frobenius after these results were made with the spectral bound:
    every weight-bound variant states spectral, and a committed-style row (norm_bound recorded as
    spectral) is still named by its model."""
    from fathom.reproduce.park2024 import BEYOND_MODELS, model_config

    for models in (MODELS, BEYOND_MODELS):
        for name, variant in models.items():
            config = model_config(PROTOCOL, variant)
            assert config.norm_bound == "spectral" or config.norm != "weight", name
    row = pd.Series({**model_config(PROTOCOL, MODELS["residual+weight"]).to_dict(), "dataset": "cora"})
    assert experiment.model_name(row, MODELS) == "residual+weight"
    assert experiment.model_name(row.replace("spectral", "frobenius"), MODELS) == "other"

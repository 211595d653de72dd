from fathom import ModelConfig
from fathom.diagnostics.verdict import verdict

CONFIG = ModelConfig(depth=3, residual="none", init="glorot")


def metrics(second_moment, cosine, ratio, grad_norm):
    return {"second_moment": second_moment, "mean_cosine": cosine, "grad_mu_ratio": ratio, "grad_norm": grad_norm}


def modes(findings):
    return {finding.mode for finding in findings if finding.present}


def test_healthy_model_has_no_findings():
    assert modes(verdict(metrics([1.0, 1.2, 0.9], [0.1, 0.2, 0.3], [0.9, 0.9, 0.9], [1.0, 1.0, 1.0]), CONFIG)) == set()


def test_each_failure_mode_is_named_with_its_remedy():
    findings = verdict(metrics([1.0, 1e-3, 1e-6], [0.5, 0.9, 0.99], [0.01, 0.5, 0.9], [1e-5, 1e-2, 1.0]), CONFIG)
    assert modes(findings) == {"signal scale", "feature collapse", "gradient oversmoothing", "gradient vanishing"}
    lines = "\n".join(finding.line() for finding in findings)
    assert "init=gnn_he" in lines and "residual=fixup" in lines and "shrinks" in lines
    assert "--" not in lines  # the library names config fields, the CLI turns them into flags


def test_explosion_without_residuals_and_expansion_with_them():
    exploding = metrics([1.0, 1e3, 1e6], [0.1, 0.1, 0.1], [0.9, 0.9, 0.9], [50.0, 5.0, 1.0])
    findings = verdict(exploding, CONFIG)
    assert modes(findings) == {"signal scale", "gradient explosion"}
    assert "grows" in findings[0].line()
    residual = verdict(exploding, CONFIG.replace(residual="plain"))
    assert "gradient expansion" in modes(residual) and "residual=fixup" in residual[3].line()


def test_without_a_config_remedies_are_library_calls_and_depth_comes_from_the_metrics():
    findings = verdict(metrics([1.0, 1e-3, 1e-6], [0.5, 0.9, 0.99], [0.01, 0.5, 0.9], [50.0, 5.0, 1.0]))
    assert modes(findings) == {"signal scale", "feature collapse", "gradient oversmoothing",
                               "gradient explosion/expansion"}
    lines = "\n".join(finding.line() for finding in findings)
    assert "principled_" in lines and "residual_aggregation" in lines and "layer 1 to 3" in lines
    assert "--" not in lines

"""A plain-language verdict: which failure modes a model shows at initialisation, and the fix.

Thresholds (stated in each finding): scale changing by more than 10x from the first to the last
block; final mean pairwise cosine above 0.95 (correlation collapse); gradient similarity ratio
``mu(G)/||G||`` below 0.1 somewhere (gradient oversmoothing); first-block gradient norm more
than 10x the last block's (expansion through residual blocks, explosion without them) or less
than a tenth (vanishing).
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import TYPE_CHECKING

from .gradients import expansion_ratio

if TYPE_CHECKING:
    from ..config import ModelConfig

SCALE_FACTOR = 10.0
COLLAPSED_COSINE = 0.95
COLLAPSED_GRADIENT_RATIO = 0.1
GRADIENT_FACTOR = 10.0


@dataclass(frozen=True)
class Finding:
    mode: str
    present: bool
    evidence: str
    remedy: str = ""

    def line(self) -> str:
        status = "FAIL" if self.present else "ok"
        return f"[{status}] {self.mode}: {self.evidence}" + (f" -> {self.remedy}" if self.present and self.remedy else "")


# Remedies for a model Fathom did not build (fathom.diagnostics.probe): library calls, not options.
ANY_MODEL_REMEDIES = {
    "init": "fathom.init.principled_(model, data) (Var W = g / (fan_in lambda_1(A)^2) per layer)",
    "collapse": "residual aggregation (fathom.nn.residual_aggregation(conv, 0.5)) and/or residual "
                "connections with a down-weighted branch",
    "gradient smoothing": "residual connections keep node gradients distinct",
    "expansion": "scale the residual branches down (beta = 1/sqrt(L))",
    "vanishing": "fathom.init.principled_(model, data) and residual connections",
}


def verdict(metrics: dict[str, list[float]], config: "ModelConfig | None" = None) -> list[Finding]:
    """The four failure modes of a deep GNN at initialisation, judged from per-layer metrics.

    ``config`` is the :class:`~fathom.ModelConfig` of a ``DeepGNN`` (remedies name its fields as
    ``field=value``; the CLI shows them as flags);
    without it (any model, :func:`fathom.diagnostics.probe`) remedies name library calls and
    growing gradients are called explosion/expansion.
    """
    if config is None:
        return _verdict_any_model(metrics)
    first, last = metrics["second_moment"][0], metrics["second_moment"][-1]
    growth = last / first if first > 0 else float("inf")
    if growth > SCALE_FACTOR:
        scale = Finding("signal scale", True, f"second moment grows {growth:.3g}x from block 1 to {config.depth}",
                        "use init=gnn_he (Var W = 2/(fan_in lambda_1(A_a)^2)) instead of " + config.init)
    elif growth < 1 / SCALE_FACTOR:
        scale = Finding("signal scale", True, f"second moment shrinks to {growth:.3g}x of block 1 by block "
                        f"{config.depth}", "use init=gnn_he (it keeps the scale of order one)")
    else:
        scale = Finding("signal scale", False, f"second moment changes {growth:.3g}x over {config.depth} blocks")

    cosine = metrics["mean_cosine"][-1]
    collapse = Finding(
        "feature collapse", cosine > COLLAPSED_COSINE, f"final mean pairwise cosine {cosine:.3f} "
        f"(collapsed above {COLLAPSED_COSINE})",
        "add residual connections with a fixup-type scale (residual=fixup) and/or residual "
        "aggregation (residual_aggregation=0.5 or more)")

    ratios = [r for r in metrics["grad_mu_ratio"] if r == r]
    low = min(ratios) if ratios else float("nan")
    smoothing = Finding(
        "gradient oversmoothing", bool(ratios) and low < COLLAPSED_GRADIENT_RATIO,
        f"smallest mu(G)/||G|| over blocks {low:.3g} (collapsed below {COLLAPSED_GRADIENT_RATIO})",
        "residual connections (residual=fixup) keep node gradients distinct")

    ratio = expansion_ratio(metrics["grad_norm"])
    if ratio > GRADIENT_FACTOR and config.residual != "none":
        gradient = Finding("gradient expansion", True, f"||G_1||/||G_L|| = {ratio:.3g} through residual blocks",
                           "scale the residual branches down (residual=fixup, beta = 1/sqrt(L))")
    elif ratio > GRADIENT_FACTOR:
        gradient = Finding("gradient explosion", True, f"||G_1||/||G_L|| = {ratio:.3g}",
                           "use init=gnn_he (Perron-root scaled, with the activation's gain)")
    elif ratio < 1 / GRADIENT_FACTOR:
        gradient = Finding("gradient vanishing", True, f"||G_1||/||G_L|| = {ratio:.3g}",
                           "use init=gnn_he and residual connections (residual=fixup)")
    else:
        gradient = Finding("gradient expansion/vanishing", False, f"||G_1||/||G_L|| = {ratio:.3g}")
    return [scale, collapse, smoothing, gradient]


def _verdict_any_model(metrics: dict[str, list[float]]) -> list[Finding]:
    r = ANY_MODEL_REMEDIES
    depth = len(metrics["second_moment"])
    first, last = metrics["second_moment"][0], metrics["second_moment"][-1]
    growth = last / first if first > 0 else float("inf")
    if growth > SCALE_FACTOR or growth < 1 / SCALE_FACTOR:
        direction = "grows" if growth > 1 else "shrinks to"
        scale = Finding("signal scale", True, f"second moment {direction} {growth:.3g}x from layer 1 to {depth}", r["init"])
    else:
        scale = Finding("signal scale", False, f"second moment changes {growth:.3g}x over {depth} layers")
    cosine = metrics["mean_cosine"][-1]
    collapse = Finding("feature collapse", cosine > COLLAPSED_COSINE,
                       f"final mean pairwise cosine {cosine:.3f} (collapsed above {COLLAPSED_COSINE})", r["collapse"])
    ratios = [x for x in metrics["grad_mu_ratio"] if x == x]
    low = min(ratios) if ratios else float("nan")
    smoothing = Finding("gradient oversmoothing", bool(ratios) and low < COLLAPSED_GRADIENT_RATIO,
                        f"smallest mu(G)/||G|| over layers {low:.3g} (collapsed below {COLLAPSED_GRADIENT_RATIO})",
                        r["gradient smoothing"])
    ratio = expansion_ratio(metrics["grad_norm"])
    if ratio > GRADIENT_FACTOR:
        gradient = Finding("gradient explosion/expansion", True, f"||G_1||/||G_L|| = {ratio:.3g}",
                           f"{r['init']}; with residual connections, {r['expansion']}")
    elif ratio < 1 / GRADIENT_FACTOR:
        gradient = Finding("gradient vanishing", True, f"||G_1||/||G_L|| = {ratio:.3g}", r["vanishing"])
    else:
        gradient = Finding("gradient expansion/vanishing", False, f"||G_1||/||G_L|| = {ratio:.3g}")
    return [scale, collapse, smoothing, gradient]

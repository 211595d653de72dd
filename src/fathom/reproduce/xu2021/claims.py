"""Xu et al. (2021), the claim checks: each computed from the runs and the graph quantities."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...report import Claim, format_number
from .protocol import Protocol

EARLY = ("quarter_loss", "mid_loss")  # the main runs: before the fastest reach their floor
LATE = ("three_quarter_loss", "final_loss")  # Figure 4's protocol: its curves coincide early, differ late
ORDER_KEYS = ["dataset", "skip", "depth", "labels"]


def speed_table(frame: pd.DataFrame, columns: tuple[str, ...] = EARLY) -> pd.DataFrame:
    """Mean over seeds of the loss at the checkpoints ``columns``, per (dataset, skip, depth, labels)."""
    return frame.groupby(ORDER_KEYS, as_index=False)[list(columns)].mean()


def _describe(row: pd.Series, keys: list[str]) -> str:
    return " ".join(f"{key}={row[key]}" for key in keys)


def _ordering(table: pd.DataFrame, fixed: list[str], vary: str, pairs,
              columns: tuple[str, ...]) -> tuple[int, list[str]]:
    """Count comparisons within each group of ``fixed`` where ``better`` has the lower mean loss at
    every checkpoint in ``columns``; list the failures. ``pairs(values)`` yields ``(better, worse)``."""
    total, failures = 0, []
    for _, group in table.groupby(fixed):
        by_value = {row[vary]: row for _, row in group.iterrows()}
        for better, worse in pairs(sorted(by_value)):
            if better in by_value and worse in by_value:
                total += 1
                a, b = by_value[better], by_value[worse]
                if not all(a[column] < b[column] for column in columns):
                    failures.append(f"{_describe(a, fixed)}: {vary}={better} {_pair(a, columns)} vs {vary}={worse} "
                                    f"{_pair(b, columns)}")
    return total, failures


def _pair(row: pd.Series, columns: tuple[str, ...]) -> str:
    return "(" + ", ".join(format_number(float(row[column])) for column in columns) + ")"


def orderings(frame: pd.DataFrame, columns: tuple[str, ...] = EARLY) -> dict[str, tuple[int, list[str]]]:
    """The three speed orderings of the brief, from one model family's runs, judged at ``columns``."""
    table = speed_table(frame, columns)
    return {
        "skip": _ordering(table, ["dataset", "labels", "depth"], "skip", lambda values: [(True, False)], columns),
        "depth": _ordering(table[table["skip"]], ["dataset", "labels"], "depth",
                           lambda depths: list(zip(depths[1:], depths[:-1])), columns),
        "labels": _ordering(table, ["dataset", "skip", "depth"], "labels", lambda values: [("true", "shuffled")],
                            columns),
    }


def _steps(steps: int, columns: tuple[str, ...]) -> str:
    at = {"quarter_loss": steps // 4, "mid_loss": steps // 2, "three_quarter_loss": 3 * steps // 4,
          "final_loss": steps}
    return "steps " + " and ".join(str(at[column]) for column in columns) + f" of {steps}"


def _failures(failures: list[str], shown: int = 6) -> str:
    if not failures:
        return ""
    return "; fails at " + "; ".join(failures[:shown]) + (f"; and {len(failures) - shown} more"
                                                          if len(failures) > shown else "")


def _rule(steps: int, seeds: int, columns: tuple[str, ...]) -> str:
    return (f"rule: PASS iff the first has the lower mean training loss (over {seeds} seeds) at "
            f"{_steps(steps, columns)} in every comparison")


STATEMENTS = {"skip": "at every depth, skip connections train faster than no skips",
              "depth": "with skips, deeper trains faster than shallower (consecutive depths)",
              "labels": "true labels train faster than shuffled labels"}


def _ordering_claims(runs: pd.DataFrame, numbers: tuple[str, ...], what: str, steps: int, seeds: int,
                     columns: tuple[str, ...]) -> list[Claim]:
    found = orderings(runs, columns)
    claims = []
    for number, (name, statement) in zip(numbers, STATEMENTS.items()):
        total, failures = found[name]
        claims.append(Claim(f"({number}) {statement} ({what}; {_rule(steps, seeds, columns)})",
                            total > 0 and not failures,
                            f"holds in {total - len(failures)} of {total} comparisons" + _failures(failures)))
    return claims


def check_claims(frame: pd.DataFrame, quantities: pd.DataFrame, protocol: Protocol) -> list[Claim]:
    """The brief's checks, each with its rule, computed from the runs and quantities: (1) the bound at the
    protocol's step and where it binds, (2-4) the orderings early and (on Figure 4's protocol) late, (5)
    the orderings for ReLU, (6a-c) the assumptions."""
    p = protocol
    gcn = frame[frame["operator"] == "GCN"]
    main = gcn[gcn["phase"] == "main"]
    linear, relu = main[main["model"] == "linear"], main[main["model"] == "relu"]
    late = gcn[(gcn["phase"] == "late") & (gcn["model"] == "linear")]
    claims = [_bound_claim(gcn[gcn["phase"].isin(["main", "late"]) & (gcn["model"] == "linear")], p),
              _binding_claim(gcn[gcn["phase"] == "bind"], p)]
    claims += _ordering_claims(linear, ("2", "3", "4"), "linear GCN", p.linear_steps, len(p.seeds), EARLY)
    claims += _ordering_claims(late, ("2L", "3L", "4L"), f"linear GCN, Figure 4's protocol: depths "
                               f"{', '.join(map(str, p.late_depths))}, read late", p.late_steps, len(p.late_seeds),
                               LATE)
    claims.append(_relu_claim(relu, "5", "ReLU GCNs", p.relu_steps, len(p.seeds), EARLY))
    if p.relu_late_seeds:
        relu_late = gcn[(gcn["phase"] == "late") & (gcn["model"] == "relu")]
        claims.append(_relu_claim(relu_late, "5L", "ReLU GCNs on Figure 4's protocol, read late", p.late_steps,
                                  len(p.relu_late_seeds), LATE))
    claims += _assumption_claims(quantities[quantities["operator"] == "GCN"], linear, p)
    return claims


def _relu_claim(runs: pd.DataFrame, number: str, what: str, steps: int, seeds: int,
                columns: tuple[str, ...]) -> Claim:
    """One claim for the three orderings together, for a nonlinear family (the paper states them as one)."""
    found = orderings(runs, columns)
    parts = [f"{name}: {total - len(failures)}/{total}" for name, (total, failures) in found.items()]
    failures = [f"({name}) {text}" for name, (_, listed) in found.items() for text in listed]
    ok = all(total > 0 and not listed for total, listed in found.values())
    return Claim(f"({number}) the same three orderings hold for {what} ({_rule(steps, seeds, columns)}, for each "
                 "of the three)", ok, f"comparisons that hold, {', '.join(parts)}" + _failures(failures))


def _ratios(runs: pd.DataFrame) -> str:
    """Median (min to max) of bound / gap at a quarter, half and the end of the runs."""
    parts = []
    for name, label in (("quarter", "T/4"), ("mid", "T/2"), ("final", "T")):
        values = runs[f"bound_ratio_{name}"].replace(math.inf, np.nan).dropna()
        parts.append(f"{label} {format_number(float(values.median()))} ({_span(values)})" if len(values)
                     else f"{label} –")
    return "bound / measured gap, median (min to max): " + ", ".join(parts)


def _span(values: pd.Series) -> str:
    return f"{format_number(float(values.min()))} to {format_number(float(values.max()))}"


def _broken(runs: pd.DataFrame, p: Protocol) -> pd.DataFrame:
    return runs[(runs["status"] != "ok") | (runs["violation"].fillna(math.inf) > p.bound_tolerance)]


def _bound_claim(linear: pd.DataFrame, p: Protocol) -> Claim:
    """Theorem 1's bound at the protocol's step size: every broken or diverged run counts against it."""
    ok = linear[linear["status"] == "ok"]
    broken = _broken(linear, p)
    parts = []
    for phase, runs in linear.groupby("phase", sort=False):
        steps = int(runs["steps"].iloc[0])
        parts.append(f"{phase} ({steps} steps): held in {len(runs) - len(_broken(runs, p))} of {len(runs)}")
    evidence = (f"{len(linear)} linear GCN runs at lr {_lrs(linear)}, lambda sampled every {p.lambda_every} steps: "
                + "; ".join(parts) + f"; max (gap - bound)/(L(0)-L*) = "
                f"{format_number(float(ok['violation'].max()) if len(ok) else math.nan)}")
    if len(broken):
        configs = [f"{phase} {dataset} H={depth} {'skip' if skip else 'no skip'}: {len(group)}"
                   for (phase, dataset, depth, skip), group in broken.groupby(["phase", "dataset", "depth", "skip"])]
        evidence += (f". Broken or diverged: {', '.join(configs)}; in {int((~broken['descent'].astype(bool)).sum())} "
                     f"of them the loss rose at some step (by up to {format_number(float(broken['max_rise'].max()))}): "
                     "gradient descent left the gradient-flow regime Theorem 1 is about")
    vacuous = int((ok["bound_fraction"] >= 0.999).sum())
    evidence += (f". Tightness: {_ratios(ok)}; the bound at T is still >= 99.9% of the initial gap in {vacuous} of "
                 f"{len(ok)} runs (median measured gap at T: {format_number(float(ok['gap_fraction'].median()))} of "
                 f"the initial one), because lambda_T (restricted) is only {_span(linear['lambda_T'])} at width "
                 f"{p.linear_width}. With the proof's "
                 f"sharper sigma (smallest non-zero singular value) it held in "
                 f"{int((ok['violation_nonzero'] <= p.bound_tolerance).sum())} of {len(ok)}")
    return Claim(f"(1) Theorem 1's bound holds along every linear run at the protocol's learning rate (rule: PASS iff "
                 f"L(t) - L* <= (L(0) - L*) exp(-4 lambda_t sigma_min^2 eta t) + {p.bound_tolerance:g} (L(0) - L*) at "
                 "every step of every run; a diverged run counts as broken)",
                 len(linear) > 0 and broken.empty, evidence)


def _binding_claim(bind: pd.DataFrame, p: Protocol) -> Claim:
    """Theorem 1's bound where it is not vacuous: wide layers (larger lambda_T) and skips (larger sigma_min)."""
    statement = (f"(1b) Theorem 1's bound holds where it binds: {p.bind_dataset}, linear GCN with skips, width "
                 f"{p.bind_width}, depths {', '.join(map(str, p.bind_depths))}, lr {p.bind_lr:g}, {p.bind_steps} "
                 "steps (rule: PASS iff in every run the bound holds at every step as in (1) and has fallen to at "
                 f"most {p.bind_fraction:g} of the initial gap at T)")
    if bind.empty:
        return Claim(statement, False, f"no runs ({p.bind_dataset} is not among the datasets)")
    ok = bind[bind["status"] == "ok"]
    broken = _broken(bind, p)
    binding = int((ok["bound_fraction"] <= p.bind_fraction).sum())
    evidence = (f"{len(bind)} runs: the bound held at every step in {len(bind) - len(broken)}; at T it had fallen to "
                f"{_span(ok['bound_fraction'])} of the initial gap (<= {p.bind_fraction:g} in {binding}), the measured "
                f"gap to {_span(ok['gap_fraction'])}. {_ratios(ok)}. lambda_T (restricted) {_span(bind['lambda_T'])}, "
                f"sigma_min(G_H) {_span(bind['sigma_min'])}; "
                f"max (gap - bound)/(L(0)-L*) = {format_number(float(ok['violation'].max()) if len(ok) else math.nan)}"
                f"; loss rose at some step in {int((~bind['descent'].astype(bool)).sum())} of {len(bind)}")
    return Claim(statement, broken.empty and binding == len(bind), evidence)


def _lrs(frame: pd.DataFrame) -> str:
    return ", ".join(f"{lr:g}" for lr in sorted(frame["lr"].unique()))


def _assumption_claims(quantities: pd.DataFrame, linear: pd.DataFrame, p: Protocol) -> list[Claim]:
    plain, skips = quantities[~quantities["skip"]], quantities[quantities["skip"]]
    degenerate = plain[plain["degenerate"]]
    parts = []
    for dataset, group in degenerate.groupby("dataset"):
        parts.append(f"{dataset} at H={_depth_list(group['depth'])}: sigma_min <= "
                     f"{format_number(float(group['sigma_min'].max()))} (rank {int(group['rank'].min())} < "
                     f"{int(group['train_nodes'].iloc[0])} training nodes)")
    positive = f"min sigma_min over datasets and depths {_depth_list(plain['depth'])}: " + ", ".join(
        f"{d} {format_number(float(g['sigma_min'].min()))}" for d, g in plain.groupby("dataset"))
    claims = [Claim(
        "(6a) sigma_min((X S^H)_(*I)) > 0 without skips on every dataset and depth (Theorem 1's assumption; rule: "
        "PASS iff no M_H is rank-deficient, i.e. every sigma_min is above the rank tolerance)",
        degenerate.empty and len(plain) > 0,
        positive + ("; zero to machine precision for " + "; ".join(parts) if parts else "")
        + f"; with skips sigma_min(G_H) >= {format_number(float(skips['sigma_min'].min()))}")]
    plain_lambda = float(linear["lambda_T_plain"].max()) if len(linear) else math.nan
    claims.append(Claim(
        "(6b) lambda_T > 0 along every linear run (restricted to the row space of M_H; rule: PASS iff its running "
        "minimum is > 0 at the end of every main linear run)",
        len(linear) > 0 and bool((linear["lambda_T"] > 0).all()),
        f"min lambda_T over {len(linear)} runs {format_number(float(linear['lambda_T'].min()))} (no skips: "
        f"{format_number(float(linear.loc[~linear['skip'], 'lambda_T'].min()))}, skips: "
        f"{format_number(float(linear.loc[linear['skip'], 'lambda_T'].min()))}); the plain "
        f"sigma_min(B_bar)^2 is {format_number(plain_lambda)} because width {p.linear_width} < m_x"))
    decays, parts = True, []
    for dataset, group in plain.sort_values("depth").groupby("dataset"):
        values = np.where(group["degenerate"], group["sigma_min_nonzero"], group["sigma_min"])
        falling = len(values) > 1 and bool(np.all(np.diff(values) < 0))  # one depth shows no decay
        decays &= falling
        label = "smallest non-zero singular value" if group["degenerate"].any() else "sigma_min"
        parts.append(f"{dataset} ({label}): " + ", ".join(
            f"H={d} {format_number(float(v))}" for d, v in zip(group["depth"], values)) + ("" if falling else
                                                                                         " (not monotone)"))
    claims.append(Claim("(6c) sigma_min without skips decays with depth H (rule: PASS iff it falls strictly from each "
                        "depth to the next on every dataset; the smallest non-zero singular value where M_H is "
                        "degenerate)", decays and len(plain) > 0,
                        "; ".join(parts)))
    return claims


def _depth_list(depths: pd.Series) -> str:
    values = sorted(set(int(d) for d in depths))
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    return ",".join(map(str, values))


"""DeZoort & Hanin (2023): the ablation of the three principles for deep ReLU GNNs.

Switches: initialisation {glorot (PyG's default), gnn_he}, residual aggregation a {0, 0.5},
residual connections {none, fixup (beta = 1/sqrt(L))}; depths, both ``gcn`` and ``sum``
aggregation, Cora (public split) and the built-in CSBM, several seeds, ~100 epochs of
full-batch Adam. The learning rate is chosen once, by a small search documented in the
report, not per cell. The paper's claims are checked from the results (never asserted), each
by a rule stated in its line; a claim that fails is reported as failing:

- (1) with sum aggregation gnn_he trains where glorot does not, one failure rule for both
  (diverged, or no better than chance at epoch 50); (1b) divergence alone;
- (2) at depth >= 32 the three fixes together reach the target loss fastest of all eight
  combinations (every pair and single fix, not only the PyG default), with the full ranking;
- (3) each fix alone lowers the area under the loss curve against the PyG default.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import ModelConfig, TrainConfig
from ..report import Claim, claims_section, markdown_table, plot_loss_curves, summary_table
from ..report.tables import finite_or_inf
from ..sweep import ResultStore, expand, run_sweep
from ..runs import environment, write_atomic, write_json
from .common import choose_protocol, command_line, require_datasets

SWITCHES = ("init", "residual_aggregation", "residual")
BASELINE = {"init": "glorot", "residual_aggregation": 0.0, "residual": "none"}
PRINCIPLED = {"init": "gnn_he", "residual_aggregation": 0.5, "residual": "fixup"}
PRINCIPLE_NAMES = {"init": "gnn_he initialisation", "residual_aggregation": "residual aggregation a=0.5",
                   "residual": "fixup residual connections"}
STALL_FRACTION = 0.9  # a run 'stalls' if its loss at epoch 50 is above 90% of chance level, ln(classes)


@dataclass(frozen=True)
class Protocol:
    datasets: tuple[str, ...] = ("cora", "csbm")
    aggregations: tuple[str, ...] = ("gcn", "sum")
    depths: tuple[int, ...] = (4, 16, 32, 64)
    seeds: int = 5
    epochs: int = 100
    width: int = 64
    target_loss: float = 0.5
    lr_candidates: tuple[float, ...] = (0.001, 0.003, 0.01)
    lr_search_depth: int = 16


FULL = Protocol()
QUICK = Protocol(depths=(4, 32), seeds=2)


def grid(protocol: Protocol) -> dict[str, list[Any]]:
    return {"aggregation": list(protocol.aggregations), "depth": list(protocol.depths), "init": ["glorot", "gnn_he"],
            "residual_aggregation": [0.0, 0.5], "residual": ["none", "fixup"]}


def choose_learning_rate(protocol: Protocol, out: Path, data_root: str | None, workers: int,
                         progress: bool) -> tuple[float, pd.DataFrame]:
    """The candidate with the lowest mean area under the training-loss curve over all eight
    switch combinations (first dataset, ``gcn``, depth ``lr_search_depth``, seed 0)."""
    model = ModelConfig(depth=protocol.lr_search_depth, width=protocol.width, aggregation="gcn")
    train = TrainConfig(epochs=protocol.epochs, device="cpu")
    switch_grid = {k: v for k, v in grid(protocol).items() if k in SWITCHES}
    specs = expand(protocol.datasets[0], model, train, {**switch_grid, "lr": list(protocol.lr_candidates)}, [0],
                   data_root)
    frame = run_sweep(specs, out / "lr_search", workers, target_loss=protocol.target_loss, progress=progress,
                      description={"purpose": "learning-rate search"})
    table = lr_table(frame)
    return float(table.loc[table["mean_loss_auc"].idxmin(), "lr"]), table


def lr_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per candidate learning rate: mean area under the training-loss curve (diverged = inf)."""
    frame = frame.assign(loss_auc_or_inf=frame["loss_auc"].map(finite_or_inf))
    return frame.groupby("lr").agg(mean_loss_auc=("loss_auc_or_inf", "mean"),
                                   diverged=("status", lambda s: int((s != "ok").sum()))).reset_index()


def _cells(frame: pd.DataFrame, switches: dict[str, Any]) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    for key, value in switches.items():
        mask &= frame[key] == value
    return frame[mask]


def _failed(row: pd.Series) -> bool:
    """The one rule a run is judged by, whatever its init: it diverged, or it is no better than
    chance by epoch 50 (loss above 90% of ``ln(classes)``, the loss of a uniform output)."""
    return row["status"] != "ok" or finite_or_inf(row["loss_at_50"]) > STALL_FRACTION * math.log(row["num_classes"])


FIXES = {"init": "gnn_he", "residual_aggregation": "a=0.5", "residual": "fixup"}


def combination_name(switches: dict[str, Any]) -> str:
    """``"gnn_he + a=0.5 + fixup"``, ``"glorot + fixup"``, ...: which of the three fixes are on."""
    fixes = [FIXES[key] for key in SWITCHES if switches[key] == PRINCIPLED[key]]
    if switches["init"] != PRINCIPLED["init"]:
        fixes.insert(0, "glorot")
    return " + ".join(fixes) if len(fixes) > 1 else "glorot (no fix)" if fixes == ["glorot"] else fixes[0]


def combinations() -> list[dict[str, Any]]:
    """The eight switch combinations: the full one, each pair, each single fix, the PyG default."""
    return [dict(zip(SWITCHES, values)) for values in itertools.product(
        *[(PRINCIPLED[key], BASELINE[key]) for key in SWITCHES])]


def ranking(cell: pd.DataFrame) -> pd.DataFrame:
    """The eight combinations of one (dataset, aggregation, depth) cell, fastest first.

    ``mean_epochs``: mean epochs to the target loss over seeds, infinite when a seed never
    reaches it (the claim's rule). Combinations with equal (infinite) means are ordered by how
    many seeds reached the target, then by their mean over those seeds.
    """
    rows = []
    for switches in combinations():
        epochs = _cells(cell, switches).set_index("seed")["epochs_to_target"].map(finite_or_inf).sort_index()
        reached = epochs[epochs < math.inf]
        rows.append({"combination": combination_name(switches), "mean_epochs": float(epochs.mean()),
                     "reached": len(reached), "runs": len(epochs),
                     "mean_reached": float(reached.mean()) if len(reached) else math.inf, "epochs": epochs})
    table = pd.DataFrame(rows)
    table = table.sort_values(["mean_epochs", "reached", "mean_reached"], ascending=[True, False, True],
                              kind="stable").reset_index(drop=True)
    keys = list(zip(table["mean_epochs"], -table["reached"], table["mean_reached"]))
    table["rank"] = [1 + sum(other < key for other in keys) for key in keys]  # ties share a rank
    return table


def _speed(row: pd.Series) -> str:
    if row["reached"] == row["runs"]:
        return f"{row['mean_epochs']:.1f}"
    if row["reached"] == 0:
        return "never"
    return f"{row['mean_reached']:.1f} in {row['reached']}/{row['runs']}"


def check_claims(frame: pd.DataFrame, protocol: Protocol) -> list[Claim]:
    """The claim checks, computed from the sweep's rows; each states its rule."""
    claims: list[Claim] = []
    cell_keys = ["dataset", "depth", "residual_aggregation", "residual"]
    failure = f"diverges or its loss at epoch 50 is above {STALL_FRACTION:.0%} of chance level ln C"

    # (1) with sum aggregation, gnn_he trains where glorot does not, both judged by one rule.
    summed = frame[frame["aggregation"] == "sum"]
    total_cells = summed.groupby(cell_keys).ngroups
    bad_cells, glorot_failed, he_runs, he_failed = 0, 0, 0, {}
    bad_diverged_cells, glorot_diverged, he_runs_diverged, he_diverged = 0, 0, 0, 0
    for keys, cell in summed.groupby(cell_keys):
        glorot, gnn_he = cell[cell["init"] == "glorot"], cell[cell["init"] == "gnn_he"]
        failed = sum(_failed(row) for _, row in glorot.iterrows())
        if failed:
            bad_cells += 1
            glorot_failed += failed
            he_runs += len(gnn_he)
            residual = keys[cell_keys.index("residual")]
            he_failed.setdefault(residual, [0, 0])
            he_failed[residual][0] += sum(_failed(row) for _, row in gnn_he.iterrows())
            he_failed[residual][1] += len(gnn_he)
        if (glorot["status"] != "ok").any():
            bad_diverged_cells += 1
            glorot_diverged += int((glorot["status"] != "ok").sum())
            he_runs_diverged += len(gnn_he)
            he_diverged += int((gnn_he["status"] != "ok").sum())
    he_failures = sum(failed for failed, _ in he_failed.values())
    split = "; ".join(f"residual={residual}: {failed} of {runs}"
                      for residual, (failed, runs) in sorted(he_failed.items()))
    claims.append(Claim(
        "(1) with sum aggregation, gnn_he trains in every run of the cells where glorot does not (rule, for both "
        f"inits: a run fails when it {failure})",
        bad_cells > 0 and he_runs > 0 and he_failures == 0,
        f"glorot failed in {glorot_failed} runs, in {bad_cells} of {total_cells} sum cells; in those cells gnn_he "
        f"failed in {he_failures} of {he_runs} runs ({split})"
        + ("" if not bad_cells or he_runs else " (vacuous: no gnn_he runs in those cells)")
        + ("" if bad_cells else " (vacuous: glorot never failed)")))
    claims.append(Claim(
        "(1b) with sum aggregation, gnn_he never diverges where glorot diverges (rule, for both inits: NaN or "
        "infinite loss)",
        bad_diverged_cells > 0 and he_runs_diverged > 0 and he_diverged == 0,
        f"glorot diverged in {glorot_diverged} runs, in {bad_diverged_cells} of {total_cells} sum cells; in those "
        f"cells gnn_he diverged in {he_diverged} of {he_runs_diverged} runs"
        + ("" if not bad_diverged_cells or he_runs_diverged else " (vacuous: no gnn_he runs in those cells)")
        + ("" if bad_diverged_cells else " (vacuous: glorot never diverged)")))

    # (2) at depth >= 32 the three fixes together reach the target fastest of all eight combinations.
    full = combination_name(PRINCIPLED)
    for dataset, aggregation, depth in itertools.product(protocol.datasets, protocol.aggregations, protocol.depths):
        if depth < 32:
            continue
        table = ranking(_cells(frame, {"dataset": dataset, "aggregation": aggregation, "depth": depth}))
        mine = table[table["combination"] == full].iloc[0]
        faster = table[table["mean_epochs"] < mine["mean_epochs"]]
        beaten_by = [f"{row['combination']} ({_speed(row)} vs {_speed(mine)}; faster in "
                     f"{int((row['epochs'] < mine['epochs']).sum())}, tied in "
                     f"{int((row['epochs'] == mine['epochs']).sum())} of {len(mine['epochs'])} seeds)"
                     for _, row in faster.iterrows()]
        order = "".join(
            (" = " if position and row["rank"] == table["rank"][position - 1] else " < " if position else "")
            + f"{row['combination']} {_speed(row)}" for position, row in table.iterrows())
        claims.append(Claim(
            f"(2) {dataset}/{aggregation}/depth {depth}: {full} reaches loss {protocol.target_loss} fastest of the "
            "8 combinations (rule: lowest mean epochs to target over seeds, a seed that never reaches it counts "
            "as infinite; a tie counts as fastest)",
            bool(faster.empty and mine["runs"] > 0),
            (f"ranked {mine['rank']} of {len(table)}" if mine["runs"] else f"no runs of {full} in this cell")
            + (f"; beaten by {'; '.join(beaten_by)}" if beaten_by else "") + f". Order: {order}"))

    # (3) each principle alone helps: lower mean area under the loss curve than the baseline, at depth >= 16.
    deep = [d for d in protocol.depths if d >= 16]
    for switch, name in PRINCIPLE_NAMES.items():
        alone = {**BASELINE, switch: PRINCIPLED[switch]}
        losses = []
        for dataset, aggregation, depth in itertools.product(protocol.datasets, protocol.aggregations, deep):
            cell = _cells(frame, {"dataset": dataset, "aggregation": aggregation, "depth": depth})
            with_it = _cells(cell, alone)["loss_auc"].map(finite_or_inf).mean()
            without = _cells(cell, BASELINE)["loss_auc"].map(finite_or_inf).mean()
            if not with_it < without:
                losses.append(f"{dataset}/{aggregation}/L={depth} ({_auc(with_it)} vs {_auc(without)})")
        cells = len(protocol.datasets) * len(protocol.aggregations) * len(deep)
        claims.append(Claim(
            f"(3) {name} alone lowers the mean area under the training-loss curve vs the PyG default (depth >= 16; "
            "rule: in every cell, a diverged run's area counts as infinite)",
            not losses, f"helps in {cells - len(losses)} of {cells} cells"
                        + (f"; does not in: {'; '.join(losses)}" if losses else "")))
    return claims


def ranking_table(frame: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """Mean epochs to target (with rank) of every combination, one column per cell at depth >= 32."""
    columns = {}
    for dataset, aggregation, depth in itertools.product(protocol.datasets, protocol.aggregations, protocol.depths):
        if depth < 32:
            continue
        table = ranking(_cells(frame, {"dataset": dataset, "aggregation": aggregation, "depth": depth}))
        columns[f"{dataset}/{aggregation}/{depth}"] = {
            row["combination"]: f"{_speed(row)} (#{row['rank']})" for _, row in table.iterrows()}
    order = [combination_name(switches) for switches in combinations()]
    return pd.DataFrame(columns).reindex(order).rename_axis("combination").reset_index()


def _auc(value: float) -> str:
    return "diverged" if math.isinf(value) else f"{value:.3g}"


def run(out: str | Path, quick: bool = False, data_root: str | None = None, workers: int = 1,
        lr: float | None = None, datasets: tuple[str, ...] | None = None, progress: bool = True,
        protocol: Protocol | None = None, report_only: bool = False) -> Path:
    """Run the ablation into ``out`` (resumable) and write ``out/report.md`` with figures.

    ``protocol`` overrides the full/quick presets (``FULL``, ``QUICK``); ``report_only``
    re-renders the report from the runs already in ``out`` without training anything.
    """
    started = time.time()
    out = Path(out)
    protocol = choose_protocol(FULL, QUICK, quick, protocol, datasets)
    if report_only:
        return render_from_store(out, protocol, recorded_command(out), None)
    require_datasets(protocol.datasets, data_root)
    if lr is None:
        lr, _ = choose_learning_rate(protocol, out, data_root, workers, progress)
    model = ModelConfig(width=protocol.width)
    train = TrainConfig(epochs=protocol.epochs, lr=lr, device="cpu")
    specs = [spec for dataset in protocol.datasets
             for spec in expand(dataset, model, train, grid(protocol), list(range(protocol.seeds)), data_root)]
    run_sweep(specs, out / "sweep", workers, target_loss=protocol.target_loss, progress=progress,
              description={"protocol": asdict(protocol), "lr": lr})
    write_json(out / "env.json", {**environment(0, "cpu"), "command": command_line("dezoort2023", quick),
                                  "protocol": asdict(protocol), "lr": lr})
    return render_from_store(out, protocol, command_line("dezoort2023", quick), time.time() - started)


def recorded_command(out: Path) -> str:
    """The command that made the runs in ``out`` (from its ``env.json``), for a re-rendered report."""
    env = out / "env.json"
    made_by = json.loads(env.read_text()).get("command", "unknown") if env.exists() else "unknown"
    return made_by


def render_from_store(out: Path, protocol: Protocol, command: str, seconds: float | None) -> Path:
    """Claims, figures and ``report.md`` from the results in ``out/sweep`` and ``out/lr_search``."""
    frame = ResultStore(out / "sweep").frame()
    if frame.empty:
        raise FileNotFoundError(f"no results under {out / 'sweep'}: run the reproduction first")
    lr = float(frame["lr"].iloc[0])
    search = ResultStore(out / "lr_search").frame()
    searched = lr_table(search) if not search.empty else pd.DataFrame({"lr": [lr], "mean_loss_auc": [math.nan]})
    claims = check_claims(frame, protocol)
    figures = []
    for dataset, aggregation in itertools.product(protocol.datasets, protocol.aggregations):
        subset = _cells(frame, {"dataset": dataset, "aggregation": aggregation})
        figure = out / f"loss_{dataset}_{aggregation}.png"
        if not _has_curves(out / "sweep", subset) and figure.exists():
            figures.append(figure)  # the per-run curves are gone (only results.csv is kept): keep the figure
            continue
        figures.append(plot_loss_curves(
            subset, out / "sweep", list(SWITCHES), "depth", out / f"loss_{dataset}_{aggregation}.png",
            title=f"{dataset}, {aggregation} aggregation: training loss, first 50 epochs (median over "
                  f"{protocol.seeds} seeds, band min-max)", epochs=50, y_max=10.0,
            short_names={"residual_aggregation": "a"}))
    report = render_report(frame, claims, protocol, lr, searched, figures, out, command, seconds)
    write_atomic(out / "report.md", report)
    return out / "report.md"


def _has_curves(sweep: Path, runs: pd.DataFrame) -> bool:
    """Whether every run's ``metrics.csv`` (its loss curve) is still under ``sweep/runs``."""
    return all((sweep / "runs" / run_id / "metrics.csv").exists() for run_id in runs["run_id"])


def render_report(frame: pd.DataFrame, claims: list[Claim], protocol: Protocol, lr: float, lr_table: pd.DataFrame,
                  figures: list[Path], out: Path, command: str, seconds: float | None) -> str:
    table = summary_table(frame, ["dataset", "aggregation", "depth", *SWITCHES],
                          ["epochs_to_target", "loss_at_10", "loss_at_50", "test_acc_at_best_val"])
    lines = [
        "# DeZoort & Hanin (2023): the three principles, ablated",
        "",
        f"Command: `{command}` (results in `sweep/results.csv`, one directory per run under `sweep/runs/`"
        + (f"; wall time {seconds / 60:.1f} min)." if seconds is not None else
           "; this report was re-rendered from the stored runs with `--report-only`, see `env.json`)."),
        "",
        f"Protocol (ours; the paper's exact settings were not available): datasets {', '.join(protocol.datasets)}; "
        f"aggregations {', '.join(protocol.aggregations)}; depths {', '.join(map(str, protocol.depths))}; width "
        f"{protocol.width}; init {{glorot, gnn_he}} x residual aggregation a {{0, 0.5}} x residual {{none, fixup "
        f"beta=1/sqrt(L)}}; {protocol.seeds} seeds (initialisation; the graph and split are fixed); "
        f"{protocol.epochs} epochs of full-batch Adam, lr {lr}, no dropout or weight decay; target training loss "
        f"{protocol.target_loss}.",
        "",
        "## Learning rate, chosen once",
        "",
        f"Candidates {', '.join(map(str, protocol.lr_candidates))} on {protocol.datasets[0]}, gcn, depth "
        f"{protocol.lr_search_depth}, seed 0, all eight switch combinations; the lowest mean area under the "
        "training-loss curve (diverged = inf) wins:",
        "",
        markdown_table(lr_table),
        "",
        "## Claim checks (computed from the results)",
        "",
        claims_section(claims),
        "",
        "## Early-training loss curves",
        "",
        *[f"![{figure.stem}]({figure.name})" for figure in figures],
        "",
        f"## Ranking of the eight combinations (depth >= 32): mean epochs to loss {protocol.target_loss}",
        "",
        "Mean over seeds (rank in its column); `x in k/n`: only k of n seeds reached the target, mean over those "
        "(ranked after every combination that always reaches it).",
        "",
        markdown_table(ranking_table(frame, protocol)),
        "",
        "## Epochs to target, early losses and test accuracy (mean ± std over seeds; (k/n): k runs reached it)",
        "",
        markdown_table(table),
        "",
    ]
    return "\n".join(lines)

"""The benchmark's report: leaderboard, cost, ablation, targets, the depth figure and what ran."""

from __future__ import annotations

import math
import shlex
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..report.markdown import Claim, claims_section, markdown_table
from ..report.plots import plot_against_depth
from ..runs import write_atomic
from ..sweep.grid import RunSpec
from ..sweep.store import ResultStore
from .chosen import chosen_configs, dataset_changes
from .leaderboard import ACCURACY, SELECTION, chosen_depths, leaderboard_tables, summary
from .protocols import CURVE, EpochOfBestMean, epoch_of_best_mean
from .suite import DATASET_ORDER, DEEP, FATHOM, FULL_BUDGET, LEAST_VAL_LOSS, TARGET_DEPTH, Preset

RIVALS = ("GCNII", "APPNP", "JKNet")  # the deep baselines Fathom's deep model must match
PUBLISHED_TARGETS = {"cora": 85.5, "citeseer": 73.4, "pubmed": 80.3}  # GCNII, Chen et al. 2020, Table 2
# GIN-0, Xu et al. 2019 (ICLR), Table 1: mean ± std over 10 folds at the epoch of best mean across folds
PUBLISHED_GIN = {"mutag": (89.4, 5.6), "proteins": (76.2, 2.8), "imdb-binary": (75.1, 5.1), "nci1": (82.7, 1.7)}
# GIN re-evaluated by Errica et al. 2020 (ICLR), Table 3, under hold-out selection (the leaderboard's rule);
# MUTAG was not among their datasets
REEVALUATED_GIN = {"proteins": (73.3, 4.0), "imdb-binary": (71.2, 3.9), "nci1": (80.0, 1.4)}
GRAPH_DEPTH = 16  # "deep" on the graph-classification sets
BUDGET_HOURS, BUDGET_WORKERS = 2.0, 2  # the benchmark issue's budget for the full preset
DUPLICATE_LEAKS = ("chameleon", "squirrel")


RESTRICTING = ("--datasets", "--models", "--folds", "--report-only")  # options that run part of a preset
STATE_FILE = "benchmark.json"  # run_benchmark records each invocation, its wall time and the environment


def whole_preset_command(command: str) -> str:
    """``command`` (a ``fathom benchmark`` invocation) without the options that restrict it to part of
    the preset: the command that runs, or resumes, the whole of it into the same folder."""
    tokens, kept = shlex.split(command), []
    skip = False
    for token in tokens:
        if skip:
            skip = False
            continue
        name = token.split("=", 1)[0]
        if name in RESTRICTING:
            skip = "=" not in token and name != "--report-only"
            continue
        kept.append(token)
    return shlex.join(kept)


def _restrictions(commands: list[str]) -> list[str]:
    used = {token.split("=", 1)[0] for command in commands for token in shlex.split(command)}
    return [option for option in RESTRICTING if option in used]


def write_report(out: Path, preset: Preset, planned: list[tuple[str, RunSpec]], frame: pd.DataFrame,
                 state: dict[str, Any], store: ResultStore | None = None) -> None:
    """``report.md`` and ``leaderboard.md`` in ``out`` over the ``finished`` rows of ``frame``;
    ``store`` (the runs' per-epoch histories) adds the graph-classification datasets' reading under
    GIN's paper's selection rule."""
    entries = [e.label for e in preset.entries
               if not e.ablation and not e.label.endswith((FULL_BUDGET, LEAST_VAL_LOSS))]
    ablations = [e.label for e in preset.entries if e.ablation]
    planned_datasets = list(dict.fromkeys(spec.dataset for _, spec in planned))
    datasets = [d for d in DATASET_ORDER if d in planned_datasets] + [d for d in planned_datasets
                                                                      if d not in DATASET_ORDER]
    finished = frame[frame["status"].isin(["ok", "diverged"])] if not frame.empty else frame
    every_split = [d for d in datasets if d in preset.every_split]
    lines = [f"# Benchmark ({preset.name} preset)", "",
             "Test accuracy (%) at the epoch of best validation accuracy, mean ± std over seeds (n; on "
             "graph-classification datasets over the 10 cross-validation folds, each fold's validation a "
             "stratified tenth of its training graphs"
             + (f"; on {', '.join(every_split)} over the 10 Geom-GCN splits, one run of seed 0 on each"
                if every_split else "") + "); for "
             "each model and dataset the depth L with the best mean *validation* accuracy over the seeds that every "
             "depth ran (the shallower on a tie), and its test accuracy over all its seeds; a depth picked from a "
             "depth curve (run on fewer seeds) then runs as many seeds as the model's main depth. Every model on the "
             "dataset's standard split" + (" (the other geom-gcn datasets: split 0)" if every_split else "")
             + ", features as its protocol gives them, at most "
             f"{preset.max_epochs} epochs with early stopping after {preset.patience} epochs without a better "
             "validation accuracy. Best mean per dataset in bold.", ""]
    invocations = state.get("invocations", [])
    unfinished = sum(1 for i in invocations if i.get("seconds") is None)
    training = finished["seconds"].sum() / 60 if not finished.empty else 0.0
    commands = [invocation["command"] for invocation in invocations]
    lines += [f"Command: `{whole_preset_command(commands[-1]) if commands else ''}`  ",
              *([f"It ran as invocations restricted by {', '.join(_restrictions(commands))} "
                 f"(each command in `{STATE_FILE}`); the last: `{commands[-1]}`  "] if _restrictions(commands) else []),
              f"Wall time of the invocations that finished: {state.get('wall_seconds', 0) / 60:.0f} min; "
              f"{len(invocations)} invocation(s), {unfinished} stopped before the end. Training time summed "
              f"over the finished runs: {training:.0f} min. Finished runs: {len(finished)} of {len(planned)} "
              "planned.", ""]
    if finished.empty:
        write_atomic(out / "report.md", "\n".join(lines + ["No run has finished yet."]) + "\n")
        write_atomic(out / "leaderboard.md", "No run has finished yet.\n")
        return
    accuracy, cost = leaderboard_tables(finished, entries, datasets)
    write_atomic(out / "leaderboard.md", accuracy + "\n")
    lines += ["## Leaderboard", "", accuracy, "", "## Cost at the same depths",
              "", "Median epoch time and median peak memory of a run (CPU: the process's peak resident set, "
              "Python and the data included; machines under load from parallel runs).", "", cost, ""]
    lines += _notes(datasets) + _fathom_configs(datasets)
    gcnii_rule = gcnii_rule_table(finished, datasets)
    if not gcnii_rule.empty:
        lines += ["## GCNII's published figures under their own selection rule", "", _GCNII_RULE_TEXT, "",
                  markdown_table(gcnii_rule), ""]
    rules = selection_rules(finished, datasets, store) if store is not None else {}
    if rules:
        lines += ["## Graph classification under both selection rules", "", _RULES_TEXT, "",
                  markdown_table(rules_table(finished, rules)), ""]
    claims = target_claims(finished, datasets, rules)
    progress = _progress(planned, frame)
    if preset.name == "full":
        claims.append(budget_claim(progress))
    if claims:
        lines += ["## Targets", "", claims_section(claims), ""]
    if ablations:
        done = finished["entry"].isin(ablations).any()
        lines += ["## Ablation: Fathom without each option", "",
                  ablation_table(finished, ablations, datasets) if done else "No ablation run has finished yet.", ""]
    curve = finished[finished["status"] == "ok"]
    curve = curve[curve.groupby(["entry", "dataset"])["depth"].transform("nunique") > 1]
    if not curve.empty:
        plot_against_depth(curve.assign(model=curve["entry"], accuracy=curve[ACCURACY] * 100), "accuracy",
                           out / "accuracy_vs_depth.png", ylabel="test accuracy (%)",
                           title="Test accuracy at best validation against depth")
        lines += ["## Accuracy against depth", "", "![accuracy against depth](accuracy_vs_depth.png)", ""]
    lines += ["## What ran", "", f"Cost: {budget_claim(progress).evidence}.", "", _progress_table(progress), ""]
    write_atomic(out / "report.md", "\n".join(lines) + "\n")


def _notes(datasets: list[str]) -> list[str]:
    notes = []
    if "pubmed" in datasets:
        notes.append("- **pubmed** here is the shelf's approximate PubMed (`data.approximate`); its accuracies are "
                     "not comparable to published PubMed figures.")
    leaky = [d for d in DUPLICATE_LEAKS if d in datasets]
    if leaky:
        notes.append(f"- **{', '.join(leaky)}** contain duplicate nodes (same features and neighbours) that fall "
                     "on both sides of the splits, so test accuracy is inflated by leakage "
                     "(`fathom datasets` counts them; Platonov et al., ICLR 2023).")
    return (["## Notes", "", *notes, ""] if notes else [])


def _fathom_configs(datasets: list[str]) -> list[str]:
    """Fathom's configuration on each dataset (``chosen.json``) and how it was chosen."""
    configs = chosen_configs()
    default = configs["default"]
    lines = ["## Fathom's configuration", "",
             "Default, from `src/fathom/benchmark/chosen.json` (" + default.get("how", "") + "): "
             + ", ".join(f"`{k}={v}`" for k, v in {**default["params"], **default["train"]}.items()) + ".", ""]
    for dataset in datasets:
        own = configs.get(dataset)
        if own:
            params, train = dataset_changes(dataset, configs)
            changes = {**params, **train}
            lines.append(f"- **{dataset}**: " + ", ".join(f"`{k}={v}`" for k, v in changes.items())
                         + f" ({own.get('how', '')})")
    return lines + [""]


def _best_deep(frame: pd.DataFrame, entry: str, dataset: str, min_depth: int = 0) -> pd.Series | None:
    rows = frame[(frame["entry"] == entry) & (frame["dataset"] == dataset) & (frame["depth"] >= min_depth)]
    table = summary(rows)
    return None if table.empty else table.iloc[0]


def _standard_error_of_gap(first: pd.Series, second: pd.Series) -> str:
    """``standard error s, unpaired``, ``s = sqrt(s1^2/n1 + s2^2/n2)`` of the difference of two means over
    independent runs (on paired splits a conservative one); empty where either has one run."""
    if first["seeds"] < 2 or second["seeds"] < 2:
        return ""
    error = (first["std"] ** 2 / first["seeds"] + second["std"] ** 2 / second["seeds"]) ** 0.5
    return f"standard error {error:.2f}, unpaired"


def _paired_gap(frame: pd.DataFrame, dataset: str, first: tuple[str, int], second: tuple[str, int]) -> str:
    """``paired over the k runs both ran: d ± s``: the mean of the per-run differences ``d_i`` over the
    (seed, split) pairs that both ``(entry, depth)`` ran, and its standard error ``std(d_i) / sqrt(k)``, in which
    a seed or split that is hard for both models cancels; empty under two shared runs."""
    keys = [key for key in ("seed", "split") if key in frame]

    def runs(entry: str, depth: int) -> pd.Series:
        rows = frame[(frame["entry"] == entry) & (frame["dataset"] == dataset) & (frame["depth"] == depth)
                     & (frame["status"] == "ok")]
        return rows.drop_duplicates(keys, keep="last").set_index(keys)[ACCURACY]

    differences = (runs(*first) - runs(*second)).dropna() * 100
    if len(differences) < 2:
        return ""
    error = differences.std(ddof=1) / math.sqrt(len(differences))
    return f"paired over the {len(differences)} runs both ran: {differences.mean():+.2f} ± {error:.2f}"


def target_claims(frame: pd.DataFrame, datasets: list[str],
                  rules: dict[tuple[str, str], RuleRead] | None = None) -> list[Claim]:
    """The issue's targets, each a claim that the data can fail; ``rules`` (from
    :func:`selection_rules`) gives the graph-classification reads under GIN's paper's rule."""
    claims = []
    for dataset, target in PUBLISHED_TARGETS.items():
        fathom = _best_deep(frame, FATHOM, dataset, TARGET_DEPTH)
        own_rule = _best_deep(frame, f"{FATHOM} {LEAST_VAL_LOSS}", dataset, TARGET_DEPTH)
        if fathom is None and own_rule is None:
            continue
        read = (f"{own_rule['mean']:.1f} ± {own_rule['std']:.1f} % at L={int(own_rule['depth'])} over "
                f"{int(own_rule['seeds'])} seeds (10 required)" if own_rule is not None else "no run yet")
        if fathom is not None:
            read += (f"; at its best validation accuracy, the leaderboard's rule: {fathom['mean']:.1f} ± "
                     f"{fathom['std']:.1f} % at L={int(fathom['depth'])} over {int(fathom['seeds'])} seeds")
        claims.append(Claim(f"{dataset}: Fathom at >= {TARGET_DEPTH} blocks, selected as GCNII's paper selected (the "
                            f"epoch of least validation loss), reaches GCNII's published {target} %",
                            own_rule is not None and own_rule["mean"] >= target and own_rule["seeds"] >= 10, read))
    for dataset in datasets:
        fathom = _best_deep(frame, FATHOM, dataset, DEEP)
        rivals = [(name, _best_deep(frame, name, dataset)) for name in RIVALS]
        rivals = [(name, row) for name, row in rivals if row is not None]
        if fathom is None or not rivals:
            continue
        name, best = max(rivals, key=lambda pair: pair[1]["mean"])
        gap = fathom["mean"] - best["mean"]
        errors = "; ".join(part for part in (_standard_error_of_gap(fathom, best), _paired_gap(
            frame, dataset, (FATHOM, int(fathom["depth"])), (name, int(best["depth"])))) if part)
        claims.append(Claim(f"{dataset}: Fathom's best deep model (>= {DEEP} blocks) >= the best of "
                            f"{', '.join(RIVALS)}", gap >= 0,
                            f"Fathom {fathom['mean']:.2f} % (L={int(fathom['depth'])}) vs {name} "
                            f"{best['mean']:.2f} % (L={int(best['depth'])}): {gap:+.2f} points"
                            + (f" ({errors})" if errors else "")))
    for dataset, (mean, std) in PUBLISHED_GIN.items():
        rule = (rules or {}).get((FATHOM, dataset))
        statement = (f"{dataset}: Fathom at >= {GRAPH_DEPTH} blocks, its folds read by GIN's paper's rule (the "
                     f"epoch of best mean across folds), within the spread of GIN's published {mean} ± {std} % "
                     f"(rule: mean >= {mean - std:.1f} over 10 folds)")
        if rule is None:
            if _best_deep(frame, FATHOM, dataset, GRAPH_DEPTH) is not None:  # runs, but nothing to read the rule on
                claims.append(Claim(statement, False, "no read: fewer than 2 folds, or no per-epoch history"))
            continue
        read = rule.read
        undecided = "; undecided: early stopping cut a fold short, a run of the whole budget decides" \
            if read.lower_bound and read.mean * 100 < mean - std else ""
        claims.append(Claim(statement, read.mean * 100 >= mean - std and read.folds >= 10, rule.describe() + undecided))
    for dataset, (mean, std) in REEVALUATED_GIN.items():
        fathom = _best_deep(frame, FATHOM, dataset, GRAPH_DEPTH)
        if fathom is None:
            continue
        claims.append(Claim(f"{dataset}: Fathom at >= {GRAPH_DEPTH} blocks, hold-out selection, within the spread of "
                            f"GIN re-evaluated under the same rule by Errica et al., {mean} ± {std} % (rule: mean >= "
                            f"{mean - std:.1f} over 10 folds)", fathom["mean"] >= mean - std and fathom["seeds"] >= 10,
                            f"{fathom['mean']:.1f} ± {fathom['std']:.1f} % at L={int(fathom['depth'])} over "
                            f"{int(fathom['seeds'])} folds"))
    fathom_ok = frame[(frame["entry"] == FATHOM) & (frame["status"] == "ok")]
    for dataset in PUBLISHED_TARGETS:
        runs = fathom_ok[(fathom_ok["dataset"] == dataset) & fathom_ok["depth"].isin([64, 256])]
        seeds = [set(runs.loc[runs["depth"] == depth, "seed"]) for depth in (64, 256)]
        shared = seeds[0] & seeds[1]  # the two depths compared on the same seeds
        if shared:
            at = runs[runs["seed"].isin(shared)].groupby("depth")[ACCURACY].mean() * 100
            claims.append(Claim(f"{dataset}: Fathom at 256 blocks within 1 point of its 64-block accuracy, on the "
                                "seeds both ran", abs(at[256] - at[64]) <= 1.0,
                                f"{at[256]:.1f} % vs {at[64]:.1f} % over seeds "
                                f"{', '.join(str(int(s)) for s in sorted(shared))}"))
    return claims


_GCNII_RULE_TEXT = (
    "GCNII's published Planetoid accuracies (Chen et al. 2020, Table 2) were read at the epoch of least "
    "validation loss, each run stopped after 100 epochs without a lower one (the authors' `train.py`); the "
    "leaderboard reads every model at its best validation accuracy. The entries marked "
    f"'{LEAST_VAL_LOSS}' are Fathom at {TARGET_DEPTH} blocks and GCNII at its published depth run again with "
    "that rule and nothing else changed (same seeds, settings and budget; `--selection val_loss`), and the "
    "published figures are compared with them. Test accuracy (%), mean ± std (seeds), at each rule's epoch.")


def gcnii_rule_table(frame: pd.DataFrame, datasets: list[str]) -> pd.DataFrame:
    """Per Planetoid dataset where a run selected on the validation loss finished: Fathom and GCNII
    under both selection rules, each at the depth of its twin selected on the loss (Fathom's target
    depth, GCNII's published one), and GCNII's published figure."""
    rows = []
    for dataset, published in PUBLISHED_TARGETS.items():
        twins = frame[frame["entry"].str.endswith(LEAST_VAL_LOSS) & (frame["dataset"] == dataset)]
        if dataset not in datasets or twins.empty:
            continue
        cells: dict[str, str] = {"dataset": dataset}
        for model in (FATHOM, "GCNII"):
            twin = twins[twins["entry"] == f"{model} {LEAST_VAL_LOSS}"]
            for label, rule in ((model, "best validation accuracy"), (f"{model} {LEAST_VAL_LOSS}",
                                                                       "least validation loss")):
                runs = frame[(frame["entry"] == label) & (frame["dataset"] == dataset)
                             & frame["depth"].isin(twin["depth"])]
                read = summary(runs)
                cells[f"{model}: {rule}"] = "–" if read.empty else (
                    f"{read['mean'].iloc[0]:.1f} ± {read['std'].iloc[0]:.1f} (L={int(read['depth'].iloc[0])}, "
                    f"n={int(read['seeds'].iloc[0])})")
        rows.append({**cells, "GCNII published": f"{published}"})
    return pd.DataFrame(rows)


_RULES_TEXT = (
    "The leaderboard reads each fold at its own epoch of best validation accuracy, a held-out tenth of its "
    "training graphs selecting (hold-out selection, Errica et al. 2020). GIN's published figures read all folds at "
    "one epoch, the one whose test-fold accuracy averaged over the folds is highest (Xu et al. 2019, §7): a rule "
    "that selects on the data it reports (`fathom.benchmark.protocols`). Each published figure is compared with "
    "ours under its own rule. Where early stopping cut a fold short, GIN's paper's rule is read over the epochs "
    "that every fold ran: a lower bound (marked ≥) on its value at the whole budget. The entries marked "
    f"'{FULL_BUDGET}' train folds for the whole budget; where such a run starts epoch for epoch as the stopped "
    "run of its fold did (the same run, on one machine and torch version), the stopped fold is read on from it "
    "('folds read on').")


@dataclass(frozen=True)
class RuleRead:
    """An entry's read under GIN's paper's rule, and how many of its folds' curves were extended by
    the same run trained without early stopping (its ``FULL_BUDGET`` twin's run of that fold)."""

    read: EpochOfBestMean
    extended: int = 0

    def describe(self) -> str:
        more = f"; {self.extended} folds read on to the end from their runs {FULL_BUDGET}" if self.extended else ""
        return self.read.describe() + more


def selection_rules(frame: pd.DataFrame, datasets: list[str], store: ResultStore) -> dict[tuple[str, str], RuleRead]:
    """GIN's paper's rule read on each graph-classification entry with two or more folds finished,
    at its chosen depth (Fathom's at >= ``GRAPH_DEPTH`` blocks), keyed ``(entry, dataset)``; an
    entry whose runs left no per-epoch history in ``store`` is left out.

    A fold that early stopping cut short is read on from its twin entry's run of that fold (same
    configuration, no early stopping) when that run *is* its continuation: the twin's history
    starts with the stopped run's, epoch for epoch (true on one machine and torch version; tested
    in ``tests/tasks/test_graph.py``). A twin that differs (another machine) extends nothing."""
    if frame.empty:
        return {}
    folds = frame[frame["split"].astype(str).str.startswith("fold:")]
    folds = folds[~folds["entry"].str.startswith(FATHOM) | (folds["depth"] >= GRAPH_DEPTH)]
    chosen = chosen_depths(folds) if not folds.empty else folds
    reads = {}
    for (entry, dataset), runs in chosen.groupby(["entry", "dataset"]) if not chosen.empty else ():
        if dataset not in datasets or len(runs) < 2:
            continue
        twin = chosen[(chosen["entry"] == f"{entry} {FULL_BUDGET}") & (chosen["dataset"] == dataset)
                      & (chosen["depth"] == runs["depth"].iloc[0])]
        twin_of = dict(zip(twin["split"], twin["run_id"]))
        curves, extended = [], 0
        for run_id, split in zip(runs["run_id"], runs["split"]):
            own = store.metrics(run_id)
            if own is None:
                break
            longer = store.metrics(twin_of[split]) if split in twin_of else None
            if longer is not None and len(longer) > len(own) and _continues(own, longer):
                own, extended = longer, extended + 1
            curves.append(own[CURVE].astype(float).tolist())
        else:  # every run had its history
            budget = int(max(runs["epochs"].max(), twin["epochs"].max() if not twin.empty else 0))
            reads[(entry, dataset)] = RuleRead(epoch_of_best_mean(curves, budget), extended)
    return reads


def _continues(stopped: pd.DataFrame, longer: pd.DataFrame) -> bool:
    """Whether ``longer``'s history starts with ``stopped``'s, epoch for epoch."""
    columns = ["train_loss", CURVE]
    head = longer[columns].to_numpy()[:len(stopped)]
    return head.shape == stopped[columns].shape and bool((head == stopped[columns].to_numpy()).all())


def rules_table(frame: pd.DataFrame, rules: dict[tuple[str, str], RuleRead]) -> pd.DataFrame:
    """Per dataset and entry: hold-out selection, GIN's paper's rule, and GIN's two published figures."""
    table = summary(frame)
    rows = []
    for (entry, dataset), rule in rules.items():
        read = rule.read
        held = table[(table["entry"] == entry) & (table["dataset"] == dataset)].iloc[0]
        published, reevaluated = PUBLISHED_GIN.get(dataset), REEVALUATED_GIN.get(dataset)
        rows.append({"dataset": dataset, "entry": entry, "folds": int(held["seeds"]),
                     "hold-out selection": f"{held['mean']:.1f} ± {held['std']:.1f}",
                     "epoch of best mean": f"{'≥ ' if read.lower_bound else ''}{read.mean * 100:.1f} ± "
                                           f"{read.std * 100:.1f}",
                     "at epoch": f"{read.epoch} of {read.epochs}" + (f" ({read.budget})" if read.lower_bound else ""),
                     "folds read on": rule.extended,
                     "GIN published (Xu 2019)": f"{published[0]} ± {published[1]}" if published else "–",
                     "GIN re-evaluated (Errica 2020)":
                         f"{reevaluated[0]} ± {reevaluated[1]}" if reevaluated else "–"})
    order = {name: i for i, name in enumerate(DATASET_ORDER)}
    return pd.DataFrame(rows).sort_values("dataset", key=lambda d: d.map(order), kind="stable")


def ablation_table(frame: pd.DataFrame, ablations: list[str], datasets: list[str]) -> str:
    """Mean validation and test accuracy of Fathom and of each ablation at the ablations' depth;
    Fathom's row over the seeds the ablations ran (its extra seeds would not be a like comparison)."""
    ok = frame[frame["status"] == "ok"]
    rows = []
    for entry in [FATHOM, *ablations]:
        row: dict[str, Any] = {"model": entry}
        for dataset in datasets:
            removed = ok[ok["entry"].isin(ablations) & (ok["dataset"] == dataset)]
            mine = ok[(ok["entry"] == entry) & (ok["dataset"] == dataset)]
            if entry == FATHOM:
                mine = mine[mine["depth"].isin(set(removed["depth"])) & mine["seed"].isin(set(removed["seed"]))]
            if mine.empty or removed.empty:
                continue
            row[dataset] = (f"{mine[SELECTION].mean() * 100:.1f} / {mine[ACCURACY].mean() * 100:.1f} "
                            f"(n={len(mine)})")
        rows.append(row)
    table = pd.DataFrame(rows).fillna("–")
    return ("Validation / test accuracy (%), mean over the ablations' seeds, at the ablation depth; "
            "– where an ablation changes nothing on that dataset (its configuration already lacks the "
            "option) or has not run.\n\n" + markdown_table(table))


def _progress(planned: list[tuple[str, RunSpec]], frame: pd.DataFrame) -> pd.DataFrame:
    """Per entry and dataset: runs finished, failed and planned, the training minutes and median
    seconds of the finished ones, and the minutes the unfinished ones would take, each at the median
    of the entry's finished runs at its depth on the dataset, else of all its finished runs there
    (NaN where nothing finished: no estimate)."""
    counts = Counter((label, spec.dataset) for label, spec in planned)
    depths = Counter((label, spec.dataset, spec.model.depth) for label, spec in planned)
    finished = frame[frame["status"].isin(["ok", "diverged"])] if not frame.empty else frame
    done = Counter() if frame.empty else Counter(zip(finished["entry"], finished["dataset"]))
    done_at = Counter() if frame.empty else Counter(zip(finished["entry"], finished["dataset"], finished["depth"]))
    failed = Counter() if frame.empty else Counter(
        zip(frame.loc[frame["status"] == "failed", "entry"], frame.loc[frame["status"] == "failed", "dataset"]))
    seconds = {} if frame.empty else {key: group["seconds"] for key, group in finished.groupby(["entry", "dataset"])}
    median_at = {} if frame.empty else {
        key: group["seconds"].median() for key, group in finished.groupby(["entry", "dataset", "depth"])}
    rows = []
    for (label, dataset), n in counts.items():
        taken = seconds.get((label, dataset))
        left = n - done[(label, dataset)]
        unfinished = {depth: max(count - done_at[(label, dataset, depth)], 0)
                      for (entry, name, depth), count in depths.items() if (entry, name) == (label, dataset)}
        rows.append({"entry": label, "dataset": dataset, "finished": done[(label, dataset)],
                     "failed": failed[(label, dataset)], "planned": n,
                     "training min": taken.sum() / 60 if taken is not None else math.nan,
                     "median run s": taken.median() if taken is not None else math.nan,
                     "left min (est.)": sum(runs * median_at.get((label, dataset, depth), taken.median())
                                            for depth, runs in unfinished.items()) / 60 if taken is not None else
                     (0.0 if left == 0 else math.nan)})
    return pd.DataFrame(rows)


def _progress_table(progress: pd.DataFrame) -> str:
    shown = progress.copy()
    for column, digits in (("training min", 1), ("median run s", 0), ("left min (est.)", 1)):
        shown[column] = [("?" if column.startswith("left") else "–") if math.isnan(v) else
                         (round(v) if digits == 0 else round(v, digits)) for v in progress[column]]
    return markdown_table(shown)


def budget_claim(progress: pd.DataFrame, workers: int = BUDGET_WORKERS) -> Claim:
    """The issue's budget as a claim: the whole preset in ``BUDGET_HOURS`` of wall on ``workers``,
    estimated as the finished runs' training time plus each unfinished run at its entry's median
    on the dataset (at its depth where a run of that depth finished); it cannot pass while some runs
    have no estimate."""
    spent = progress["training min"].sum(skipna=True)
    known = progress["left min (est.)"].sum(skipna=True)
    unknown = int((progress["planned"] - progress["finished"])[progress["left min (est.)"].isna()].sum())
    hours = (spent + known) / workers / 60
    left = int((progress["planned"] - progress["finished"]).sum())
    claim = f"the whole preset fits {BUDGET_HOURS:g} h of wall on {workers} workers"
    if not left:
        return Claim(claim, hours <= BUDGET_HOURS, f"{spent:.0f} min of training, every planned run finished: "
                     f"{hours:.1f} h of wall on {workers} workers")
    return Claim(claim, not unknown and hours <= BUDGET_HOURS,
                 f"{spent:.0f} min of training done and about {known:.0f} min more for the unfinished runs at their "
                 f"entry's median on the dataset (at their depth where one finished): about {hours:.1f} h of wall "
                 f"on {workers} workers"
                 + (f", leaving out {unknown} runs of entries with no finished run on their dataset yet" if unknown
                    else ""))
"""Xu et al. (2021), the experiment: one GD run per configuration, phase after phase, and the tables
built from the runs (graph quantities, mean curves)."""

from __future__ import annotations

import functools
import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from ...linear import (LinearizedGNN, LinearProblem, Trajectory, bound_violation, theorem1_bound, train_full_graph,
                       train_linear)
from ...runtime import progress_bar, seed_everything
from .protocol import DESCENT_RTOL, OPERATOR_NAMES, Graph, Protocol


@dataclass
class Run:
    row: dict[str, Any]
    loss: np.ndarray
    bound: np.ndarray | None = None

    def save(self, path: Path) -> None:
        """One ``.npz`` per run (row as JSON, loss and bound curves), written atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"loss": self.loss, "row": np.array(json.dumps(self.row, default=_plain))}
        if self.bound is not None:
            arrays["bound"] = self.bound
        temporary = path.with_name(f".{path.name}.tmp")
        with open(temporary, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> "Run":
        with np.load(path) as stored:
            return cls(json.loads(str(stored["row"])), stored["loss"],
                       stored["bound"] if "bound" in stored.files else None)


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones, for JSON."""
    return value.item() if hasattr(value, "item") else str(value)


def run_id(phase: str, model: str, kind: str, dataset: str, depth: int, skip: bool, labels: str, seed: int,
           lr: float, steps: int, width: int) -> str:
    return (f"{phase}-{model}-{OPERATOR_NAMES[kind]}-{dataset}-H{depth}-{'skip' if skip else 'noskip'}-{labels}"
            f"-s{seed}-lr{lr:g}-n{steps}-w{width}")


def _loss_at(loss: list[float], step: int) -> float:
    return loss[step] if step < len(loss) else math.inf  # a diverged run never gets there



def _checkpoints(steps: int) -> dict[str, int]:
    return {"quarter": steps // 4, "mid": steps // 2, "three_quarter": 3 * steps // 4, "final": steps}


def _row(graph: Graph, model: str, kind: str, depth: int, skip: bool, labels: str, seed: int, phase: str,
         trajectory: Trajectory, steps: int, width: int) -> dict[str, Any]:
    loss = trajectory.loss
    rises = np.diff(loss) if len(loss) > 1 else np.zeros(1)
    return {
        "phase": phase, "model": model, "operator": OPERATOR_NAMES[kind], "dataset": graph.name, "skip": skip,
        "depth": depth, "labels": labels, "seed": seed, "lr": trajectory.lr, "steps": steps, "width": width,
        "status": "diverged" if trajectory.diverged else "ok", "diverged_at": trajectory.diverged_at,
        "initial_loss": loss[0], **{f"{name}_loss": _loss_at(loss, step) for name, step in _checkpoints(steps).items()},
        "descent": bool(rises.max() <= DESCENT_RTOL * loss[0]) and not trajectory.diverged,
        "max_rise": float(max(rises.max(), 0.0)), "seconds": trajectory.seconds,
    }


def linear_run(graph: Graph, problem: LinearProblem, kind: str, labels: str, seed: int, lr: float, steps: int,
               protocol: Protocol, phase: str, width: int | None = None) -> Run:
    """One GD run of the linear GNN, with Theorem 1's bound evaluated at every step.

    Records the bound's tightness: ``bound_ratio_<checkpoint> = bound_t / (L(t) - L*)`` at a quarter,
    half, three quarters and the end of the run (1 = tight; inf once the gap is 0 to rounding).
    """
    width = width or protocol.linear_width
    seed_everything(seed)
    model = LinearizedGNN(graph.data.num_features, width, graph.classes, problem.depth, problem.skip)
    trajectory = train_linear(model.double(), problem, graph.targets(labels, seed), lr, steps, protocol.lambda_every,
                              track_plain=width == protocol.linear_width)
    row = _row(graph, "linear", kind, problem.depth, problem.skip, labels, seed, phase, trajectory, steps, width)
    summary = graph.summary(kind, problem.depth, problem.skip, labels, seed)
    row.update(optimal_loss=summary.optimal_loss, sigma_min=summary.sigma_min,
               sigma_min_nonzero=summary.sigma_min_nonzero, degenerate=summary.degenerate,
               label_alignment=summary.label_alignment, lambda_T=min(trajectory.lambda_restricted),
               lambda_T_plain=min(trajectory.lambda_plain) if trajectory.lambda_plain else math.nan)
    if trajectory.diverged:
        return Run(row, np.asarray(trajectory.loss))
    bound = theorem1_bound(trajectory, summary.optimal_loss, summary.sigma_min)
    gap = np.asarray(trajectory.loss) - summary.optimal_loss
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = {f"bound_ratio_{name}": float(bound[step] / gap[step]) if gap[step] > 0 else math.inf
                  for name, step in _checkpoints(steps).items()}
    row.update(bound_final=bound[-1], bound_fraction=float(bound[-1] / gap[0]) if gap[0] > 0 else math.nan,
               gap_fraction=float(gap[-1] / gap[0]) if gap[0] > 0 else math.nan, **ratios,
               violation=bound_violation(trajectory, summary.optimal_loss, summary.sigma_min),
               violation_nonzero=bound_violation(trajectory, summary.optimal_loss, summary.sigma_min_nonzero))
    return Run(row, np.asarray(trajectory.loss), bound)


def relu_run(graph: Graph, kind: str, depth: int, skip: bool, labels: str, seed: int, lr: float, steps: int,
             protocol: Protocol, phase: str) -> Run:
    """One GD run of the ReLU GNN, propagating through the whole graph (float32)."""
    seed_everything(seed)
    model = LinearizedGNN(graph.data.num_features, protocol.relu_width, graph.classes, depth, skip, "relu")
    trajectory = train_full_graph(model, graph.sparse_x, graph.operators[kind], graph.index,
                                  graph.targets(labels, seed), lr, steps)
    return Run(_row(graph, "relu", kind, depth, skip, labels, seed, phase, trajectory, steps, protocol.relu_width),
               np.asarray(trajectory.loss))


Config = tuple[Graph, int, bool, tuple[str, ...]]  # graph, depth, skip, label kinds


class Experiment:
    """Runs the protocol's phases one configuration after another, collecting every run.

    With a ``store`` folder each finished run is saved there at once (``<run id>.npz``) and a run
    already saved is loaded instead of trained: an interrupted experiment resumes where it stopped.
    """

    def __init__(self, protocol: Protocol, graphs: list[Graph], progress: bool, store: Path | None = None) -> None:
        self.protocol, self.graphs, self.store = protocol, graphs, store
        self.runs: list[Run] = []
        self.bar = progress_bar(progress)

    def _run(self, task, key: str, train: Callable[[], Run]) -> Run:
        path = None if self.store is None else self.store / f"{key}.npz"
        if path is not None and path.exists():
            run = Run.load(path)
        else:
            run = train()
            if path is not None:
                run.save(path)
        self.runs.append(run)
        row = run.row
        self.bar.update(task, advance=1, status=f"{row['dataset']} {row['model']} H={row['depth']} "
                                                f"skip={row['skip']} loss {row['final_loss']:.3g}")
        return run

    def configs(self, depths: Iterable[int], labels: tuple[str, ...], skips: tuple[bool, ...] = (False, True),
                datasets: tuple[str, ...] | None = None) -> list[Config]:
        return [(graph, depth, skip, labels) for graph in self.graphs if datasets is None or graph.name in datasets
                for depth in depths for skip in skips]

    def linear(self, configs: list[Config], seeds: tuple[int, ...], lr: float, steps: int, phase: str,
               kind: str = "gcn", width: int | None = None) -> list[Run]:
        """Linear runs; the :class:`LinearProblem` is built once per (graph, depth, skip), when first needed."""
        width = width or self.protocol.linear_width
        task = self.bar.add_task(f"{phase} linear {OPERATOR_NAMES[kind]} lr={lr:g}",
                                 total=sum(len(c[3]) for c in configs) * len(seeds), status="")
        done = []
        for graph, depth, skip, labels in configs:
            problem = functools.cache(lambda: LinearProblem.build(graph.propagated(kind), depth, skip))
            for label in labels:
                for seed in seeds:
                    key = run_id(phase, "linear", kind, graph.name, depth, skip, label, seed, lr, steps, width)
                    done.append(self._run(task, key, lambda: linear_run(
                        graph, problem(), kind, label, seed, lr, steps, self.protocol, phase, width)))
        return done

    def relu(self, configs: list[Config], seeds: tuple[int, ...], lr: float, steps: int, phase: str,
             kind: str = "gcn") -> list[Run]:
        task = self.bar.add_task(f"{phase} ReLU {OPERATOR_NAMES[kind]} lr={lr:g}",
                                 total=sum(len(c[3]) for c in configs) * len(seeds), status="")
        return [self._run(task, run_id(phase, "relu", kind, graph.name, depth, skip, label, seed, lr, steps,
                                       self.protocol.relu_width),
                          lambda: relu_run(graph, kind, depth, skip, label, seed, lr, steps, self.protocol, phase))
                for graph, depth, skip, labels in configs for label in labels for seed in seeds]

    def choose_lr(self, probe: Callable[[float], list[Run]]) -> float:
        """The largest candidate at which no probe run diverges (the smallest if every larger one does)."""
        candidates = sorted(self.protocol.lr_candidates, reverse=True)
        for lr in candidates[:-1]:
            if not any(run.row["status"] == "diverged" for run in probe(lr)):
                return lr
        return candidates[-1]


def quantities_frame(graphs: list[Graph], protocol: Protocol) -> pd.DataFrame:
    """Theorem 1's graph quantities per dataset, operator, depth and skip; shuffled labels averaged over seeds."""
    rows = []
    for graph in graphs:
        for kind, operator in OPERATOR_NAMES.items():
            for depth in protocol.all_depths:
                for skip in (False, True):
                    true = graph.summary(kind, depth, skip, "true", protocol.seeds[0])
                    shuffled = [graph.summary(kind, depth, skip, "shuffled", seed) for seed in protocol.seeds]
                    rows.append({
                        "dataset": graph.name, "operator": operator, "depth": depth, "skip": skip,
                        "sigma_min": true.sigma_min, "sigma_min_nonzero": true.sigma_min_nonzero,
                        "sigma_max": true.sigma_max, "rank": true.rank, "train_nodes": graph.index.numel(),
                        "degenerate": true.degenerate, "tolerance": true.tolerance, "method": true.method,
                        "optimal_loss_true": true.optimal_loss,
                        "optimal_loss_shuffled": float(np.mean([s.optimal_loss for s in shuffled])),
                        "label_alignment_true": true.label_alignment,
                        "label_alignment_shuffled": float(np.mean([s.label_alignment for s in shuffled])),
                    })
    return pd.DataFrame(rows)


CURVE_KEYS = ["phase", "model", "operator", "dataset", "skip", "depth", "labels"]


def curves_frame(runs: list[Run]) -> pd.DataFrame:
    """Mean (over seeds) loss, gap to L* and Theorem 1 bound at ~50 steps per configuration (6 digits)."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(tuple(run.row[key] for key in CURVE_KEYS), []).append(run)
    rows = []
    for key, members in groups.items():
        steps = members[0].row["steps"]
        grid = np.unique(np.r_[0, np.geomspace(1, steps, 40).round(), np.linspace(0, steps, 11).round()]).astype(int)
        loss = _stack([run.loss for run in members], steps)
        optimal = np.array([[run.row.get("optimal_loss", np.nan)] for run in members])
        bound = _stack([run.bound if run.bound is not None else np.full(0, np.nan) for run in members], steps)
        with warnings.catch_warnings(), np.errstate(all="ignore"):  # all-NaN columns: every seed diverged
            warnings.simplefilter("ignore", RuntimeWarning)
            columns = {"loss_mean": np.nanmean(loss, 0), "loss_min": np.nanmin(loss, 0),
                       "loss_max": np.nanmax(loss, 0), "gap_mean": np.nanmean(loss - optimal, 0),
                       "bound_mean": np.nanmean(bound, 0)}
        for step in grid:
            rows.append({**dict(zip(CURVE_KEYS, key)), "step": int(step), "seeds": len(members),
                         **{name: float(f"{values[step]:.6g}") for name, values in columns.items()}})
    return pd.DataFrame(rows)


def _stack(curves: list[np.ndarray], steps: int) -> np.ndarray:
    """Curves of ``steps + 1`` values, NaN after a divergence."""
    table = np.full((len(curves), steps + 1), np.nan)
    for row, curve in zip(table, curves):
        row[: len(curve)] = curve[: steps + 1]
    return table


"""Xu et al. (2021), the experiment: one GD run per configuration, phase after phase, and the tables
built from the runs (graph quantities, mean curves)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
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


def _loss_at(loss: list[float], step: int) -> float:
    return loss[step] if step < len(loss) else math.inf  # a diverged run never gets there


def _row(graph: Graph, model: str, kind: str, depth: int, skip: bool, labels: str, seed: int, phase: str,
         trajectory: Trajectory, steps: int) -> dict[str, Any]:
    loss = trajectory.loss
    rises = np.diff(loss) if len(loss) > 1 else np.zeros(1)
    return {
        "phase": phase, "model": model, "operator": OPERATOR_NAMES[kind], "dataset": graph.name, "skip": skip,
        "depth": depth, "labels": labels, "seed": seed, "lr": trajectory.lr, "steps": steps,
        "status": "diverged" if trajectory.diverged else "ok", "diverged_at": trajectory.diverged_at,
        "initial_loss": loss[0], "quarter_loss": _loss_at(loss, steps // 4), "mid_loss": _loss_at(loss, steps // 2),
        "final_loss": _loss_at(loss, steps),
        "descent": bool(rises.max() <= DESCENT_RTOL * loss[0]) and not trajectory.diverged,
        "max_rise": float(max(rises.max(), 0.0)), "seconds": trajectory.seconds,
    }


def linear_run(graph: Graph, problem: LinearProblem, kind: str, labels: str, seed: int, lr: float, steps: int,
               protocol: Protocol, phase: str) -> Run:
    """One GD run of the linear GNN, with Theorem 1's bound evaluated at every step."""
    seed_everything(seed)
    model = LinearizedGNN(graph.data.num_features, protocol.linear_width, graph.classes, problem.depth, problem.skip)
    trajectory = train_linear(model.double(), problem, graph.targets(labels, seed), lr, steps, protocol.lambda_every)
    row = _row(graph, "linear", kind, problem.depth, problem.skip, labels, seed, phase, trajectory, steps)
    summary = graph.summary(kind, problem.depth, problem.skip, labels, seed)
    row.update(optimal_loss=summary.optimal_loss, sigma_min=summary.sigma_min,
               sigma_min_nonzero=summary.sigma_min_nonzero, degenerate=summary.degenerate,
               label_alignment=summary.label_alignment, lambda_T=min(trajectory.lambda_restricted),
               lambda_T_plain=min(trajectory.lambda_plain))
    if trajectory.diverged:
        return Run(row, np.asarray(trajectory.loss))
    bound = theorem1_bound(trajectory, summary.optimal_loss, summary.sigma_min)
    row.update(bound_final=bound[-1],
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
    return Run(_row(graph, "relu", kind, depth, skip, labels, seed, phase, trajectory, steps),
               np.asarray(trajectory.loss))


Config = tuple[Graph, int, bool, tuple[str, ...]]  # graph, depth, skip, label kinds


class Experiment:
    """Runs the protocol's phases one configuration after another, collecting every run."""

    def __init__(self, protocol: Protocol, graphs: list[Graph], progress: bool) -> None:
        self.protocol, self.graphs = protocol, graphs
        self.runs: list[Run] = []
        self.bar = progress_bar(progress)

    def _record(self, task, run: Run) -> Run:
        self.runs.append(run)
        row = run.row
        self.bar.update(task, advance=1, status=f"{row['dataset']} {row['model']} H={row['depth']} "
                                                f"skip={row['skip']} loss {row['final_loss']:.3g}")
        return run

    def configs(self, depths: Iterable[int], labels: tuple[str, ...]) -> list[Config]:
        return [(graph, depth, skip, labels) for graph in self.graphs for depth in depths for skip in (False, True)]

    def linear(self, configs: list[Config], seeds: tuple[int, ...], lr: float, steps: int, phase: str,
               kind: str = "gcn") -> list[Run]:
        """Linear runs; the :class:`LinearProblem` is built once per (graph, depth, skip)."""
        task = self.bar.add_task(f"{phase} linear {OPERATOR_NAMES[kind]} lr={lr:g}",
                                 total=sum(len(c[3]) for c in configs) * len(seeds), status="")
        done = []
        for graph, depth, skip, labels in configs:
            problem = LinearProblem.build(graph.propagated(kind), depth, skip)
            done += [self._record(task, linear_run(graph, problem, kind, label, seed, lr, steps, self.protocol, phase))
                     for label in labels for seed in seeds]
        return done

    def relu(self, configs: list[Config], seeds: tuple[int, ...], lr: float, steps: int, phase: str,
             kind: str = "gcn") -> list[Run]:
        task = self.bar.add_task(f"{phase} ReLU {OPERATOR_NAMES[kind]} lr={lr:g}",
                                 total=sum(len(c[3]) for c in configs) * len(seeds), status="")
        return [self._record(task, relu_run(graph, kind, depth, skip, label, seed, lr, steps, self.protocol, phase))
                for graph, depth, skip, labels in configs for label in labels for seed in seeds]

    def choose_lr(self, probe: Callable[[float], list[Run]]) -> float:
        """The largest candidate at which no probe run diverges (the smallest if every larger one does)."""
        candidates = sorted(self.protocol.lr_candidates, reverse=True)
        for lr in candidates[:-1]:
            if not any(run.row["status"] == "diverged" for run in probe(lr)):
                return lr
        return candidates[-1]

    def refine(self, runs: list[Run]) -> list[Run]:
        """Re-check each linear run that broke the bound at ``lr / refine_factor`` over the same time ``T``
        (gradient descent with a large step is not the gradient flow of Theorem 1)."""
        p = self.protocol
        broken = [run.row for run in runs
                  if run.row["status"] == "diverged" or run.row.get("violation", 0.0) > p.bound_tolerance]
        task = self.bar.add_task(f"refine lr/{p.refine_factor}", total=len(broken), status="")
        done = []
        for row in broken:
            graph = next(g for g in self.graphs if g.name == row["dataset"])
            problem = LinearProblem.build(graph.propagated("gcn"), row["depth"], row["skip"])
            done.append(self._record(task, linear_run(graph, problem, "gcn", row["labels"], row["seed"],
                                                      row["lr"] / p.refine_factor, row["steps"] * p.refine_factor,
                                                      p, "refine")))
        return done


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


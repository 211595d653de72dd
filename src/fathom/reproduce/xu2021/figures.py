"""Xu et al. (2021), the figures: loss curves, the measured gap against Theorem 1's bound, the graph
quantities and the label comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from ...report import format_number
from ...report.plots import plt, save_figure

def _colours(values: Iterable) -> dict:
    values = sorted(set(values))
    cmap = plt.get_cmap("viridis")
    return {v: cmap(0.9 * i / max(1, len(values) - 1)) for i, v in enumerate(values)}


def _select(frame: pd.DataFrame, **values) -> pd.DataFrame:
    """The rows of ``frame`` whose columns equal ``values``."""
    return frame[(frame[list(values)] == pd.Series(values)).all(axis=1)]


def _depth_legend(figure, colours: dict, styles: tuple[tuple[str, str], ...]) -> None:
    """One legend below the panels: a colour per depth, a line style per variant."""
    handles = [plt.Line2D([], [], color=colour, label=f"H={depth}") for depth, colour in colours.items()]
    handles += [plt.Line2D([], [], color="0.3", linestyle=style, label=label) for style, label in styles]
    figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), 13), fontsize=8, frameon=False)


def _step_axis(ax, title: str, ylabel: str, fontsize: float | None = None) -> None:
    """A log-scale panel against the GD step."""
    ax.set_yscale("log")
    ax.set_title(title, fontsize=fontsize)
    ax.set_xlabel("GD step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def _finish(figure, colours: dict, styles: tuple[tuple[str, str], ...], title: str, path: Path) -> Path:
    """Depth legend below, title above, saved."""
    _depth_legend(figure, colours, styles)
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    return save_figure(figure, path)


def plot_loss_curves(curves: pd.DataFrame, datasets: tuple[str, ...], path: Path) -> Path:
    """Training loss vs step, true labels: rows datasets, columns linear / ReLU GCN; colour = depth."""
    models = [("linear", "linear GCN"), ("relu", "ReLU GCN")]
    shown = _select(curves, phase="main", operator="GCN", labels="true")
    colours = _colours(shown["depth"])
    figure, axes = plt.subplots(len(datasets), 2, figsize=(11, 3.4 * len(datasets) + 0.5), squeeze=False)
    for r, dataset in enumerate(datasets):
        for c, (model, title) in enumerate(models):
            ax = axes[r, c]
            for (depth, skip), line in _select(shown, model=model, dataset=dataset).groupby(["depth", "skip"]):
                ax.plot(line["step"], line["loss_mean"], "-" if skip else "--", color=colours[depth], linewidth=1.4)
            _step_axis(ax, f"{dataset}: {title}", "training loss (sum)")
    return _finish(figure, colours, (("-", "skip"), ("--", "no skip")), "Training loss (mean over seeds, true labels)",
                   path)


def plot_bound(curves: pd.DataFrame, datasets: tuple[str, ...], path: Path) -> Path:
    """Measured gap L(t) - L* (solid) against Theorem 1's bound (dashed), linear GCN, true labels."""
    linear = _select(curves, model="linear", operator="GCN", labels="true")
    colours = _colours(linear["depth"])
    columns = [("main", False, "no skip"), ("main", True, "skip"), ("bind", True, "skip, wide layers, larger T")]
    figure, axes = plt.subplots(len(datasets), len(columns), figsize=(5.2 * len(columns), 3.4 * len(datasets) + 0.5),
                                squeeze=False)
    for r, dataset in enumerate(datasets):
        for c, (phase, skip, title) in enumerate(columns):
            ax = axes[r, c]
            subset = _select(linear, phase=phase, dataset=dataset)
            subset = subset[subset["skip"] == skip]
            if subset.empty:
                ax.set_title(f"{dataset}: {title}")
                ax.text(0.5, 0.5, "not run on this dataset", transform=ax.transAxes, ha="center", color="0.4")
                ax.set_axis_off()
                continue
            shrink = []
            for depth, line in subset.groupby("depth"):
                ax.plot(line["step"], line["gap_mean"].clip(lower=1e-16), "-", color=colours[depth])
                ax.plot(line["step"], line["bound_mean"].clip(lower=1e-16), "--", color=colours[depth], linewidth=1)
                shrink.append(float(line["bound_mean"].iloc[-1] / line["bound_mean"].iloc[0]))
            ax.text(0.02, 0.03, f"bound at the last step: {format_number(min(shrink))} to "
                    f"{format_number(max(shrink))} x initial gap", transform=ax.transAxes, fontsize=8, color="0.3")
            _step_axis(ax, f"{dataset}: {title}", "L(t) - L*")
    return _finish(figure, colours, (("-", "measured gap"), ("--", "Theorem 1 bound")),
                   "Linear GCN: measured loss gap vs Theorem 1's bound (mean over seeds, true labels)", path)


def plot_late(curves: pd.DataFrame, datasets: tuple[str, ...], path: Path, model: str = "linear") -> Path:
    """Figure 4's three panels on the late protocol, per dataset: (a) skip vs no skip, (b) depth with skips,
    (c) true vs shuffled labels (with skips); the ``model`` GCN (linear or relu), mean over seeds."""
    late = _select(curves, phase="late", model=model)
    colours = _colours(late["depth"])
    panels = [("(a) skip (solid) vs no skip (dashed), true labels", dict(labels="true"), "skip"),
              ("(b) depth, with skips, true labels", dict(labels="true", skip=True), None),
              ("(c) true (solid) vs shuffled (dotted) labels, with skips", dict(skip=True), "labels")]
    figure, axes = plt.subplots(len(datasets), 3, figsize=(15, 3.4 * len(datasets) + 0.5), squeeze=False)
    styles = {"skip": {True: "-", False: "--"}, "labels": {"true": "-", "shuffled": ":"}}
    for r, dataset in enumerate(datasets):
        for c, (title, values, varied) in enumerate(panels):
            ax = axes[r, c]
            for keys, line in _select(late, dataset=dataset, **values).groupby(["depth", varied or "depth"]):
                style = styles[varied][keys[1]] if varied else "-"
                ax.plot(line["step"], line["loss_mean"], style, color=colours[keys[0]], linewidth=1.4)
            _step_axis(ax, f"{dataset}: {title}", "training loss (sum)", fontsize=9)
    return _finish(figure, colours, (), f"Figure 4's protocol ({'ReLU' if model == 'relu' else 'linear'} GCN): "
                   "orderings are read late, where the curves separate", path)


def plot_quantities(quantities: pd.DataFrame, frame: pd.DataFrame, path: Path) -> Path:
    """sigma_min, lambda_T and the label alignment against depth."""
    gcn = quantities[quantities["operator"] == "GCN"]
    linear = frame[(frame["phase"] == "main") & (frame["model"] == "linear") & (frame["labels"] == "true")]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    styles = {(False,): "--", (True,): "-"}
    markers = dict(zip(sorted(gcn["dataset"].unique()), "os^v"))
    for (dataset, skip), group in gcn.groupby(["dataset", "skip"]):
        label = f"{dataset} {'skip G_H' if skip else 'no skip M_H'}"
        axes[0].plot(group["depth"], group["sigma_min"].clip(lower=1e-17), styles[(skip,)], marker=markers[dataset],
                     label=label)
        axes[2].plot(group["depth"], group["label_alignment_true"], styles[(skip,)], marker=markers[dataset],
                     label=f"{label}, true")
        axes[2].plot(group["depth"], group["label_alignment_shuffled"], ":", marker=markers[dataset],
                     label=f"{label}, shuffled")
    for (dataset, skip), group in linear.groupby(["dataset", "skip"]):
        means = group.groupby("depth")["lambda_T"].mean()
        axes[1].plot(means.index, means.values, styles[(skip,)], marker=markers.get(dataset, "o"),
                     label=f"{dataset} {'skip' if skip else 'no skip'}")
    titles = ["sigma_min of the design matrix (GCN operator)", "lambda_T (restricted), mean over seeds",
              "label alignment ||M^T Y||^2 / ||Y||^2"]
    for ax, title in zip(axes, titles):
        ax.set_yscale("log")
        ax.set_xticks(sorted(gcn["depth"].unique()))
        ax.set_xlabel("depth H")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5, loc="best")
    figure.tight_layout()
    return save_figure(figure, path)


def plot_labels(frame: pd.DataFrame, path: Path) -> Path:
    """Training loss half-way through the runs against depth: true (solid) vs shuffled (dotted) labels."""
    main = frame[(frame["phase"] == "main") & (frame["operator"] == "GCN")]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    colours = dict(zip(sorted({(d, s) for d, s in zip(main["dataset"], main["skip"])}), plt.get_cmap("tab10").colors))
    for ax, (model, title) in zip(axes, [("linear", "linear GCN"), ("relu", "ReLU GCN")]):
        subset = main[main["model"] == model]
        for (dataset, skip, labels), group in subset.groupby(["dataset", "skip", "labels"]):
            means = group.groupby("depth")["mid_loss"].mean()
            ax.plot(means.index, means.values, "-" if labels == "true" else ":", marker="o", markersize=3,
                    color=colours[(dataset, skip)])
        ax.set_yscale("log")
        ax.set_xticks(sorted(subset["depth"].unique()))
        ax.set_xlabel("depth H")
        ax.set_ylabel("training loss half-way (mean over seeds)")
        ax.set_title(f"{title}: true (solid) vs shuffled (dotted) labels")
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=colour, label=f"{dataset} {'skip' if skip else 'no skip'}")
               for (dataset, skip), colour in colours.items()]
    handles += [plt.Line2D([], [], color="0.3", linestyle=style, label=label)
                for style, label in (("-", "true labels"), (":", "shuffled labels"))]
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    return save_figure(figure, path)


"""Figures: per-layer metric curves, one panel per metric, one line per configuration."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LOG_SPAN = 100.0  # a panel uses a log scale when its positive values span more than this factor


def plot_layer_metrics(runs: dict[str, dict[str, list[float]]], path: str | Path, metrics: tuple[str, ...],
                       title: str = "") -> Path:
    """Save a grid of panels ``metric vs layer`` to ``path`` (PNG); each run is one labelled line.

    Labels of the form ``"name (variant)"`` share ``name``'s colour and take one line style per
    variant, so e.g. ``"residual (init)"`` and ``"residual (trained)"`` read as one model.
    """
    styles = line_styles(list(runs))
    columns = min(4, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    legend_rows = math.ceil(len(runs) / min(4, len(runs)))
    height = 3.2 * rows + 0.25 * legend_rows
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, height), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        values = []
        for label, run in runs.items():
            series = run[metric]
            ax.plot(range(1, len(series) + 1), series, label=label, linewidth=1.6, **styles[label])
            values += [v for v in series if v == v and v > 0 and math.isfinite(v)]
        if values and max(values) / min(values) > LOG_SPAN:
            ax.set_yscale("log")
        ax.set_title(metric)
        ax.set_xlabel("layer")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), frameon=False)
    if title:
        figure.suptitle(title)
    figure.tight_layout(rect=(0, (0.3 + 0.25 * legend_rows) / height, 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def line_styles(labels: list[str]) -> dict[str, dict[str, str]]:
    """A colour per name and a line style per variant for labels ``"name (variant)"``."""
    names = list(dict.fromkeys(label.split(" (")[0] for label in labels))
    variants = list(dict.fromkeys(label.partition(" (")[2] for label in labels))
    colours = plt.get_cmap("tab10" if len(names) <= 10 else "tab20").colors
    dashes = ("-", "--", ":", "-.")
    return {label: {"color": colours[names.index(label.split(" (")[0]) % len(colours)],
                    "linestyle": dashes[variants.index(label.partition(" (")[2]) % len(dashes)]}
            for label in labels}


def plot_loss_curves(frame, out: str | Path, label_columns: list[str], panel_column: str, path: str | Path,
                     title: str = "", epochs: int | None = None, y_max: float | None = None,
                     short_names: dict[str, str] | None = None) -> Path:
    """Training loss against epoch: one panel per value of ``panel_column``, one line per label
    (``key=value`` of ``label_columns``), the median over seeds with a min-max band; log scale.

    Curves come from each run's ``out/runs/<run_id>/metrics.csv``; diverged runs stop early.
    With ``y_max`` the axis is cut there and curves entirely above it are marked off scale.
    """
    import pandas as pd

    from ..sweep.store import ResultStore

    store = ResultStore(out)
    short_names = short_names or {}
    panels = sorted(frame[panel_column].unique())
    figure, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.6), squeeze=False, sharey=True)
    colours = plt.get_cmap("tab10")
    names = frame[label_columns].astype(str).apply(
        lambda row: " ".join(f"{short_names.get(c, c)}={row[c]}" for c in label_columns), axis=1)
    labels = sorted(set(names))
    for ax, panel in zip(axes.flat, panels):
        off_scale = []
        for index, label in enumerate(labels):
            runs = frame[(frame[panel_column] == panel) & (names == label)]
            curves = []
            for run_id in runs["run_id"]:
                metrics = store.metrics(run_id)
                if metrics is not None and len(metrics):  # a run that diverged at epoch 1 has no curve
                    curves.append(metrics["train_loss"].astype(float).rename(run_id))
            if not curves:
                continue
            table = pd.concat(curves, axis=1)
            if epochs:
                table = table.iloc[:epochs]
            x = range(1, len(table) + 1)
            colour = colours(index % 10)
            style = "-" if index < 10 else "--"
            ax.plot(x, table.median(axis=1), style, color=colour, label=label, linewidth=1.5)
            ax.fill_between(x, table.min(axis=1), table.max(axis=1), color=colour, alpha=0.15, linewidth=0)
            if y_max is not None and float(table.median(axis=1).min()) > y_max:
                off_scale.append(label)
        ax.set_yscale("log")
        if y_max is not None:
            ax.set_ylim(top=y_max)
        if off_scale:
            ax.text(0.02, 0.02, "above the axis:\n" + "\n".join(off_scale), transform=ax.transAxes, fontsize=7,
                    va="bottom", color="0.3")
        ax.set_title(f"{panel_column} = {panel}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes.flat[0].set_ylabel("training loss")
    handles, names = axes.flat[0].get_legend_handles_labels()
    columns = max(1, min(4, len(names), int(4.4 * len(panels) // 2.9)))  # ~2.9 inches per legend entry
    figure.legend(handles, names, loc="lower center", ncol=columns, frameon=False, fontsize=8)
    if title:
        figure.suptitle(title)
    rows_of_legend = math.ceil(len(names) / columns)
    figure.tight_layout(rect=(0, 0.05 + 0.045 * rows_of_legend, 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_against_depth(frame, metric: str, path: str | Path, panel: str = "dataset", line: str = "model",
                       ylabel: str = "", title: str = "", log: bool = False) -> Path:
    """``metric`` against depth (log2 axis): one panel per ``panel`` value, one line per ``line``
    value, mean over rows (seeds) with ± std error bars."""
    panels = sorted(frame[panel].unique())
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False)
    for ax, value in zip(axes.flat, panels):
        subset = frame[frame[panel] == value]
        for name, group in subset.groupby(line, sort=False):
            stats = group.groupby("depth")[metric].agg(["mean", "std"]).reset_index()
            ax.errorbar(stats["depth"], stats["mean"], yerr=stats["std"].fillna(0), label=name, marker="o",
                        markersize=3, capsize=2, linewidth=1.4)
        ax.set_xscale("log", base=2)
        if log:
            ax.set_yscale("log")
        ax.set_title(f"{panel} = {value}")
        ax.set_xlabel("depth (blocks)")
        ax.set_ylabel(ylabel or metric)
        ax.grid(alpha=0.3)
    handles, names = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="lower center", ncol=min(5, max(1, len(names))), frameon=False, fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def save_figure(figure, path: str | Path, dpi: int = 110) -> Path:
    """Save ``figure`` to ``path`` (PNG, parent folders created) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path

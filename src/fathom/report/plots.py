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
    """Save a grid of panels ``metric vs layer`` to ``path`` (PNG); each run is one labelled line."""
    columns = min(4, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        values = []
        for label, run in runs.items():
            series = run[metric]
            ax.plot(range(1, len(series) + 1), series, label=label, linewidth=1.6)
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
    figure.tight_layout(rect=(0, 0.06 + 0.02 * (len(labels) > 4), 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path

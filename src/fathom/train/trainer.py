"""Full-batch node classification: Adam on the cross-entropy of the training nodes.

One function, :func:`train_node_classifier`, reads top to bottom: seed, build the operator once,
build and initialise the model, then per epoch one training step (timed), an evaluation pass,
a NaN/inf guard, and the metrics row. A run directory gets ``config.json``, ``env.json``,
``metrics.csv`` (rewritten atomically as the run goes) and ``summary.json``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from ..config import ModelConfig, TrainConfig
from ..data import describe, num_classes, validate_node_data
from ..diagnostics.recorder import LAYER_METRICS, measure
from ..graph import AggregationOperator, SparseFeatures, density
from ..nn import DeepGNN
from ..runs import environment, write_csv, write_json
from ..runtime import progress_bar, resolve_device, seed_everything, subnormals_flushed

METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_acc", "test_acc", "seconds"]
CHECKPOINT_EVERY = 25  # epochs between rewrites of metrics.csv during a run
SPARSE_FEATURES_BELOW = 0.1  # feature density under which the encoder uses a sparse product


@dataclass
class RunResult:
    """What a training run produced: per-epoch rows, the summary, the trained model and, when
    recorded, per-layer diagnostics rows (``epoch, layer, metric...``)."""

    history: list[dict[str, float]]
    summary: dict[str, Any]
    model: DeepGNN
    out: Path | None
    layer_history: list[dict[str, float]] = field(default_factory=list)


def accuracy(logits: Tensor, labels: Tensor) -> float:
    """Fraction of rows whose arg-max equals the label (NaN for no rows)."""
    if labels.numel() == 0:
        return math.nan
    return float((logits.argmax(dim=-1) == labels).float().mean())


def train_node_classifier(
    model_config: ModelConfig,
    train_config: TrainConfig,
    data: Data,
    out: str | Path | None = None,
    *,
    progress: bool = True,
    data_info: dict[str, Any] | None = None,
    record_every: int | None = None,
) -> RunResult:
    """Train a :class:`~fathom.nn.DeepGNN` on ``data``'s training nodes, full batch.

    Stops early, with ``summary["diverged"] = True``, as soon as the training loss is NaN or
    infinite. Subnormal floats are flushed to zero while training (:func:`subnormals_flushed`).
    ``data_info`` (e.g. dataset name and data root) is recorded in ``config.json``.
    With ``record_every=k`` the per-layer diagnostics (:func:`fathom.diagnostics.measure`) are
    taken at initialisation and every ``k`` epochs, into ``layer_metrics.csv`` and
    ``RunResult.layer_history``.
    """
    if record_every is not None and record_every < 1:
        raise ValueError(f"record_every must be a positive number of epochs; got {record_every}")
    validate_node_data(data)
    seed_everything(train_config.seed)
    device = resolve_device(train_config.device)

    operator = AggregationOperator.from_data(data, model_config.aggregation, model_config.residual_aggregation)
    model = DeepGNN(model_config, data.num_features, num_classes(data), perron_root=operator.perron_root())
    model, operator = model.to(device), operator.to(device)
    x, y = data.x.to(device), data.y.to(device)
    if density(x) < SPARSE_FEATURES_BELOW:
        x = SparseFeatures(x)
    masks = {split: getattr(data, f"{split}_mask").to(device) for split in ("train", "val", "test")}
    optimizer = torch.optim.Adam(model.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay)

    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        write_json(out_dir / "config.json", {
            "model": model_config.to_dict(), "train": train_config.to_dict(),
            "data": {**(data_info or {}), "description": describe(data)},
            "perron_root": operator.perron_root(),
        })
        write_json(out_dir / "env.json", environment(train_config.seed, str(device)))

    history: list[dict[str, float]] = []
    layer_history: list[dict[str, float]] = []
    if record_every:
        layer_history += layer_rows(0, measure(model, data, operator))
    diverged, reason, stopped_early = False, None, False
    with progress_bar(progress) as bar, subnormals_flushed():
        task = bar.add_task("train", total=train_config.epochs, status="")
        for epoch in range(1, train_config.epochs + 1):
            start = time.perf_counter()
            model.train()
            optimizer.zero_grad(set_to_none=True)
            logits = model(x, operator=operator)
            loss = F.cross_entropy(logits[masks["train"]], y[masks["train"]])
            if not torch.isfinite(loss):
                diverged, reason = True, f"training loss became {loss.item()} at epoch {epoch}"
                break
            loss.backward()
            optimizer.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds = time.perf_counter() - start

            model.eval()
            with torch.no_grad():
                eval_logits = model(x, operator=operator)
            history.append({
                "epoch": epoch,
                "train_loss": loss.item(),
                "train_acc": accuracy(logits[masks["train"]].detach(), y[masks["train"]]),
                "val_acc": accuracy(eval_logits[masks["val"]], y[masks["val"]]),
                "test_acc": accuracy(eval_logits[masks["test"]], y[masks["test"]]),
                "seconds": seconds,
            })
            row = history[-1]
            bar.update(task, advance=1,
                       status=f"loss {row['train_loss']:.4f}  val {row['val_acc']:.3f}")
            if train_config.patience is not None and _stale(history, train_config.patience):
                stopped_early = True
                break
            if record_every and epoch % record_every == 0:
                layer_history += layer_rows(epoch, measure(model, data, operator))
            if out_dir is not None and epoch % CHECKPOINT_EVERY == 0:
                write_outputs(out_dir, history, layer_history)

    summary = {**summarize(history, diverged, reason), "stopped_early": stopped_early}
    if out_dir is not None:
        write_outputs(out_dir, history, layer_history)
        write_json(out_dir / "summary.json", summary)
    return RunResult(history, summary, model, out_dir, layer_history)


def _stale(history: list[dict[str, float]], patience: int) -> bool:
    """True when the best validation accuracy is more than ``patience`` epochs old."""
    if math.isnan(history[-1]["val_acc"]):  # no validation nodes: nothing to stop on
        return False
    best = max(range(len(history)), key=lambda i: (history[i]["val_acc"], -i))
    return len(history) - 1 - best >= patience


def layer_rows(epoch: int, metrics: dict[str, list[float]]) -> list[dict[str, float]]:
    """One ``layer_metrics.csv`` row per block: ``epoch, layer`` and every layer metric."""
    depth = len(next(iter(metrics.values())))
    return [{"epoch": epoch, "layer": k + 1, **{name: metrics[name][k] for name in LAYER_METRICS}}
            for k in range(depth)]


def write_outputs(out_dir: Path, history: list[dict[str, float]], layer_history: list[dict[str, float]]) -> None:
    write_csv(out_dir / "metrics.csv", history, METRIC_COLUMNS)
    if layer_history:
        write_csv(out_dir / "layer_metrics.csv", layer_history, ["epoch", "layer", *LAYER_METRICS])


def summarize(history: list[dict[str, float]], diverged: bool, reason: str | None = None) -> dict[str, Any]:
    """``summary.json``: final and initial train loss, best validation accuracy and its test accuracy."""
    scored = [row for row in history if not math.isnan(row["val_acc"])]
    best = max(scored, key=lambda row: row["val_acc"]) if scored else None
    return {
        "initial_train_loss": history[0]["train_loss"] if history else None,
        "final_train_loss": history[-1]["train_loss"] if history else None,
        "best_val_acc": best["val_acc"] if best else None,
        "test_acc_at_best_val": best["test_acc"] if best else None,
        "best_epoch": best["epoch"] if best else None,
        "epochs_run": len(history),
        "seconds": sum(row["seconds"] for row in history),
        "diverged": diverged,
        "divergence": reason,
    }

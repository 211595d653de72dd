"""``fit(model, task, config)``: train any model on any task, into a reproducible run directory.

It reads top to bottom: move the model and the task's data to the device, then per epoch one
pass over the task's batches (timed), an evaluation, a NaN/inf guard, the metrics row and early
stopping on the task's selection metric. Building the model is the caller's job. A run directory
gets ``config.json``, ``env.json``, ``metrics.csv`` (rewritten atomically as the run goes) and
``summary.json``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from ..config import ConfigError, TrainConfig
from ..runs import environment, write_csv, write_json, write_torch_atomic
from ..runtime import PeakMemory, progress_bar, random_states, resolve_device, restore_random_states, seed_everything, subnormals_flushed

METRICS_EVERY = 25  # epochs between rewrites of metrics.csv during a run
CHECKPOINT_FILE = "checkpoint.pt"
DIVERGENCE_FACTOR = 1e3  # a loss above this multiple of the chance-level loss counts as diverged


class Task(Protocol):
    """What :func:`fit` needs of a task (see :class:`fathom.tasks.NodeClassification`). A task of
    several batches may also define ``batch_weight(batch)``, the examples a batch holds, by which the
    epoch's training loss and metrics weight it."""

    metrics: tuple[str, ...]  # including those a TrainConfig.selection may name
    reported: str
    chance_loss: float  # the loss of a uniform prediction (ln C for C classes)

    def to(self, device: torch.device) -> "Task": ...
    def batches(self) -> Any: ...
    def loss(self, model: nn.Module, batch: Any) -> tuple[Tensor, dict[str, float]]: ...
    def evaluate(self, model: nn.Module) -> dict[str, float]: ...


@dataclass
class RunResult:
    """What a training run produced: per-epoch rows, the summary, the trained model and, when
    recorded, per-layer diagnostics rows (``epoch, layer, metric...``)."""

    history: list[dict[str, float]]
    summary: dict[str, Any]
    model: nn.Module
    out: Path | None
    layer_history: list[dict[str, float]] = field(default_factory=list)


EpochHook = Callable[[int, nn.Module], None]


def fit(model: nn.Module, task: Task, config: TrainConfig, out: str | Path | None = None, *,
        progress: bool = True, run_info: dict[str, Any] | None = None,
        on_epoch: EpochHook | None = None, checkpoint_every: int | None = None,
        resume: bool = False, on_metrics: Callable[[dict[str, float]], None] | None = None) -> RunResult:
    """Train ``model`` on ``task`` with Adam for ``config.epochs`` epochs.

    Stops early with ``summary["diverged"] = True`` as soon as a training loss is NaN or infinite
    (``divergence_kind`` ``non-finite``) or exceeds :data:`DIVERGENCE_FACTOR` times the task's
    chance-level loss, ``ln C`` for C classes (``exploded``; at epoch 1 that is the untrained
    model's loss), and with ``summary["stopped_early"] = True`` once ``config.selection`` (the highest
    validation accuracy or the lowest validation loss) has not improved for ``config.patience``
    epochs. Subnormal floats are flushed to zero while training
    (:func:`~fathom.runtime.subnormals_flushed`). ``run_info`` (the model's configuration, the
    dataset...) is recorded in ``config.json`` beside the training configuration. ``on_epoch(epoch,
    model)`` is called before the first epoch (``epoch=0``) and after each one; ``on_metrics(row)``
    gets each epoch's ``metrics.csv`` row as it is made (e.g. :class:`~fathom.train.TensorBoardLogger`).

    With ``checkpoint_every=N`` the model, optimizer and random-number states and the metrics so
    far are written atomically to ``out/checkpoint.pt`` every N epochs; ``resume=True`` continues
    from that file, so a killed run loses at most N epochs and, timing aside, its ``metrics.csv``
    equals an uninterrupted run's. Ctrl-C stops the run cleanly: ``summary.json`` gets
    ``"interrupted": true`` and the best metrics so far.
    """
    if checkpoint_every is not None and checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be a positive number of epochs; got {checkpoint_every}")
    if (checkpoint_every or resume) and out is None:
        raise ValueError("checkpoints live in the run directory: give an output directory to checkpoint or resume")
    selection = config.selection
    if selection not in task.metrics:
        raise ValueError(f"selection {selection!r} is not a metric this task measures: it has "
                         f"{', '.join(task.metrics)}")
    seed_everything(config.seed)
    device = resolve_device(config.device)
    model = model.to(device)
    task = task.to(device)
    optimizer = torch.optim.Adam(parameter_groups(model, config), lr=config.lr)
    columns = ["epoch", "train_loss", *task.metrics, "seconds"]

    out_dir = Path(out) if out is not None else None
    history: list[dict[str, float]] = []
    first_epoch = 1
    if resume:
        history = [{column: row.get(column, math.nan) for column in columns}  # a checkpoint from before a column
                   for row in load_checkpoint(out_dir / CHECKPOINT_FILE, model, optimizer)]
        first_epoch = len(history) + 1
    elif out_dir is not None:
        info = dict(run_info or {})
        write_json(out_dir / "config.json", {"model": info.pop("model", type(model).__name__),
                                             "train": config.to_dict(), **info})
        write_json(out_dir / "env.json", environment(config.seed, str(device)))

    diverged, reason, kind, stopped_early, interrupted = False, None, None, False, False
    limit = DIVERGENCE_FACTOR * task.chance_loss
    if on_epoch is not None and not resume:
        on_epoch(0, model)
    with progress_bar(progress) as bar, subnormals_flushed(), PeakMemory(device) as peak:
        bar_task = bar.add_task("train", total=config.epochs, completed=first_epoch - 1, status="")
        try:
            for epoch in range(first_epoch, config.epochs + 1):
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(config, epoch)
                start = time.perf_counter()
                losses, train_metrics, kind = train_epoch(model, task, optimizer, limit)
                if kind is not None:
                    diverged, reason = True, divergence_reason(kind, losses[-1], epoch, limit)
                    break
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                seconds = time.perf_counter() - start

                row = {"epoch": epoch, **train_metrics,
                       **task.evaluate(model), "seconds": seconds}
                history.append({column: row[column] for column in columns})
                if on_metrics is not None:
                    on_metrics(history[-1])
                bar.update(bar_task, advance=1,
                           status=f"loss {row['train_loss']:.4f}  {selection} {row[selection]:.3f}")
                if config.patience is not None and stale(history, config.patience, selection):
                    stopped_early = True
                    break
                if on_epoch is not None:
                    on_epoch(epoch, model)
                if out_dir is not None and epoch % METRICS_EVERY == 0:
                    write_csv(out_dir / "metrics.csv", history, columns)
                if checkpoint_every and epoch % checkpoint_every == 0:
                    save_checkpoint(out_dir / CHECKPOINT_FILE, model, optimizer, history)
        except KeyboardInterrupt:
            interrupted = True

    summary = {**summarize(history, diverged, reason, selection, task.reported),
               "divergence_kind": kind, "stopped_early": stopped_early, "interrupted": interrupted,
               "peak_memory_mb": peak.mb, "peak_memory_kind": peak.kind}
    if out_dir is not None:
        write_csv(out_dir / "metrics.csv", history, columns)
        write_json(out_dir / "summary.json", summary)
    return RunResult(history, summary, model, out_dir)


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """The learning rate of ``epoch`` (from 1): ``lr * lr_gamma ** ((epoch - 1) // lr_step)``, or ``lr``.

    A function of the epoch alone, so a resumed run picks up the schedule where it stopped.
    """
    if config.lr_step is None:
        return config.lr
    return config.lr * config.lr_gamma ** ((epoch - 1) // config.lr_step)


def parameter_groups(model: nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    """Adam's parameter groups: ``weight_decay`` on every parameter, or, with
    ``block_weight_decay``, that penalty on ``model.message_passing_parameters()`` and
    ``weight_decay`` on the rest."""
    if config.block_weight_decay is None:
        return [{"params": list(model.parameters()), "weight_decay": config.weight_decay}]
    listed = getattr(getattr(model, "module", model), "message_passing_parameters", None)  # DDP: its module
    if listed is None:
        raise ConfigError(f"block_weight_decay needs a model that lists its message-passing parameters "
                          f"(a message_passing_parameters() method); {type(model).__name__} has none: "
                          "leave block_weight_decay unset")
    blocks = list(listed())
    chosen = {id(p) for p in blocks}
    rest = [p for p in model.parameters() if id(p) not in chosen]
    return [{"params": blocks, "weight_decay": config.block_weight_decay},
            {"params": rest, "weight_decay": config.weight_decay}]


def train_epoch(model: nn.Module, task: Task, optimizer: torch.optim.Optimizer,
                limit: float) -> tuple[list[float], dict[str, float], str | None]:
    """One optimizer step per batch of ``task``: the batch losses, the epoch's training metrics
    (each batch weighted by ``task.batch_weight(batch)`` where the task has it, so a short last batch
    counts for its size), and the divergence kind of the first loss that diverged (no step is taken
    on it)."""
    model.train()
    losses: list[float] = []
    sums: dict[str, float] = {}
    weight = 0.0
    size = getattr(task, "batch_weight", None)
    for batch in task.batches():
        optimizer.zero_grad(set_to_none=True)
        loss, metrics = task.loss(model, batch)
        losses.append(loss.item())
        kind = divergence(losses[-1], limit)
        if kind is not None:
            return losses, metrics, kind
        loss.backward()
        optimizer.step()
        share = float(size(batch)) if size is not None else 1.0
        weight += share
        for name, value in {"train_loss": losses[-1], **metrics}.items():
            sums[name] = sums.get(name, 0.0) + share * value
    return losses, {name: total / weight for name, total in sums.items()}, None


def divergence_reason(kind: str, loss: float, epoch: int, limit: float) -> str:
    if kind == "non-finite":
        return f"training loss became {loss} at epoch {epoch}"
    return (f"training loss {loss:.4g} at epoch {epoch} exceeds {DIVERGENCE_FACTOR:g} x the chance-level loss "
            f"({limit:.4g})")


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    history: list[dict[str, float]]) -> None:
    """Model, optimizer and random-number states and the metrics so far, written atomically."""
    write_torch_atomic(path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                              "rng": random_states(), "history": history})


def load_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> list[dict[str, float]]:
    """Restore what :func:`save_checkpoint` wrote; return the metrics of the epochs it covers."""
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint to resume from at {path}: the run wrote none (checkpoints are "
                                "written every N epochs only when asked for)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    restore_random_states(state["rng"])
    return state["history"]


def divergence(loss: float, limit: float) -> str | None:
    """``non-finite`` for a NaN or infinite loss, ``exploded`` above ``limit``, else ``None``."""
    if not math.isfinite(loss):
        return "non-finite"
    return "exploded" if loss > limit else None


def merit(row: dict[str, float], metric: str) -> float:
    """How good ``row`` is by ``metric``: the metric itself, negated for a loss (lower is better)."""
    return -row[metric] if metric.endswith("_loss") else row[metric]


def stale(history: list[dict[str, float]], patience: int, metric: str = "val_acc") -> bool:
    """True when the first epoch with the best ``metric`` (the highest accuracy, the lowest loss)
    lies ``patience`` or more epochs before the last: a tie is no improvement. Epochs without the
    metric (NaN: a checkpoint from before it was recorded) are left out, as :func:`summarize`
    leaves them out."""
    if math.isnan(history[-1][metric]):  # no validation data: nothing to stop on
        return False
    scored = [i for i, row in enumerate(history) if not math.isnan(row[metric])]
    best = max(scored, key=lambda i: (merit(history[i], metric), -i))
    return len(history) - 1 - best >= patience


def summarize(history: list[dict[str, float]], diverged: bool, reason: str | None = None,
              selection: str = "val_acc", reported: str = "test_acc") -> dict[str, Any]:
    """``summary.json``: initial and final train loss; the first epoch with the best ``selection``
    metric (the highest validation accuracy, or the lowest validation loss), the validation
    accuracy there (``best_val_acc``: under ``val_loss``, the accuracy of the selected epoch, not the
    run's highest) and the ``reported`` metric (test accuracy) there."""
    scored = [row for row in history if not math.isnan(row[selection])]
    best = max(scored, key=lambda row: merit(row, selection)) if scored else None
    return {
        "initial_train_loss": history[0]["train_loss"] if history else None,
        "final_train_loss": history[-1]["train_loss"] if history else None,
        "best_val_acc": best["val_acc"] if best else None,
        f"{reported}_at_best_val": best[reported] if best else None,
        "best_epoch": best["epoch"] if best else None,
        "epochs_run": len(history),
        "seconds": sum(row["seconds"] for row in history),
        "epoch_seconds": statistics.median(row["seconds"] for row in history) if history else None,
        "diverged": diverged,
        "divergence": reason,
    }

"""Early-training speed: how fast the training loss falls in the first epochs.

DeZoort & Hanin (2023) judge initialisation and architecture by early training, so a run is
summarised by its loss at fixed epochs, the epochs it needs to reach a target loss, and the
area under its training-loss curve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

EARLY_EPOCHS = (10, 25, 50)


def loss_at(history: Sequence[dict[str, float]], epoch: int) -> float:
    """Training loss at ``epoch`` (1-based); NaN if the run stopped before it (e.g. diverged)."""
    return history[epoch - 1]["train_loss"] if 0 < epoch <= len(history) else math.nan


def epochs_to_target(history: Sequence[dict[str, float]], target: float) -> int | None:
    """First epoch whose training loss is at most ``target``; ``None`` if never reached."""
    return next((int(row["epoch"]) for row in history if row["train_loss"] <= target), None)


def loss_auc(history: Sequence[dict[str, float]], epochs: int) -> float:
    """Area under the training-loss curve per epoch, ``(1/E) sum_(e <= E) loss_e``, over the planned
    ``epochs`` ``E``; NaN when the run stopped early (a diverged curve has no finite area)."""
    if len(history) < epochs:
        return math.nan
    return sum(row["train_loss"] for row in history[:epochs]) / epochs


def early_measures(history: Sequence[dict[str, float]], epochs: int, target: float) -> dict[str, Any]:
    """``loss_at_10/25/50``, ``epochs_to_target`` (None: never) and ``loss_auc`` of one run."""
    measures: dict[str, Any] = {f"loss_at_{e}": loss_at(history, e) for e in EARLY_EPOCHS}
    measures["epochs_to_target"] = epochs_to_target(history, target)
    measures["loss_auc"] = loss_auc(history, epochs)
    return measures

"""TensorBoard logging for people who watch runs: per-epoch metrics and per-layer diagnostics.

Uses PyTorch's ``torch.utils.tensorboard`` writer, which needs the ``tensorboard`` package (an
optional extra: ``pip install -e ".[tensorboard]"``). View with ``tensorboard --logdir DIR``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


class TensorBoardLogger:
    """Writes ``metrics.csv``'s columns as scalars ``epoch/<column>`` at each epoch, and for each
    per-layer diagnostic ``layers/<metric>/first``, ``/last`` and ``/last_over_first`` (the
    first and last block's values and their ratio: the signal's growth or decay through depth)."""

    def __init__(self, log_dir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:  # torch's writer imports tensorboard
            raise ImportError("TensorBoard logging needs the tensorboard package: "
                              "pip install -e \".[tensorboard]\"") from error
        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(str(self.log_dir))

    def epoch(self, row: dict[str, float]) -> None:
        """One epoch's metrics (a ``metrics.csv`` row with its ``epoch``)."""
        for name, value in row.items():
            if name != "epoch" and not math.isnan(value):
                self.writer.add_scalar(f"epoch/{name}", value, row["epoch"])
        self.writer.flush()

    def layers(self, epoch: int, rows: list[dict[str, Any]]) -> None:
        """The per-layer diagnostics of one recording (``layer_metrics.csv`` rows, ordered by layer)."""
        first, last = rows[0], rows[-1]
        for name in first:
            if name in ("epoch", "layer"):
                continue
            self.writer.add_scalar(f"layers/{name}/first", first[name], epoch)
            self.writer.add_scalar(f"layers/{name}/last", last[name], epoch)
            if first[name] != 0:
                self.writer.add_scalar(f"layers/{name}/last_over_first", last[name] / first[name], epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

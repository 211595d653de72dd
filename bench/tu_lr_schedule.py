"""Does the TU runs' underfit come from the constant learning rate? Two measurements.

`plain`: PyG alone (no Fathom code): NCI1 shuffled with seed 0, its first 3,300 graphs, PyG's
`GIN` (5 layers, width 64, batch norm, jumping knowledge "cat", no dropout), `global_add_pool`,
batches of 32, Adam at each `--lrs` value for `--epochs` epochs; the training loss and accuracy
every 5 epochs.

`fathom`: Fathom's graphs-preset run of NCI1 fold 0, as `fathom benchmark --preset graphs` plans it,
with only the epochs (150), early stopping (off) and the schedule changed: constant lr, and lr
halved every 50 epochs (`TrainConfig.lr_step`, GIN's paper's schedule). Each run in its own
directory under `--out`; the summary row printed as JSON.

    python bench/tu_lr_schedule.py plain [--lrs 0.01 0.001 --epochs 30]
    python bench/tu_lr_schedule.py fathom [--steps none 50 --epochs 150 --out runs/tu_lr]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from common import data_root


def plain(lr: float, epochs: int, root: str) -> None:
    from torch_geometric.datasets import TUDataset
    from torch_geometric.loader import DataLoader
    from torch_geometric.nn import global_add_pool
    from torch_geometric.nn.models import GIN

    torch.manual_seed(0)
    copy = tempfile.mkdtemp()
    shutil.copytree(Path(root) / "tu_dataset" / "NCI1", Path(copy) / "NCI1")
    train = TUDataset(copy, "NCI1").shuffle()[:3300]
    model = GIN(train.num_features, 64, 5, out_channels=2, dropout=0.0, norm="batch_norm", jk="cat")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        total = correct = 0.0
        for batch in DataLoader(train, batch_size=32, shuffle=True):
            logits = global_add_pool(model(batch.x, batch.edge_index), batch.batch)
            loss = F.cross_entropy(logits, batch.y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * batch.num_graphs
            correct += int((logits.argmax(-1) == batch.y).sum())
        if epoch % 5 == 0 or epoch == epochs - 1:
            print(json.dumps({"lr": lr, "epoch": epoch, "train_loss": round(total / len(train), 4),
                              "train_acc": round(correct / len(train), 4)}))
    shutil.rmtree(copy)


def fathom(step: int | None, epochs: int, root: str, out: str) -> None:
    from fathom.benchmark import preset
    from fathom.sweep.runner import run_one

    spec = next(spec for _, spec in preset("graphs").specs(root, ("nci1",), ("Fathom",)) if spec.split == 0)
    spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=epochs, patience=None, lr_step=step))
    row = run_one(spec, str(Path(out) / f"lr_step_{step}"), 0.5)
    keys = ("final_train_loss", "loss_at_50", "best_val_acc", "test_acc_at_best_val", "best_epoch", "seconds")
    print(json.dumps({"lr_step": step, **{key: row[key] for key in keys}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("plain", "fathom"))
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.01, 0.001])
    parser.add_argument("--steps", nargs="+", default=["none", "50"], help="lr_step values ('none': constant)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--out", default="runs/tu_lr")
    args = parser.parse_args()
    root = str(data_root())
    if args.kind == "plain":
        for lr in args.lrs:
            plain(lr, args.epochs or 30, root)
    else:
        for step in args.steps:
            fathom(None if step == "none" else int(step), args.epochs or 150, root, args.out)


if __name__ == "__main__":
    main()

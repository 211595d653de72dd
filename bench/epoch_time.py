"""Training-epoch time of Fathom vs a stack of PyG GCNConv layers computing the same function.

Method: Cora (2708 nodes, 1433 features, public split), width 64, no residuals, glorot weights,
the gcn operator D^-1/2 (A+I) D^-1/2, relu before each propagation, linear encoder and head.
One epoch = forward, cross-entropy on the training nodes, backward, Adam step (no evaluation).
Models: PyG GCNConv stack (uncached and cached=True), Fathom's DeepGNN with dense features,
and Fathom with sparse input features (what `fathom train` uses on Cora). After 3 warm-up
epochs, repetitions are interleaved (one epoch of each model in turn) and the median is
reported with the ratio to the PyG stacks measured in the same run. Subnormal floats are
flushed to zero (see bench/common.py: flush_subnormals).

    python bench/epoch_time.py [--depths 2 16 64 256] [--repeats 15] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GCNConv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_root, flush_subnormals, machine, markdown, median, synchronize  # noqa: E402

from fathom import DeepGNN, ModelConfig  # noqa: E402
from fathom.data import load_dataset  # noqa: E402
from fathom.graph import SparseFeatures  # noqa: E402


class GCNStack(nn.Module):
    """Linear encoder, ``depth`` x (relu, GCNConv without bias), relu, linear head: PyG's way."""

    def __init__(self, in_channels: int, width: int, out_channels: int, depth: int, cached: bool) -> None:
        super().__init__()
        self.encoder = nn.Linear(in_channels, width)
        self.convs = nn.ModuleList(GCNConv(width, width, bias=False, cached=cached) for _ in range(depth))
        self.head = nn.Linear(width, out_channels)

    def forward(self, x, edge_index):
        h = self.encoder(x)
        for conv in self.convs:
            h = conv(F.relu(h), edge_index)
        return self.head(F.relu(h))


def epoch(model, optimizer, x, edge_index, y, mask, device) -> float:
    synchronize(device)
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(x, edge_index)[mask], y[mask]).backward()
    optimizer.step()
    synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 16, 64, 256])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-root", default=data_root())
    args = parser.parse_args()
    flush_subnormals()
    device = torch.device(args.device)
    data = load_dataset("cora", args.data_root)
    x, edge_index, y, mask = (t.to(device) for t in (data.x, data.edge_index, data.y, data.train_mask))
    sparse_x = SparseFeatures(x)
    print(__doc__.split("\n\n")[1].replace("\n", " "))
    print(f"\nMachine: {machine()}; device {device}; {args.repeats} interleaved repetitions.\n")
    rows = []
    for depth in args.depths:
        torch.manual_seed(0)
        config = ModelConfig(depth=depth, width=args.width, aggregation="gcn", residual_aggregation=0.0,
                             residual="none", init="glorot")
        models = {
            "pyg": (GCNStack(1433, args.width, 7, depth, cached=False), x),
            "pyg_cached": (GCNStack(1433, args.width, 7, depth, cached=True), x),
            "fathom": (DeepGNN(config, 1433, 7), x),
            "fathom_sparse_x": (DeepGNN(config, 1433, 7), sparse_x),
        }
        timings: dict[str, list[float]] = {name: [] for name in models}
        optimizers = {name: torch.optim.Adam(model.to(device).parameters(), lr=0.005)
                      for name, (model, _) in models.items()}
        for repeat in range(args.repeats + 3):
            for name, (model, features) in models.items():
                seconds = epoch(model, optimizers[name], features, edge_index, y, mask, device)
                if repeat >= 3:
                    timings[name].append(seconds)
        medians = {name: median(values) * 1e3 for name, values in timings.items()}
        rows.append({"depth": depth, **{f"{k} ms": v for k, v in medians.items()},
                     "fathom / pyg": medians["fathom"] / medians["pyg"],
                     "fathom / pyg_cached": medians["fathom"] / medians["pyg_cached"],
                     "fathom_sparse_x / pyg_cached": medians["fathom_sparse_x"] / medians["pyg_cached"]})
        print(f"depth {depth}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in medians.items()), flush=True)
    print()
    print(markdown(rows, list(rows[0])))


if __name__ == "__main__":
    main()

"""Building a mini-batch's operator on TU graphs: one batched eigensolve per size class vs one per graph.

A graph-classification batch (``component_scaling="unit"``, sum aggregation: Fathom's TU setting)
divides each graph's block by its own Perron root, so every batch needs the root of each of its
graphs. Fathom computes the roots of the small blocks with one batched dense eigensolve per size
class (``fathom.graph.AggregationOperator._dense_block_roots``); the baseline, measured in the same
run, is one eigensolve per block (what Fathom did before). For context, the last column times one
training step of the dataset's chosen model on the same batches (forward, backward, Adam; the
operator built already). Method: 40 shuffled training batches of 32 graphs (seeded), each arm
building all of them in turn, alternating, median over repeats of the time per batch. Both arms'
roots are compared (largest relative difference).

    python bench/batch_operators.py [--datasets nci1 proteins mutag imdb-binary] [--repeats 7]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch_geometric.data import Batch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import alternating_medians, data_root, machine, markdown  # noqa: E402

from fathom import DeepGNN, ModelConfig  # noqa: E402
from fathom.benchmark.chosen import fathom_config  # noqa: E402
from fathom.graph import AggregationOperator  # noqa: E402
from fathom.tasks import load_task  # noqa: E402

BATCHES = 40


def one_eigensolve_per_block(self, components, sizes, strong, local, rows, cols, values):
    """The baseline, Fathom's code before the change: each block's dense eigenvalues on their own, in
    a Python loop over the blocks, each block's entries a slice of the entries sorted by block."""
    edge_order = torch.argsort(strong[rows], stable=True)
    edge_ends = torch.cumsum(torch.bincount(strong[rows], minlength=sizes.numel()), 0).tolist()
    roots = torch.empty(components.numel(), dtype=torch.float64)
    for i, component in enumerate(components.tolist()):
        inside = edge_order[(edge_ends[component - 1] if component else 0):edge_ends[component]]
        size = int(sizes[component])
        block = torch.zeros(size, size, dtype=torch.float64)
        block[local[rows[inside]], local[cols[inside]]] = values[inside]
        roots[i] = (torch.linalg.eigvalsh(block).max() if self.is_symmetric
                    else torch.linalg.eigvals(block).abs().max())
    return roots


def build_all(batches: list[Batch], config: ModelConfig, solver=None) -> list[AggregationOperator]:
    original = AggregationOperator._dense_block_roots
    if solver is not None:
        AggregationOperator._dense_block_roots = solver
    try:
        return [DeepGNN.graph_operator(config, batch) for batch in batches]
    finally:
        AggregationOperator._dense_block_roots = original


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def measure(dataset: str, repeats: int) -> dict:
    params, _ = fathom_config(dataset)
    config = ModelConfig.from_dict(params)
    task = load_task(dataset, data_root())
    torch.manual_seed(0)
    batches = [batch for _, batch in zip(range(BATCHES), task.batches())]
    batched, looped = build_all(batches, config), build_all(batches, config, one_eigensolve_per_block)
    difference = max(float(((a.component_roots()[1] - b.component_roots()[1]).abs() / b.component_roots()[1]).max())
                     for a, b in zip(batched, looped))
    model = DeepGNN(config, task.in_channels, task.num_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def train_steps() -> None:
        for batch, operator in zip(batches, batched):
            optimizer.zero_grad()
            logits = task.pool(model(batch.x, operator=operator), batch.batch, size=batch.num_graphs)
            F.cross_entropy(logits, batch.y.view(-1)).backward()
            optimizer.step()

    seconds = alternating_medians({
        "one eigensolve per block": lambda: timed(lambda: build_all(batches, config, one_eigensolve_per_block)),
        "batched by size class": lambda: timed(lambda: build_all(batches, config)),
        "training step": lambda: timed(train_steps),
    }, repeats)
    ms = {label: value / len(batches) * 1e3 for label, value in seconds.items()}
    row = {"dataset": dataset, **{f"{label} ms": value for label, value in ms.items()},
           "speed-up": ms["one eigensolve per block"] / ms["batched by size class"],
           "largest relative root difference": difference}
    print(", ".join(f"{key} {value:.3g}" if isinstance(value, float) else f"{key} {value}"
                    for key, value in row.items()), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["nci1", "proteins", "mutag", "imdb-binary"])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"Machine: {machine()}; {BATCHES} training batches (the task's 32 graphs each); median of "
          f"{args.repeats} interleaved repetitions, per batch.\n")
    rows = [measure(dataset, args.repeats) for dataset in args.datasets]
    print(markdown(rows, list(rows[0])))


if __name__ == "__main__":
    main()

"""A full-batch epoch on a graph of ogbn-arxiv's size: 169,343 nodes, ~1.17M undirected edges.

Method: a CSBM with 169,343 nodes in 40 classes, mean degree ~13.8 (70% of edges inside a
class), 128 features; width 64, fixup residual blocks, gnn_he init, gcn operator, a = 0.5.
Each (depth, mode) runs in a fresh process: build the graph, 1 warm-up and `--epochs` training
epochs; reports graph-build time, median epoch time and peak RSS.

    python bench/large_graph.py [--depths 16 64] [--modes full checkpoint] [--epochs 2]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (cuda_peak_mb, grid_parser, markdown, measure_grid, median, peak_rss_mb,  # noqa: E402
                    run_worker_or_print_method, train_epochs)

NODES, CLASSES, FEATURES = 169_343, 40, 128
P_IN, P_OUT = 9.66 / (NODES / CLASSES), 4.14 / (NODES - NODES / CLASSES)  # 9.66 + 4.14 = 13.8 neighbours


def worker(arguments: dict) -> dict:
    import torch

    from fathom import AggregationOperator, DeepGNN, ModelConfig
    from fathom.data import csbm

    device = torch.device(arguments["device"])
    start = time.perf_counter()
    data = csbm(NODES, CLASSES, P_IN, P_OUT, FEATURES, signal=1.0, seed=0)
    operator = AggregationOperator.from_data(data, "gcn", 0.5).to(device)
    build = time.perf_counter() - start
    config = ModelConfig(depth=arguments["depth"], width=64, memory=arguments["mode"])
    torch.manual_seed(0)
    model = DeepGNN(config, FEATURES, CLASSES).to(device)
    x, y, mask = data.x.to(device), data.y.to(device), data.train_mask.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    times, _ = train_epochs(model, optimizer, x, operator, y, mask, arguments["epochs"], device)
    return {**arguments, "edges": data.num_edges // 2, "build_s": build, "epoch_s": median(times),
            "peak_rss_mb": peak_rss_mb(), "cuda_peak_mb": cuda_peak_mb(device)}


def main() -> None:
    args = grid_parser(__doc__, [16, 64], ["full", "checkpoint"], epochs=2).parse_args()
    if run_worker_or_print_method(args, worker, __doc__):
        return
    rows = measure_grid(__file__, args.depths, args.modes, {"epochs": args.epochs, "device": args.device})
    print(markdown(rows, ["depth", "mode", "edges", "build_s", "epoch_s", "peak_rss_mb", "cuda_peak_mb", "error"]))


if __name__ == "__main__":
    main()

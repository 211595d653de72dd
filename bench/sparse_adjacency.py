"""Forward+backward time of the baselines on the cached sparse adj_t vs PyG's edge_index scatter path.

Method: Cora (2708 nodes, 1433 features; a CSBM of the same size, 7 classes and mean degree ~4
when the data root has no Cora). Models from Fathom's factories with their default (paper)
parameters: GCNII-64 (64 GCN2Conv layers, width 64), GCN-2 (width 16), and GCN-2 with DropEdge
(whose graph changes every step, so its operator is rebuilt each forward on either path). Each
model runs on the same weights with GCNAdjacency(sparse=True) (a torch.sparse CSR adj_t, one
sparse-dense product per layer) and GCNAdjacency(sparse=False) (the normalised edge_index and
edge weights, gather/scatter per layer); both normalise once per graph. One timed step = forward
in training mode, cross-entropy on the training nodes, backward. After 2 warm-up steps the two
paths alternate, each going first every other repeat; the median of the repeats and the ratio
edge_index / sparse are reported.

    python bench/sparse_adjacency.py [--repeats 15] [--data-root DIR] [--out result.json]
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import alternating_medians, data_root, flush_subnormals, machine, markdown, ratio_row, synchronize  # noqa: E402

from fathom.data import csbm, load_dataset  # noqa: E402
from fathom.models import build_model  # noqa: E402
from fathom.models.adjacency import GCNAdjacency  # noqa: E402
from fathom.runs import environment, write_json  # noqa: E402

MODELS = {"gcnii-64": ("gcnii", {}), "gcn-2": ("gcn", {}), "gcn-2 dropedge": ("gcn_dropedge", {})}


def graph(root: str):
    """Cora from ``root``, else a CSBM of Cora's size (the name says which)."""
    try:
        return "cora", load_dataset("cora", root)
    except Exception:  # noqa: BLE001 - any missing or unreadable dataset falls back to the CSBM
        return "csbm (cora-sized)", csbm(num_nodes=2708, num_classes=7, p_in=0.008, p_out=0.0004,
                                         num_features=1433, split=(0.05, 0.2, 0.75))


def step(model, x, edge_index, y, mask, device) -> float:
    synchronize(device)
    start = time.perf_counter()
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x, edge_index)[mask], y[mask]).backward()
    synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-root", default=data_root())
    parser.add_argument("--out", default=None, help="write the result as JSON here")
    args = parser.parse_args()
    flush_subnormals()
    device = torch.device(args.device)
    name, data = graph(args.data_root)
    x, edge_index, y, mask = (t.to(device) for t in (data.x, data.edge_index, data.y, data.train_mask))
    classes = int(data.y.max()) + 1
    print(__doc__.split("\n\n")[1].replace("\n", " "))
    print(f"\nGraph: {name}. Machine: {machine()}; device {device}; {args.repeats} alternating repeats.\n")
    rows = []
    for label in args.models:
        factory_name, params = MODELS[label]
        torch.manual_seed(0)
        model = build_model(factory_name, params, data, classes).to(device).train()
        paths = {"sparse": GCNAdjacency(sparse=True), "edge_index": GCNAdjacency(sparse=False)}

        def timed_on(adjacency: GCNAdjacency) -> float:
            model.adjacency = adjacency
            return step(model, x, edge_index, y, mask, device)

        seconds = alternating_medians({path: partial(timed_on, adjacency) for path, adjacency in paths.items()},
                                      args.repeats)
        rows.append(ratio_row(label, seconds, "edge_index", "sparse"))
    print()
    print(markdown(rows, list(rows[0])))
    if args.out:
        write_json(args.out, {"benchmark": "sparse_adjacency", "graph": name, "rows": rows,
                              "config": {"repeats": args.repeats, "models": {k: MODELS[k] for k in args.models}},
                              "environment": environment(0, str(device))})


if __name__ == "__main__":
    main()

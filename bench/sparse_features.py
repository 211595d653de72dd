"""Training-step time of the node benchmark's models on sparse input features against dense ones.

Method: Coauthor CS (18333 nodes, 6805 bag-of-words features, 0.9% non-zero; a CSBM of its size
with features as sparse when the data root has none), each model built as the full benchmark builds
it there (`fathom.benchmark.suite.preset("full")`, the entry's settings for the dataset). One timed
step = forward in training mode, cross-entropy on the training nodes, backward. The dense arm feeds
``x``; the sparse arm feeds ``fathom.graph.SparseFeatures(x)``, what a model that accepts it gets
from `fathom benchmark` under 10% density: input dropout on the stored entries, then a sparse
product (Fathom, GCNII, APPNP, DeepGCN) or PyG's Linear on the CSR tensor (the GCN-based models,
GAT). After 2 warm-up steps the arms alternate, each going first every other repeat; the median of
the repeats and the ratio dense / sparse are reported. One torch thread by default.

    python bench/sparse_features.py [--dataset cs] [--repeats 7] [--models Fathom GCNII APPNP JKNet]
                                    [--threads 1] [--data-root DIR]
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import alternating_medians, data_root, flush_subnormals, machine, markdown, ratio_row  # noqa: E402
from sparse_adjacency import step  # noqa: E402

from fathom.benchmark.suite import preset  # noqa: E402
from fathom.data import load_dataset  # noqa: E402
from fathom.data.csbm import csbm  # noqa: E402
from fathom.graph import SparseFeatures, density  # noqa: E402
from fathom.models import build_model  # noqa: E402

ENTRIES = ["Fathom", "GCNII", "APPNP", "JKNet", "GCN", "GAT", "DeepGCN (res+)", "GCN + PairNorm", "GCN + DropEdge"]


def graph(name: str, root: str):
    """``name`` from ``root``, else a CSBM of Coauthor CS's size with 0.9%-dense features."""
    try:
        return name, load_dataset(name, root)
    except Exception:  # noqa: BLE001 - any missing or unreadable dataset falls back to the CSBM
        data = csbm(num_nodes=18333, num_classes=15, p_in=0.0008, p_out=0.00005, num_features=6805,
                    split=(0.6, 0.2, 0.2))
        data.x = data.x.abs() * (torch.rand_like(data.x) < 0.009)
        return "csbm (Coauthor CS-sized)", data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="cs")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--models", nargs="+", default=ENTRIES, choices=ENTRIES, metavar="ENTRY")
    parser.add_argument("--data-root", default=data_root())
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    flush_subnormals()
    torch.set_num_threads(args.threads)
    name, data = graph(args.dataset, args.data_root)
    features = {"dense": data.x, "sparse": SparseFeatures(data.x)}
    print(__doc__.split("\n\n")[1].replace("\n", " "))
    print(f"\nGraph: {name} ({data.num_nodes} nodes, {data.num_features} features, {density(data.x):.2%} "
          f"non-zero). Machine: {machine()}; {args.repeats} alternating repeats.\n")
    entries = {entry.label: entry for entry in preset("full").entries}
    rows = []
    for label in args.models:
        entry = entries[label]
        torch.manual_seed(0)
        params, _ = entry.settings(args.dataset)
        model = build_model(entry.factory, params, data, int(data.y.max()) + 1).train()
        timed = {arm: partial(step, model, x, data.edge_index, data.y, data.train_mask, torch.device("cpu"))
                 for arm, x in features.items()}
        rows.append(ratio_row(label, alternating_medians(timed, args.repeats), "dense", "sparse"))
    print()
    print(markdown(rows, list(rows[0])))


if __name__ == "__main__":
    main()

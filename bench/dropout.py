"""Training-step time of the baselines with Fathom's CPU dropout against ``torch.nn.functional.dropout``.

Method: Cora (a CSBM of Cora's size when the data root has none), each baseline from its factory
with its paper's parameters, one timed step = forward in training mode, cross-entropy on the
training nodes, backward. The baselines' own modules draw their dropout masks with
``fathom.nn.dropout.dropout`` (``uniform >= p``); the reference swaps it for
``torch.nn.functional.dropout`` (``bernoulli_``), the same distribution. Dropout inside PyG's own
modules (GATConv's attention, DeepGCNLayer, PyG's GCN model behind GCN, JKNet and DropEdge) is
PyG's either way. After 2 warm-up steps the two alternate, each going first every other repeat;
the median of the repeats and the ratio torch / fathom are reported. One torch thread by default.

    python bench/dropout.py [--repeats 15] [--models gcnii gat appnp deepgcn gcn_pairnorm] [--threads 1]
                            [--data-root DIR]
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import alternating_medians, data_root, flush_subnormals, machine, markdown, ratio_row  # noqa: E402
from sparse_adjacency import graph, step  # noqa: E402

import fathom.models.baselines as baselines  # noqa: E402
from fathom.models import build_model  # noqa: E402
from fathom.nn.dropout import dropout as fathom_dropout  # noqa: E402

DROPOUTS = {"fathom": fathom_dropout, "torch": F.dropout}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--models", nargs="+", default=["gcnii", "gat", "appnp", "deepgcn", "gcn_pairnorm"])
    parser.add_argument("--data-root", default=data_root())
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    flush_subnormals()
    torch.set_num_threads(args.threads)
    name, data = graph(args.data_root)
    print(__doc__.split("\n\n")[1].replace("\n", " "))
    print(f"\nGraph: {name}. Machine: {machine()}; {args.repeats} alternating repeats.\n")
    rows = []
    for factory in args.models:
        torch.manual_seed(0)
        model = build_model(factory, {}, data, int(data.y.max()) + 1).train()
        def timed_with(function) -> float:
            baselines.dropout = function
            return step(model, data.x, data.edge_index, data.y, data.train_mask, torch.device("cpu"))

        try:
            seconds = alternating_medians({label: partial(timed_with, function) for label, function in DROPOUTS.items()},
                                          args.repeats)
        finally:
            baselines.dropout = fathom_dropout
        rows.append(ratio_row(factory, seconds, "torch", "fathom"))
    print()
    print(markdown(rows, list(rows[0])))


if __name__ == "__main__":
    main()

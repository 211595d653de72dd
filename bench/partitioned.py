"""Partitioned (Cluster-GCN) training on the ogbn-arxiv-sized CSBM: memory per part count, epoch time on 1 and 2 processes, accuracy against full batch.

Method: `bench/large_graph.py`'s CSBM (169,343 nodes, ~1.17M undirected edges, 40 classes, 128
features) and model (width 64, fixup residual blocks, gnn_he, gcn, a = 0.5, memory full),
trained by `fathom.train.train_partitioned` with METIS parts. `memory`: one fresh process per K,
`--epochs` epochs, peak RSS of the process (graph, parts, operators, training and a full-graph
evaluation). `scaling`: `torchrun --nproc-per-node P` per P, the median training-pass time per
epoch (evaluation excluded) and each process's peak RSS. `accuracy`: a small CSBM (3,000 nodes,
10 classes, the same degree and signal), full batch against K parts, test accuracy at the best
validation epoch, per seed, with the share of edges the parts keep and the edge homophily of the
kept and the cut edges.

    python bench/partitioned.py memory [--depth 64] [--parts 1 4 16] [--epochs 1] [--part-eval]
    python bench/partitioned.py scaling [--depth 64] [--parts 16] [--processes 1 2] [--epochs 2] [--part-eval]
    python bench/partitioned.py accuracy [--depth 16] [--parts 8] [--per-step 1] [--seeds 0 1 2] [--epochs 100]
                                         [--method metis|random] [--lr 0.005] [--no-full-batch]
                                         [--part-eval] [--dataset cora --data-root ../shared/datasets]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import flush_subnormals, in_fresh_process, markdown, median, peak_rss_mb, print_method  # noqa: E402

NODES, CLASSES, FEATURES = 169_343, 40, 128
DEGREE_IN, DEGREE_OUT = 9.66, 4.14  # expected neighbours inside and outside a node's class (13.8 in all)


def graph(nodes: int, classes: int, seed: int = 0):
    from fathom.data import csbm

    return csbm(nodes, classes, DEGREE_IN / (nodes / classes), DEGREE_OUT / (nodes - nodes / classes), FEATURES,
                signal=1.0, seed=seed)


def train(arguments: dict, data) -> dict:
    from fathom import ModelConfig, TrainConfig
    from fathom.train import train_partitioned

    model = ModelConfig(depth=arguments["depth"], width=64)
    config = TrainConfig(epochs=arguments["epochs"], lr=arguments.get("lr", 0.005), partitions=arguments["parts"],
                         partition_method=arguments.get("method", "metis"), parts_per_step=arguments.get("per_step", 1),
                         partition_evaluation=arguments.get("evaluation", "auto"), seed=arguments.get("seed", 0), device="cpu")
    start = time.perf_counter()
    result = train_partitioned(model, config, data, progress=False)
    return {"epoch_s": median([row["seconds"] for row in result.history]), "total_s": time.perf_counter() - start,
            "test_acc": result.summary["test_acc_at_best_val"], "best_val_acc": result.summary["best_val_acc"]}


def cut_statistics(data, parts: int, method: str, seed: int) -> dict:
    """The share of edges inside parts, and the edge homophily (PyG's ``homophily``, Zhu et al. 2020)
    of the whole graph, of the edges the parts keep and of those they cut."""
    from torch_geometric.utils import homophily

    from fathom.data.partition import partition_nodes

    assignment = partition_nodes(data, parts, method, seed)
    kept = assignment[data.edge_index[0]] == assignment[data.edge_index[1]]
    return {"kept_edges": float(kept.float().mean()),
            "homophily": float(homophily(data.edge_index, data.y, method="edge")),
            "homophily_kept": float(homophily(data.edge_index[:, kept], data.y, method="edge")),
            "homophily_cut": float(homophily(data.edge_index[:, ~kept], data.y, method="edge"))
            if not kept.all() else None}


def worker(arguments: dict) -> dict:
    if arguments["kind"] == "accuracy":
        if arguments.get("dataset"):
            from fathom.data import load_dataset

            data = load_dataset(arguments["dataset"], arguments.get("data_root"), normalize="protocol")
        else:
            data = graph(3000, 10, arguments["seed"])
        cut = cut_statistics(data, arguments["parts"], arguments["method"], arguments["seed"]) \
            if arguments["parts"] > 1 else {}
        return {**arguments, **cut, **train(arguments, data)}
    start = time.perf_counter()
    data = graph(NODES, CLASSES)
    build = time.perf_counter() - start
    if arguments["kind"] == "memory":
        return {**arguments, "build_s": build, **train(arguments, data), "peak_rss_mb": peak_rss_mb()}
    import torch
    import torch.distributed as dist

    from fathom.train.distributed import init_from_environment

    init_from_environment(torch.device("cpu"))
    row = {**arguments, **train(arguments, data), "peak_rss_mb": peak_rss_mb()}
    rows = [None] * dist.get_world_size()
    dist.all_gather_object(rows, row)
    dist.destroy_process_group()
    return {**rows[0], "peak_rss_mb": [r["peak_rss_mb"] for r in rows], "epoch_s": max(r["epoch_s"] for r in rows)}


def under_torchrun(processes: int, arguments: dict) -> dict:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
               __file__, "--worker", json.dumps(arguments)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=3600,
                               env={**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"})
    if completed.returncode != 0:
        return {**arguments, "error": (completed.stderr.strip().splitlines() or ["killed"])[-1]}
    return json.loads(completed.stdout.strip().splitlines()[0])  # rank 0's line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", nargs="?", choices=("memory", "scaling", "accuracy"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--depth", type=int)
    parser.add_argument("--parts", type=int, nargs="+")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--part-eval", action="store_true", help="evaluate part by part, not on the whole graph")
    parser.add_argument("--per-step", type=int, default=1, help="parts per step (accuracy)")
    parser.add_argument("--method", choices=("metis", "random"), default="metis", help="partition method (accuracy)")
    parser.add_argument("--lr", type=float, default=0.005, help="Adam learning rate (accuracy)")
    parser.add_argument("--dataset", help="a registry dataset with its standard split instead of the small CSBM "
                                          "(accuracy)")
    parser.add_argument("--data-root", help="where --dataset's files are (default: FATHOM_DATA)")
    parser.add_argument("--no-full-batch", action="store_true", help="skip the K = 1 reference (accuracy)")
    args = parser.parse_args()
    flush_subnormals()
    if args.worker:
        row = worker(json.loads(args.worker))
        if int(os.environ.get("RANK", "0")) == 0:
            print(json.dumps(row), flush=True)
        return
    print_method(__doc__, "cpu")
    rows = []
    if args.kind == "memory":
        for parts in args.parts or [1, 4, 16]:
            rows.append(in_fresh_process(__file__, {"kind": "memory", "depth": args.depth or 64, "parts": parts,
                                                    "epochs": args.epochs or 1,
                                                    "evaluation": "parts" if args.part_eval else "auto"}))
            print(json.dumps(rows[-1]), flush=True)
        print(markdown(rows, ["parts", "depth", "epochs", "evaluation", "build_s", "epoch_s", "total_s", "peak_rss_mb", "error"]))
    elif args.kind == "scaling":
        for processes in args.processes:
            rows.append(under_torchrun(processes, {"kind": "scaling", "depth": args.depth or 64,
                                                   "parts": (args.parts or [16])[0], "epochs": args.epochs or 2,
                                                   "processes": processes,
                                                   "evaluation": "parts" if args.part_eval else "auto"}))
            print(json.dumps(rows[-1]), flush=True)
        base = rows[0].get("epoch_s")
        for row in rows:
            row["throughput_x"] = base / row["epoch_s"] if base and row.get("epoch_s") else None
        print(markdown(rows, ["processes", "parts", "depth", "epoch_s", "throughput_x", "peak_rss_mb", "error"]))
    else:
        for seed in args.seeds:
            for parts in [*([] if args.no_full_batch else [1]), *(args.parts or [8])]:
                rows.append(in_fresh_process(__file__, {"kind": "accuracy", "depth": args.depth or 16, "parts": parts,
                                                        "per_step": args.per_step if parts > 1 else 1,
                                                        "method": args.method, "lr": args.lr,
                                                        "epochs": args.epochs or 100, "seed": seed,
                                                        "evaluation": "parts" if args.part_eval else "auto",
                                                        "dataset": args.dataset, "data_root": args.data_root}))
                print(json.dumps(rows[-1]), flush=True)
        print(markdown(rows, ["dataset", "seed", "parts", "per_step", "method", "lr", "evaluation", "depth", "epochs",
                              "kept_edges", "homophily", "homophily_kept", "homophily_cut", "best_val_acc", "test_acc",
                              "epoch_s", "error"]))


if __name__ == "__main__":
    main()

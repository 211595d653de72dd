"""Peak memory and epoch time against depth, for each memory mode; and training runs thousands of blocks deep.

Method: Cora, width 64, fixup residual blocks (beta = 1/sqrt(L); plain beta = 1 overflows at
depth 1024: logits ~1e27 at init) with the spectral weight bound (c = 0.999), the gcn operator. Each (mode, depth) is measured in a fresh process: load Cora, build the model,
run 1 warm-up and `--epochs` training epochs (forward, cross-entropy, backward, Adam step), and
report the median epoch time (wall and CPU) and the process's peak RSS (and CUDA max allocated on a GPU).
Modes: full (every activation kept), checkpoint (segments of sqrt(L) blocks recomputed),
reversible (grouped reversible blocks, inputs recomputed from outputs).
`--train` instead trains one model for `--train-epochs` epochs (default: 50) and reports the loss
curve's first and last values with the peak RSS and the median epoch time per block. Its default
is the principled model of `fathom train` (gnn_he init, fixup, a = 0.5, no norm), reversible, with
Adam's lr = 0.005 * min(1, sqrt(1024 / L)): under beta = 1/sqrt(L) one Adam step moves every block's
weight by about lr, and coherent moves add up over the L blocks to a change of the function of
order sqrt(L) * lr, which the scaling holds at its 1024-block value. `--log FILE` appends one JSON
line per epoch as the run goes.
`--per-block` times `--train` at each of `--depths` in `--rounds` rounds of fresh processes, one per depth,
the order rotated each round (so no depth always runs first or last), and reports per depth the
median CPU time per block over every timed epoch of every round, each round's median, and the ratio
to the shallowest depth: one process's few epochs vary by more than the depths do.

    python bench/depth_memory.py [--depths 16 64 256 1024] [--modes full checkpoint reversible]
    python bench/depth_memory.py --train [--depth 1024 --mode reversible --train-epochs 50 --log run.jsonl]
    python bench/depth_memory.py --per-block --depths 1024 4096 10000 [--rounds 3 --train-epochs 3]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (cuda_peak_mb, data_root, grid_parser, in_fresh_process, markdown, measure_grid,  # noqa: E402
                    median, peak_rss_mb, run_worker_or_print_method, train_epochs)

GRID_MODEL = {"init": "glorot", "norm": "weight", "norm_bound": "spectral", "residual_aggregation": 0.0}
TRAIN_MODEL = {"init": "gnn_he", "norm": "none", "residual_aggregation": 0.5}


def worker(arguments: dict) -> dict:
    import torch

    from fathom import AggregationOperator, DeepGNN, ModelConfig
    from fathom.data import load_dataset
    from fathom.graph import SparseFeatures

    device = torch.device(arguments["device"])
    data = load_dataset("cora", arguments["data_root"])
    rss_after_data = peak_rss_mb()
    model_arguments = {**GRID_MODEL, **{k: arguments[k] for k in GRID_MODEL if k in arguments}}
    config = ModelConfig(depth=arguments["depth"], width=64, residual="fixup", memory=arguments["mode"],
                         **model_arguments)
    operator = AggregationOperator.from_data(data, "gcn", config.residual_aggregation)
    torch.manual_seed(0)
    model = DeepGNN(config, data.num_features, 7, perron_root=operator.perron_root()).to(device)
    operator = operator.to(device)
    x, y, mask = SparseFeatures(data.x.to(device)), data.y.to(device), data.train_mask.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=arguments.get("lr", 0.005))
    cpu_times = []

    def on_epoch(row: dict) -> None:
        if row["epoch"]:
            cpu_times.append(row["cpu_seconds"])
        if arguments.get("log"):
            with open(arguments["log"], "a") as log:
                log.write(json.dumps({"depth": config.depth, **row}) + "\n")

    times, losses = train_epochs(model, optimizer, x, operator, y, mask, arguments["epochs"], device, on_epoch)
    return {**{k: v for k, v in arguments.items() if k not in ("data_root", "log")}, **model_arguments,
            "epoch_s": median(times), "epoch_cpu_s": median(cpu_times),
            "cpu_ms_per_block": 1000 * median(cpu_times) / config.depth,
            "cpu_ms_per_block_epochs": [1000 * seconds / config.depth for seconds in cpu_times],
            "peak_rss_mb": peak_rss_mb(), "rss_after_data_mb": rss_after_data,
            "cuda_peak_mb": cuda_peak_mb(device), "first_loss": losses[0], "last_loss": losses[-1],
            "min_loss": min(losses)}


def per_block_rows(depths: list[int], rounds: int, run) -> list[dict]:
    """``run(depth)`` for every depth in each of ``rounds`` rounds, the order rotated by one each
    round; per depth the median over all timed epochs' CPU ms per block and its ratio to the shallowest."""
    epochs: dict[int, list[float]] = {depth: [] for depth in depths}
    round_medians: dict[int, list[float]] = {depth: [] for depth in depths}
    rss: dict[int, float] = {}
    errors: dict[int, str] = {}
    for round_ in range(rounds):
        shift = round_ % len(depths)
        for depth in depths[shift:] + depths[:shift]:
            result = run(depth)
            if "error" in result:
                errors[depth] = result["error"]
                continue
            epochs[depth] += result["cpu_ms_per_block_epochs"]
            round_medians[depth].append(result["cpu_ms_per_block"])
            rss[depth] = max(rss.get(depth, 0.0), result["peak_rss_mb"])
    medians = {depth: median(values) for depth, values in epochs.items() if values}
    reference = medians.get(min(depths))
    return [{"depth": depth, "rounds": len(round_medians[depth]),
             "round_medians": ", ".join(f"{value:.2f}" for value in round_medians[depth]),
             "median_ms_per_block": medians.get(depth), "peak_rss_mb": rss.get(depth),
             "vs_shallowest": medians[depth] / reference if depth in medians and reference else None,
             "error": errors.get(depth)} for depth in depths]


def main() -> None:
    parser = grid_parser(__doc__, [16, 64, 256, 1024], ["full", "checkpoint", "reversible"], epochs=3)
    parser.add_argument("--data-root", default=data_root())
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--depth", type=int, default=1024)
    parser.add_argument("--mode", default="reversible")
    parser.add_argument("--train-epochs", type=int, default=50)
    parser.add_argument("--lr", type=float, help="default: 0.005 * min(1, sqrt(1024 / depth))")
    parser.add_argument("--init", default=TRAIN_MODEL["init"])
    parser.add_argument("--norm", default=TRAIN_MODEL["norm"])
    parser.add_argument("--residual-aggregation", type=float, default=TRAIN_MODEL["residual_aggregation"])
    parser.add_argument("--log", help="append one JSON line per epoch to this file")
    parser.add_argument("--per-block", action="store_true", help="CPU time per block at each of --depths, "
                                                                  "in --rounds rounds of fresh --train processes")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if run_worker_or_print_method(args, worker, __doc__):
        return

    def train_run(depth: int, epochs: int, log: str | None = None) -> dict:
        lr = args.lr if args.lr is not None else 0.005 * min(1.0, math.sqrt(1024 / depth))
        return in_fresh_process(__file__, {
            "depth": depth, "mode": args.mode, "epochs": epochs, "device": args.device,
            "data_root": args.data_root, "init": args.init, "norm": args.norm,
            "residual_aggregation": args.residual_aggregation, "lr": lr, "log": log}, timeout=6 * 3600)

    if args.per_block:
        print(markdown(per_block_rows(args.depths, args.rounds, lambda depth: train_run(depth, args.train_epochs)),
                       ["depth", "rounds", "round_medians", "median_ms_per_block", "vs_shallowest",
                        "peak_rss_mb", "error"]))
        return
    if args.train:
        result = train_run(args.depth, args.train_epochs, args.log)
        print(markdown([result], ["depth", "mode", "init", "norm", "residual_aggregation", "lr", "epochs",
                                  "first_loss", "min_loss", "last_loss", "epoch_s", "epoch_cpu_s",
                                  "cpu_ms_per_block", "peak_rss_mb", "cuda_peak_mb", "error"]))
        return
    rows = measure_grid(__file__, args.depths, args.modes,
                        {"epochs": args.epochs, "device": args.device, "data_root": args.data_root})
    print(markdown(rows, ["depth", "mode", "epoch_s", "epoch_cpu_s", "peak_rss_mb", "rss_after_data_mb",
                          "cuda_peak_mb", "error"]))


if __name__ == "__main__":
    main()

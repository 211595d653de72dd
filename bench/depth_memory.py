"""Peak memory and epoch time against depth, for each memory mode; and the 1024-block training run.

Method: Cora, width 64, fixup residual blocks (beta = 1/sqrt(L); plain beta = 1 overflows at
depth 1024: logits ~1e27 at init) with the spectral weight bound (c = 0.999), the gcn operator. Each (mode, depth) is measured in a fresh process: load Cora, build the model,
run 1 warm-up and `--epochs` training epochs (forward, cross-entropy, backward, Adam step), and
report the median epoch time and the process's peak RSS (and CUDA max allocated on a GPU).
Modes: full (every activation kept), checkpoint (segments of sqrt(L) blocks recomputed),
reversible (grouped reversible blocks, inputs recomputed from outputs).
`--train` instead trains one model (default: depth 1024, reversible, gnn_he init) for 50 epochs
and reports the loss curve's first and last values with the peak RSS.

    python bench/depth_memory.py [--depths 16 64 256 1024] [--modes full checkpoint reversible]
    python bench/depth_memory.py --train [--depth 1024 --mode reversible --train-epochs 50]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (cuda_peak_mb, data_root, grid_parser, in_fresh_process, markdown, measure_grid,  # noqa: E402
                    median, peak_rss_mb, run_worker_or_print_method, train_epochs)


def worker(arguments: dict) -> dict:
    import torch

    from fathom import AggregationOperator, DeepGNN, ModelConfig
    from fathom.data import load_dataset
    from fathom.graph import SparseFeatures

    device = torch.device(arguments["device"])
    data = load_dataset("cora", arguments["data_root"])
    rss_after_data = peak_rss_mb()
    config = ModelConfig(depth=arguments["depth"], width=64, residual="fixup", residual_aggregation=0.0,
                         init=arguments.get("init", "glorot"), norm="weight", memory=arguments["mode"])
    operator = AggregationOperator.from_data(data, "gcn", 0.0)
    torch.manual_seed(0)
    model = DeepGNN(config, data.num_features, 7, perron_root=operator.perron_root()).to(device)
    operator = operator.to(device)
    x, y, mask = SparseFeatures(data.x.to(device)), data.y.to(device), data.train_mask.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=arguments.get("lr", 0.005))
    times, losses = train_epochs(model, optimizer, x, operator, y, mask, arguments["epochs"], device)
    return {**{k: v for k, v in arguments.items() if k != "data_root"}, "epoch_s": median(times),
            "peak_rss_mb": peak_rss_mb(), "rss_after_data_mb": rss_after_data,
            "cuda_peak_mb": cuda_peak_mb(device), "first_loss": losses[0], "last_loss": losses[-1],
            "min_loss": min(losses)}


def main() -> None:
    parser = grid_parser(__doc__, [16, 64, 256, 1024], ["full", "checkpoint", "reversible"], epochs=3)
    parser.add_argument("--data-root", default=data_root())
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--depth", type=int, default=1024)
    parser.add_argument("--mode", default="reversible")
    parser.add_argument("--train-epochs", type=int, default=50)
    args = parser.parse_args()
    if run_worker_or_print_method(args, worker, __doc__):
        return
    if args.train:
        result = in_fresh_process(__file__, {"depth": args.depth, "mode": args.mode, "epochs": args.train_epochs,
                                             "device": args.device, "data_root": args.data_root, "init": "gnn_he"})
        print(markdown([result], ["depth", "mode", "init", "epochs", "first_loss", "min_loss", "last_loss", "epoch_s",
                                  "peak_rss_mb"]))
        return
    rows = measure_grid(__file__, args.depths, args.modes,
                        {"epochs": args.epochs, "device": args.device, "data_root": args.data_root})
    print(markdown(rows, ["depth", "mode", "epoch_s", "peak_rss_mb", "rss_after_data_mb", "cuda_peak_mb", "error"]))


if __name__ == "__main__":
    main()

"""Fathom on Actor: candidate configurations on validation, seeds 0-2, the benchmark's budget and features.

    python docs/results/actor_choice/fathom_grid.py 2    # 2 workers; runs into runs/actor_choice/fathom
"""
import dataclasses
import sys
from fathom.benchmark.suite import preset
from fathom.sweep import run_sweep
from fathom.benchmark.chosen import chosen_configs
from fathom.models import factory

full = preset("full")
base = {l: s for l, s in full.specs("../shared/datasets", datasets=("actor",), entries=("Fathom",))}["Fathom"]
default = chosen_configs()["default"]  # the configuration Fathom ran on Actor before this choice
params = default["params"]
candidates = {
    "default": {},
    "full-supervised a=0.5 l=1.0": {"dropout": 0.5, "input_dropout": 0.5, "initial_residual": 0.5, "identity_mapping": 1.0},
    "full-supervised a=0.5 l=1.5": {"dropout": 0.5, "input_dropout": 0.5, "initial_residual": 0.5, "identity_mapping": 1.5},
    "a=0.9 l=1.0": {"dropout": 0.5, "input_dropout": 0.5, "initial_residual": 0.9, "identity_mapping": 1.0},
}
specs = []
for name, change in candidates.items():
    model = factory("deepgnn").params(**{**params, **change})
    t = base.train.replace(block_weight_decay=None if change else default["train"]["block_weight_decay"])
    for seed in range(3):
        specs.append(dataclasses.replace(base, model=model, train=t.replace(seed=seed)))
if __name__ == "__main__":
    rows = run_sweep(specs, "runs/actor_choice/fathom", workers=int(sys.argv[1]), progress=False)
    print(rows[["initial_residual", "identity_mapping", "dropout", "block_weight_decay", "seed", "best_val_acc", "test_acc_at_best_val"]].to_string())

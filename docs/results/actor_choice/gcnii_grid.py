"""GCNII on Actor under the same candidates as Fathom's grid: the selection of the GCNII baseline's Actor setting.

    python docs/results/actor_choice/gcnii_grid.py 1    # runs into runs/actor_choice/gcnii
"""
import dataclasses
import sys
from fathom.benchmark.suite import preset
from fathom.sweep import run_sweep
from fathom.models import factory

full = preset("full")
base = {l: s for l, s in full.specs("../shared/datasets", datasets=("actor",), entries=("GCNII",))}["GCNII"]
params = dataclasses.asdict(base.model)
candidates = {
    "full-supervised a=0.5 l=1.0": {"dropout": 0.5, "alpha": 0.5, "theta": 1.0},
    "full-supervised a=0.5 l=1.5": {"dropout": 0.5, "alpha": 0.5, "theta": 1.5},
    "a=0.9 l=1.0": {"dropout": 0.5, "alpha": 0.9, "theta": 1.0},
}
specs = []
for name, change in candidates.items():
    model = factory("gcnii").params(**{**params, **change})
    t = base.train.replace(block_weight_decay=None)
    for seed in range(3):
        specs.append(dataclasses.replace(base, model=model, train=t.replace(seed=seed)))
if __name__ == "__main__":
    rows = run_sweep(specs, "runs/actor_choice/gcnii", workers=int(sys.argv[1]), progress=False)
    print(rows[["alpha", "theta", "dropout", "block_weight_decay", "seed", "best_val_acc", "test_acc_at_best_val"]].to_string())

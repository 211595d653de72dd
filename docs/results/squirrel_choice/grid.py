"""Fathom and GCNII on Squirrel: the same candidate settings on validation, seeds 0-2, the full preset's budget.

GCNII published no Squirrel settings, so both models choose theirs from the same candidates, by
mean best validation accuracy (the test split chooses nothing):

    python docs/results/squirrel_choice/grid.py Fathom 1 > fathom.txt   # runs into runs/squirrel_choice/Fathom
    python docs/results/squirrel_choice/grid.py GCNII 1 > gcnii.txt
"""
import dataclasses
import sys

from fathom.benchmark.suite import preset
from fathom.models import factory
from fathom.sweep import run_sweep

# GCNII's full-supervised form (Chen et al. 2020, full-supervised.py: dropout 0.5, one weight decay)
# with its Chameleon setting (Squirrel's sister Wikipedia graph), its Cornell/Wisconsin setting, and
# the setting validation chose on Actor; "default" is each model's Cora settings, which both ran here before.
CANDIDATES = {
    "default": None,
    "chameleon a=0.2 l=1.5": (0.2, 1.5),
    "a=0.5 l=1.0": (0.5, 1.0),
    "a=0.9 l=1.0": (0.9, 1.0),
}
FULL_SUPERVISED_DROPOUT = 0.5
SEEDS = range(3)


def candidate_specs(entry: str) -> list:
    base = dict(preset("full").specs("../shared/datasets", datasets=("squirrel",), entries=(entry,)))[entry]
    params = dataclasses.asdict(base.model)
    name = "deepgnn" if entry == "Fathom" else "gcnii"
    specs = []
    for setting in CANDIDATES.values():
        model, train = base.model, base.train
        if setting is not None:
            alpha, lam = setting
            change = ({"initial_residual": alpha, "identity_mapping": lam, "dropout": FULL_SUPERVISED_DROPOUT,
                       "input_dropout": FULL_SUPERVISED_DROPOUT} if name == "deepgnn" else
                      {"alpha": alpha, "theta": lam, "dropout": FULL_SUPERVISED_DROPOUT})
            model = factory(name).params(**{**params, **change})
            train = train.replace(block_weight_decay=None)
        specs += [dataclasses.replace(base, model=model, train=train.replace(seed=seed)) for seed in SEEDS]
    return specs


if __name__ == "__main__":
    entry, workers = sys.argv[1], int(sys.argv[2])
    rows = run_sweep(candidate_specs(entry), f"runs/squirrel_choice/{entry}", workers=workers, progress=False)
    rows.insert(0, "candidate", [name for name in CANDIDATES for _ in SEEDS])
    print(rows.filter(regex="^(candidate|initial_residual|identity_mapping|alpha|theta|dropout|block_weight_decay|"
                            "seed|best_val_acc|test_acc_at_best_val|epochs_run|epoch_seconds)$").to_csv(index=False))

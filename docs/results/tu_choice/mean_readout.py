"""A TU dataset's folds: Fathom's graphs-preset configuration with the mean readout in place of the sum.

    python docs/results/tu_choice/mean_readout.py proteins 0,1,2,3,4 runs/tu_choice/mean

Each fold trains as the benchmark's run of it does (same configuration, seed and fold) except for the
readout, and prints one JSON line; only the validation accuracy chose among the candidates.
"""
import json
import sys

from fathom.benchmark.suite import preset
from fathom.data import load_dataset
from fathom.models import build_model
from fathom.runtime import seed_everything
from fathom.tasks import GraphClassification
from fathom.tasks.load import FOLD_SEED
from fathom.train import fit

if __name__ == "__main__":
    dataset, folds, out = sys.argv[1], [int(f) for f in sys.argv[2].split(",")], sys.argv[3]
    root = "../shared/datasets"
    for _, spec in preset("graphs").specs(root, (dataset,), ("Fathom",)):
        if spec.split not in folds:
            continue
        train = spec.train.replace(readout="mean")
        task = GraphClassification(load_dataset(dataset, root), fold=spec.split, seed=FOLD_SEED, readout="mean")
        seed_everything(train.seed)
        model = build_model(spec.factory, spec.model, task.model_graph, task.num_classes)
        summary = fit(model, task, train, f"{out}/fold{spec.split}", progress=False).summary
        print(json.dumps({"fold": spec.split, "best_val_acc": summary["best_val_acc"],
                          "test": summary["test_acc_at_best_val"], "epochs": summary["epochs_run"],
                          "initial_train_loss": summary["initial_train_loss"],
                          "final_train_loss": summary["final_train_loss"], "seconds": summary["seconds"]}), flush=True)

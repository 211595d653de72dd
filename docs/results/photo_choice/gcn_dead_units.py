"""PyG's 2-layer GCN on Amazon Photo, one seed as the full preset runs it: how many hidden ReLU units die.

    python docs/results/photo_choice/gcn_dead_units.py SEED [--normalise]

Prints the run's summary and, at a few forward passes (two an epoch: training, then evaluation), the
number of the 16 hidden units whose pre-activation is non-positive at every node, and the largest
|pre-activation|. ``--normalise`` trains on row-normalised features (Kipf & Welling's preprocessing)
instead of the preset's raw ones.
"""
import argparse
import tempfile

from torch_geometric.transforms import NormalizeFeatures

from fathom.benchmark.suite import preset
from fathom.models import build_model
from fathom.runtime import seed_everything
from fathom.sweep.runner import task_of
from fathom.tasks import NodeClassification
from fathom.train import fit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("seed", type=int)
parser.add_argument("--normalise", action="store_true")
parser.add_argument("--data-root", default="../shared/datasets")
args = parser.parse_args()

(_, spec), = [run for run in preset("full").specs(args.data_root, ("photo",), ("GCN",)) if run[1].train.seed == args.seed]
task = task_of(spec)
if args.normalise:
    task = NodeClassification(NormalizeFeatures()(task.data.clone()))
seed_everything(spec.train.seed)
model = build_model(spec.factory, spec.model, task.model_graph, task.num_classes)
first = next(module for module in model.modules() if type(module).__name__ == "GCNConv")
dead = []
first.register_forward_hook(lambda module, inputs, out: dead.append(
    (int((out <= 0).all(0).sum()), round(float(out.detach().abs().max()), 1))))
with tempfile.TemporaryDirectory() as out:
    summary = fit(model, task, spec.train, out, progress=False).summary
print(spec.run_id, "row-normalised" if args.normalise else "raw", "features:",
      {key: summary[key] for key in ("best_epoch", "epochs_run", "test_acc_at_best_val", "final_train_loss")})
shown = [i for i in (0, 1, 2, 5, 10, 20, 50, 100) if i < len(dead)] + [len(dead) - 1]
print("forward: (dead units of 16, max |pre-activation|)", {i: dead[i] for i in shown})

"""Running a sweep: each run trains into its own directory and becomes one row of the store."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pandas as pd
from torch_geometric.data import Data

from ..data import DATASETS, load_dataset, random_split_masks
from ..models import build_model
from ..runs import write_json
from ..runtime import progress_bar, seed_everything
from ..tasks import GraphClassification, NodeClassification, load_task
from ..train import fit
from ..train.fit import CHECKPOINT_FILE
from ..train.early import early_measures
from .executors import check_executor, results
from .grid import RANDOM_SPLIT, RunSpec, Split
from .store import ResultStore

SUMMARY_COLUMNS = ("initial_train_loss", "final_train_loss", "best_val_acc", "test_acc_at_best_val", "best_epoch",
                   "epochs_run", "seconds", "epoch_seconds", "peak_memory_mb")
GRAPH_SEED = 0  # the CSBM graph is fixed across a sweep; a random split follows the run seed
CHECKPOINT_EVERY = 25  # epochs: what a killed sweep can lose of each unfinished run


@functools.lru_cache(maxsize=8)
def _graph(dataset: str, data_root: str | None, split: Split, seed: int, features: str = "raw") -> Data:
    """The run's graph and split: fractions of a random split seeded by ``seed``, a geom-gcn split
    number, or ``None`` for the dataset's standard split (random ones seeded by ``seed`` too);
    ``features="protocol"`` row-normalises where the dataset's protocol does."""
    normalize = "protocol" if features == "protocol" else False
    if isinstance(split, int):
        return load_dataset(dataset, data_root, split=split, seed=GRAPH_SEED, normalize=normalize)
    data = load_dataset(dataset, data_root, seed=GRAPH_SEED, normalize=normalize)
    if split is None and DATASETS[dataset].split_kind == "random":
        split = RANDOM_SPLIT
    if split is not None:
        data.train_mask, data.val_mask, data.test_mask = random_split_masks(data.y, split, seed)
    return data


def task_of(spec: RunSpec) -> NodeClassification | GraphClassification:
    """The run's task: node classification on its graph and split, or graph classification whose
    test graphs are fold ``spec.split`` (folds fixed across seeds and models)."""
    if DATASETS[spec.dataset].task == "graph":
        return load_task(spec.dataset, spec.data_root, split=spec.split, readout=spec.train.readout,
                         batch_size=spec.train.batch_size)
    return NodeClassification(_graph(spec.dataset, spec.data_root, spec.split, spec.train.seed, spec.features))


def run_one(spec: RunSpec, out: str, target_loss: float) -> dict[str, Any]:
    """Train one run into ``out/runs/<run_id>``; its row: config, status (ok | diverged | failed),
    reason, number of classes, summary metrics and early-training measures. A failure is a row;
    an interrupt (Ctrl-C) is raised, so that the unfinished run is not recorded as finished.

    The run checkpoints every :data:`CHECKPOINT_EVERY` epochs and continues from its checkpoint when
    one is there, so a killed sweep loses at most that many epochs of each unfinished run; the
    checkpoint is deleted once the run has finished."""
    row: dict[str, Any] = {**spec.row(), "status": "failed", "reason": ""}
    run_dir = Path(out) / "runs" / spec.run_id
    checkpoint = run_dir / CHECKPOINT_FILE
    try:
        task = task_of(spec)
        seed_everything(spec.train.seed)
        model = build_model(spec.factory, spec.model, task.model_graph, task.num_classes)
        result = fit(model, task, spec.train, run_dir, progress=False, checkpoint_every=CHECKPOINT_EVERY,
                     resume=checkpoint.is_file(), run_info={
                         "factory": spec.factory, "model": spec.model.to_dict(),
                         "data": {"dataset": spec.dataset, "data_root": spec.data_root, "split": spec.split_name,
                                  "features": spec.features, "description": task.describe()}})
    except Exception as error:  # noqa: BLE001 - a failed run is recorded, the sweep goes on
        row["reason"] = f"{type(error).__name__}: {error}"
        return row
    summary = result.summary
    if summary["interrupted"]:
        raise KeyboardInterrupt(f"run {spec.run_id} interrupted at epoch {summary['epochs_run']}")
    checkpoint.unlink(missing_ok=True)
    row["num_classes"] = task.num_classes
    row["status"] = "diverged" if summary["diverged"] else "ok"
    row["reason"] = summary["divergence"] or ""
    row.update({key: summary[key] for key in SUMMARY_COLUMNS})
    row.update(early_measures(result.history, spec.train.epochs, target_loss))
    return row


def run_sweep(specs: list[RunSpec], out: str | Path, workers: int = 1, executor: str = "local",
              target_loss: float = 0.5, progress: bool = True, description: dict[str, Any] | None = None
              ) -> pd.DataFrame:
    """Run every spec not already finished in ``out``'s store; return the store's rows for ``specs``.

    ``description`` (the grid, fixed values, command) is written to ``out/sweep.json``.
    """
    check_executor(executor)  # before anything is written
    ids = [spec.run_id for spec in specs]
    if len(set(ids)) != len(ids):
        raise ValueError("the sweep repeats a configuration: every grid cell and seed must be distinct")
    out = Path(out)
    store = ResultStore(out)
    finished = store.finished_ids()
    todo = [spec for spec in specs if spec.run_id not in finished]
    write_json(out / "sweep.json", {**(description or {}), "runs": len(specs), "target_loss": target_loss})
    with progress_bar(progress) as bar:
        task = bar.add_task("sweep", total=len(specs), completed=len(specs) - len(todo),
                            status=f"{len(specs) - len(todo)} already finished")
        counts = {"ok": 0, "diverged": 0, "failed": 0}
        for row in results(executor, run_one, [(spec, str(out), target_loss) for spec in todo], workers):
            store.add(row)
            counts[row["status"]] += 1
            bar.update(task, advance=1, status=" ".join(f"{k} {v}" for k, v in counts.items()))
    frame = store.frame()
    return frame[frame["run_id"].isin(ids)].reset_index(drop=True)

"""What a benchmark runs: entries (a model factory, its depths and seeds) x datasets, as sweep runs.

Every baseline runs with its paper's settings (:meth:`fathom.models.ModelFactory.published`);
Fathom runs with the configuration chosen on validation accuracy for each dataset
(:mod:`fathom.benchmark.chosen`). All share one training budget: at most ``max_epochs`` epochs,
early stopping after ``patience`` epochs without a better validation accuracy, and the test
accuracy read at the best validation epoch; the twins marked ``LEAST_VAL_LOSS`` select on the
validation loss instead, as GCNII's published figures did.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..config import ConfigError, TrainConfig
from ..data import DATASETS
from ..models import ModelFactory, factory
from ..sweep.grid import RunSpec
from ..sweep.store import FINISHED
from ..tasks.graph import DEFAULT_FOLDS
from .chosen import fathom_config
from .leaderboard import depth_of_best_validation

PLANETOID = ("cora", "citeseer", "pubmed")
RUN_ORDER = ("cora", "texas", "cornell", "wisconsin", "citeseer", "chameleon", "actor", "squirrel", "photo",
             "pubmed", "cs", "computers", "physics")  # cheapest first
TU = ("mutag", "proteins", "imdb-binary", "nci1")  # graph classification, cheapest first
DATASET_ORDER = ("cora", "citeseer", "pubmed", "photo", "computers", "cs",
                 "physics", "chameleon", "squirrel", "actor", "cornell", "texas", "wisconsin", *TU)
FATHOM = "Fathom"
DEEP = 32  # "deep": at least this many blocks (the report's rival check)
TARGET_DEPTH = 64  # the depth at which the report checks Fathom against GCNII's published accuracies
FULL_BUDGET = "(no early stopping)"  # label suffix of an entry's twin trained for the whole budget
LEAST_VAL_LOSS = "(least validation loss)"  # label suffix of an entry's twin selected as GCNII's paper selected


@dataclass(frozen=True)
class Entry:
    """A leaderboard row: ``factory`` with ``params``/``train`` over its published (or chosen)
    settings, at ``depths`` (``None``: the published depth) with ``seeds`` seeds, on ``datasets``
    (``None``: all of the preset's). ``depths_on`` gives other depths for named datasets (the
    leaderboard takes the one of best validation), ``seeds_on`` other seed counts;
    ``curve`` the depths of an accuracy-against-depth curve on named datasets, run with
    ``curve_seeds`` seeds after every entry's main runs; ``ablation`` marks rows that remove one
    option of Fathom's model. ``picks``: the least depths from which the report picks a depth of
    best validation for this entry (0: the leaderboard's pick over all depths); a picked curve depth
    gets the entry's seeds (:meth:`Preset.confirmation_specs`). On a graph-classification dataset
    the runs are the ten cross-validation folds, at seed 0, instead of seeds."""

    label: str
    factory: str
    seeds: int = 3
    depths: tuple[int, ...] | None = None
    datasets: tuple[str, ...] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    depths_on: dict[str, tuple[int, ...]] = field(default_factory=dict)
    seeds_on: dict[str, int] = field(default_factory=dict)
    curve: dict[str, tuple[int, ...]] = field(default_factory=dict)
    curve_seeds: int = 2
    ablation: bool = False
    picks: tuple[int, ...] = (0,)

    def settings(self, dataset: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(model parameters, training settings)`` of this entry on ``dataset``."""
        if self.factory == "deepgnn":
            params, train = fathom_config(dataset)
        else:
            params, train = factory(self.factory).published(dataset)
        return {**params, **self.params}, {**train, **self.train}


@dataclass(frozen=True)
class Preset:
    """A benchmark: entries x datasets under one training budget; entries run in order, so the
    runs that decide the targets come first and a partial benchmark still answers them.
    On the geom-gcn datasets named in ``every_split`` each run of seed 0 is made once on each of
    the dataset's fixed splits (the Geom-GCN protocol: mean over its 10 splits), instead of with
    the entry's seeds on split 0; depth-curve and ablation runs there too."""

    name: str
    datasets: tuple[str, ...]
    entries: tuple[Entry, ...]
    max_epochs: int
    patience: int
    features: str = "protocol"
    every_split: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self.every_split:
            if name not in DATASETS or DATASETS[name].split_kind != "geom-gcn":
                raise ConfigError(f"preset {self.name!r}: every_split names {name!r}, which has no geom-gcn splits")

    def specs(self, data_root: str | None = None, datasets: tuple[str, ...] | None = None,
              entries: tuple[str, ...] | None = None, folds: tuple[int, ...] | None = None
              ) -> list[tuple[str, RunSpec]]:
        """``(entry label, run)`` for every run, in priority order: every entry's main runs with its
        base number of seeds (dataset by dataset), then the extra seeds of ``seeds_on``, then the
        ablations, then the depth curves; a repeated run once. ``folds`` keeps only those
        cross-validation folds of the graph-classification runs."""
        if folds is not None and not all(0 <= fold < DEFAULT_FOLDS for fold in folds):
            raise ConfigError(f"folds must lie in 0..{DEFAULT_FOLDS - 1}; got {', '.join(map(str, folds))}")
        chosen = self._chosen_entries(entries)
        names = self.datasets if datasets is None else datasets
        for name in names:
            if name not in DATASETS:
                raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
        passes: list[list[tuple[str, RunSpec]]] = [[], [], [], []]
        for dataset in names:
            for entry in chosen:
                if entry.datasets is not None and dataset not in entry.datasets:
                    continue
                main, curve = self._entry_runs(entry, dataset, data_root)
                if entry.ablation:
                    passes[2] += main
                else:
                    passes[0] += [run for run in main if run[1].train.seed < entry.seeds]
                    passes[1] += [run for run in main if run[1].train.seed >= entry.seeds]
                passes[3] += curve
        runs: dict[str, tuple[str, RunSpec]] = {}
        for label, spec in (run for runs_of_pass in passes for run in runs_of_pass):
            if folds is None or DATASETS[spec.dataset].task != "graph" or spec.split in folds:
                runs.setdefault(spec.run_id, (label, spec))
        return list(runs.values())

    def confirmation_specs(self, frame: pd.DataFrame, data_root: str | None = None,
                           datasets: tuple[str, ...] | None = None, entries: tuple[str, ...] | None = None
                           ) -> list[tuple[str, RunSpec]]:
        """``(entry label, run)`` for the seeds that a depth picked from a depth curve lacks.

        A curve runs each depth on ``curve_seeds`` seeds; the report picks, for each of an entry's
        ``picks``, the depth of best validation on the runs every depth finished
        (:func:`~fathom.benchmark.leaderboard.depth_of_best_validation`, ``frame`` holding the
        finished runs), and reads that depth's test accuracy over all its runs. Where the pick is a
        curve depth, these runs give it the seeds that the entry's main depth has on the dataset, so
        that the reported mean rests on as many seeds as the main depth's would: chosen on two seeds,
        read on all of them. The pick is made as the report makes it, on all the entry's finished runs
        there (runs these added included: should they widen the seeds every depth shares, the pick
        may move, and the next call confirms the new one). Only for an entry whose main and curve
        runs on the dataset have all finished (before that the pick may move); runs already planned
        by :meth:`specs` are left out, finished ones are not (they are planned runs too)."""
        finished = frame[frame["status"].isin(FINISHED)] if not frame.empty else frame
        confirming: dict[str, tuple[str, RunSpec]] = {}
        for dataset in self.datasets if datasets is None else datasets:
            for entry in self._chosen_entries(entries):
                if entry.ablation or dataset not in entry.curve or (
                        entry.datasets is not None and dataset not in entry.datasets):
                    continue
                main, curve = self._entry_runs(entry, dataset, data_root)
                planned = {spec.run_id for _, spec in main + curve}
                if finished.empty or not planned <= set(finished["run_id"]):
                    continue
                seeds = entry.seeds_on.get(dataset, entry.seeds)
                depths = tuple(sorted({spec.model.depth for _, spec in main + curve}))
                # the report picks from all the entry's runs, earlier confirmations included
                possible = {spec.run_id for _, spec in self._runs(entry, dataset, data_root, depths, seeds)}
                runs = finished[finished["run_id"].isin(possible | planned) & (finished["status"] == "ok")]
                for least in entry.picks:
                    deep = runs[runs["depth"] >= least]
                    if deep.empty:
                        continue
                    depth = int(depth_of_best_validation(deep))
                    for label, spec in self._runs(entry, dataset, data_root, (depth,), seeds):
                        if spec.run_id not in planned:
                            confirming.setdefault(spec.run_id, (label, spec))
        return list(confirming.values())

    def _chosen_entries(self, entries: tuple[str, ...] | None) -> list[Entry]:
        chosen = [e for e in self.entries if entries is None or e.label in entries or e.factory in entries]
        if entries is not None and not chosen:
            known = ", ".join(sorted({e.label for e in self.entries} | {e.factory for e in self.entries}))
            raise ConfigError(f"no benchmark entry named {', '.join(entries)}; known: {known}")
        return chosen

    @staticmethod
    def _depth_factory(entry: Entry) -> ModelFactory:
        chosen = factory(entry.factory)
        if "depth" not in {f.name for f in dataclasses.fields(chosen.params_class)}:
            raise ConfigError(f"benchmark entry {entry.label!r}: factory {entry.factory!r} has no depth parameter")
        return chosen

    def _entry_runs(self, entry: Entry, dataset: str, data_root: str | None
                    ) -> tuple[list[tuple[str, RunSpec]], list[tuple[str, RunSpec]]]:
        """The entry's main runs on ``dataset`` and its depth-curve runs there."""
        params, _ = entry.settings(dataset)
        depths = entry.depths_on.get(dataset) or entry.depths or (
            params.get("depth", self._depth_factory(entry).params().depth),)
        seeds = entry.seeds_on.get(dataset, entry.seeds)
        return (self._runs(entry, dataset, data_root, depths, seeds),
                self._runs(entry, dataset, data_root, entry.curve.get(dataset, ()), entry.curve_seeds))

    def _runs(self, entry: Entry, dataset: str, data_root: str | None, depths: tuple[int, ...], seeds: int
              ) -> list[tuple[str, RunSpec]]:
        """The entry's runs on ``dataset`` at ``depths``: ``seeds`` seeds on the standard split, or
        seed 0 on each cross-validation fold or (``every_split``) each geom-gcn split."""
        params, train = entry.settings(dataset)
        chosen = self._depth_factory(entry)
        train = {"patience": self.patience, **train, "epochs": min(train.get("epochs", self.max_epochs),
                                                                      self.max_epochs)}
        made = []
        for depth in depths:
            try:
                model = chosen.params(**{**params, "depth": depth})
                base = TrainConfig.from_dict(train)
            except ConfigError as error:
                raise ConfigError(f"benchmark entry {entry.label!r} on {dataset}: {error}") from error
            if DATASETS[dataset].task == "graph":  # one run per cross-validation fold, seed 0
                made += [(entry.label, RunSpec(dataset, model, base.replace(seed=0), data_root, split=fold,
                                               factory=entry.factory, features=self.features))
                         for fold in range(DEFAULT_FOLDS)]
                continue
            if dataset in self.every_split:
                made += [(entry.label, RunSpec(dataset, model, base.replace(seed=0), data_root, split=split,
                                               factory=entry.factory, features=self.features))
                         for split in range(DATASETS[dataset].num_splits)]
                continue
            made += [(entry.label, RunSpec(dataset, model, base.replace(seed=seed), data_root,
                                           factory=entry.factory, features=self.features))
                     for seed in range(seeds)]
        return made


def _fathom_entries(seeds_on: dict[str, int], depths: tuple[int, ...], curve: dict[str, tuple[int, ...]],
                    ablation_datasets: tuple[str, ...], ablation_depth: int,
                    depths_on: dict[str, tuple[int, ...]]) -> tuple[Entry, ...]:
    """Fathom's row, and the ablation rows that each remove one of its options."""
    ablations = {
        "no initial residual": {"initial_residual": 0.0},
        "no identity mapping": {"identity_mapping": None},
        "no input dropout": {"input_dropout": 0.0},
        "DeZoort default (fixup, a=0.5)": {"initial_residual": 0.0, "identity_mapping": None,
                                           "residual": "fixup", "residual_aggregation": 0.5},
    }
    rows = [Entry(FATHOM, "deepgnn", 3, depths, depths_on=depths_on, seeds_on=seeds_on, curve=curve,
                  picks=(0, DEEP, TARGET_DEPTH))]
    rows += [Entry(f"{FATHOM}: {name}", "deepgnn", 3, (ablation_depth,), ablation_datasets, params=changes,
                   ablation=True) for name, changes in ablations.items()]
    rows.append(Entry(f"{FATHOM}: one weight decay", "deepgnn", 3, (ablation_depth,), ablation_datasets,
                      train={"block_weight_decay": None}, ablation=True))
    return tuple(rows)


def _baselines(seeds_on: dict[str, int], curve: dict[str, tuple[int, ...]]) -> tuple[Entry, ...]:
    return (
        Entry("GCNII", "gcnii", 3, seeds_on=seeds_on, curve=curve),
        Entry("APPNP", "appnp"),
        Entry("JKNet", "jknet"),
        Entry("GCN", "gcn"),
        Entry("GAT", "gat"),
        Entry("DeepGCN (res+)", "deepgcn"),
        Entry("GCN + PairNorm", "gcn_pairnorm"),
        Entry("GCN + DropEdge", "gcn_dropedge"),
        Entry("GCN (deep stack)", "gcn", depths=(16,), datasets=PLANETOID),
    )


def _gcnii_rule_twins(seeds_on: dict[str, int]) -> tuple[Entry, ...]:
    """Fathom at the target depth and GCNII at its published depths on Planetoid again, each epoch
    selected and each run early-stopped on the least validation loss: the rule of GCNII's published
    Planetoid figures (Chen et al. 2020; the authors' ``train.py``), which the report reads them against."""
    rule = {"selection": "val_loss"}
    return (Entry(f"{FATHOM} {LEAST_VAL_LOSS}", "deepgnn", 3, (TARGET_DEPTH,), PLANETOID, train=rule,
                  seeds_on=seeds_on),
            Entry(f"GCNII {LEAST_VAL_LOSS}", "gcnii", 3, datasets=PLANETOID, train=rule, seeds_on=seeds_on))


_TEN_ON_PLANETOID = {name: 10 for name in PLANETOID}
_CURVE = (2, 4, 8, 16, 32, 64, 128, 256)
_CURVE_ON = {name: _CURVE for name in ("cora", "citeseer", "chameleon")}
# GCNII's published depths on WebKB are 16 and 32; Fathom's is chosen on validation among 16, 32 and 64
WEBKB = ("cornell", "texas", "wisconsin")
_WEBKB_DEPTHS = {name: (16, 32, 64) for name in WEBKB}
# the 256-block target compares Fathom's 256 blocks with its 64 on Cora and CiteSeer: both get ten seeds
_FATHOM_DEPTHS_ON = {**_WEBKB_DEPTHS, "cora": (64, 256), "citeseer": (64, 256)}

PRESETS: dict[str, Preset] = {
    "full": Preset(
        "full", RUN_ORDER,
        _fathom_entries(_TEN_ON_PLANETOID, (64,), _CURVE_ON, ("cora", "citeseer", "chameleon"), 64,
                        _FATHOM_DEPTHS_ON)
        + _baselines(_TEN_ON_PLANETOID, _CURVE_ON) + _gcnii_rule_twins(_TEN_ON_PLANETOID),
        # WebKB's test sets hold 37-51 nodes (one node: 2-2.7 points), so one split decides nothing
        max_epochs=1000, patience=100, every_split=WEBKB),
    # the twins without early stopping read GIN's paper's selection rule over its whole budget
    "graphs": Preset(
        "graphs", TU, (Entry(FATHOM, "deepgnn", 1, (16,)), Entry("GIN", "gin", 1),
                       Entry(f"{FATHOM} {FULL_BUDGET}", "deepgnn", 1, (16,), train={"patience": None}),
                       Entry(f"GIN {FULL_BUDGET}", "gin", 1, train={"patience": None})),
        max_epochs=350, patience=100, features="raw"),
    "quick": Preset(
        "quick", ("cora", "chameleon"),
        (Entry(FATHOM, "deepgnn", 1, (8, 32)), Entry("GCNII", "gcnii", 1, (8, 32)), Entry("APPNP", "appnp", 1),
         Entry("GCN", "gcn", 1)),
        max_epochs=100, patience=50),
}


def preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"preset must be one of {', '.join(PRESETS)}; got {name!r}")
    return PRESETS[name]

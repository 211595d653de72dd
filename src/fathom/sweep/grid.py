"""Grids of configurations x seeds: parsing ``--grid key=v1,v2`` or a YAML file, and expansion.

A run is a :class:`RunSpec`: a dataset and its split, a *model factory* with its parameters
(Fathom's ``deepgnn`` with a :class:`~fathom.config.ModelConfig`, or any registered model), and a
training configuration. A grid may vary the factory itself (``model=deepgnn,gcn``), so runs of
different models land in one results table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config import ConfigError, check_choice, ModelConfig, TrainConfig, parse_overrides
from ..data import get_spec
from ..data import DATASETS
from ..models import MODELS, factory

DEFAULT_MODEL = "deepgnn"
FEATURES = ("raw", "protocol")
RANDOM_SPLIT = (0.6, 0.2, 0.2)
MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig))
TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))

Split = tuple[float, float, float] | int | None


def model_param_fields() -> dict[str, type]:
    """Every parameter name of every registered model factory -> the first class that has it."""
    fields: dict[str, type] = {}
    for chosen in MODELS.values():
        for f in dataclasses.fields(chosen.params_class):
            fields.setdefault(f.name, chosen.params_class)
    return fields


def grid_keys() -> tuple[str, ...]:
    """What a grid may vary: the dataset, its split, its features, the model factory, any model
    parameter and any training setting but the seed (seeds are a count)."""
    return ("dataset", "split", "features", "model", *model_param_fields(), *(f for f in TRAIN_FIELDS if f != "seed"))


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a dataset, a model (factory ``factory`` with parameters ``model``) and a
    training configuration, its seed included.

    ``split`` is ``None`` for the dataset's standard split, a geom-gcn split number, ``"random"``
    or train/val/test fractions of a random split seeded by the run's seed. ``features`` is
    ``raw``, or ``protocol`` for the row normalisation of the dataset's standard protocol.
    """

    dataset: str
    model: Any
    train: TrainConfig
    data_root: str | None = None
    split: Split | str = None
    factory: str = DEFAULT_MODEL
    features: str = "raw"

    def __post_init__(self) -> None:
        check_choice("features", self.features, FEATURES)
        if (graph_only := self.train.graph_only_changes()) and get_spec(self.dataset).task != "graph":
            raise ConfigError(f"{graph_only}: graph-classification settings; {self.dataset} is a "
                              "node-classification dataset")
        if self.train.partitions > 1:
            raise ConfigError(f"partitions={self.train.partitions}: sweep runs train full-batch on one process; "
                              "partitioned training runs one at a time (train_node_classifier)")
        if self.split == "random":
            object.__setattr__(self, "split", RANDOM_SPLIT)
        elif isinstance(self.split, list):
            object.__setattr__(self, "split", tuple(self.split))

    @property
    def run_id(self) -> str:
        """A stable 12-hex-digit id of what determines the run's result (not where data lives).

        Fields at their default value are left out of the key, so adding an optional setting to
        the configuration keeps existing sweeps resumable; so is the factory when it is
        ``deepgnn``, which keeps the ids of sweeps made before factories existed.
        """
        key: dict[str, Any] = {"dataset": self.dataset, "model": _model_key(self.model),
                               "train": _non_default(self.train)}
        if self.split is not None:
            key["split"] = list(self.split) if isinstance(self.split, tuple) else self.split
        if self.factory != DEFAULT_MODEL:
            key["factory"] = self.factory
        if self.features != "raw":
            key["features"] = self.features
        return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def split_name(self) -> str:
        if self.split is None:
            return "standard"
        if isinstance(self.split, tuple):
            return "/".join(f"{f:g}" for f in self.split)
        return f"fold:{self.split}" if get_spec(self.dataset).task == "graph" else f"geom-gcn:{self.split}"

    def row(self) -> dict[str, Any]:
        """The configuration columns of this run's row in ``results.csv``."""
        return {"run_id": self.run_id, "dataset": self.dataset, "split": self.split_name, "model": self.factory,
                "features": self.features, **self.model.to_dict(), **self.train.to_dict()}


def _non_default(config: Any, key_defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    defaults = {**dataclasses.asdict(type(config)()), **(key_defaults or {})}
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
            if getattr(config, f.name) != defaults[f.name]}


# Defaults as they were when run ids were first made: a default changed since must not change what
# an existing id means (norm_bound became frobenius; every earlier id meant spectral).
MODEL_KEY_DEFAULTS = {"norm_bound": "spectral"}


def _model_key(model: Any) -> dict[str, Any]:
    """The model's part of a run id: its non-default fields, judged against the defaults the ids were
    made with; ``norm_bound`` only where a weight bound uses it."""
    if not isinstance(model, ModelConfig):
        return _non_default(model)
    key = _non_default(model, MODEL_KEY_DEFAULTS)
    if model.norm != "weight":
        key.pop("norm_bound", None)
    return key


def parse_split(text: str) -> Split:
    """``standard`` -> ``None``, ``random`` -> 60/20/20 fractions, ``3`` -> geom-gcn split 3."""
    if text in ("standard", "none", "None"):
        return None
    if text == "random":
        return RANDOM_SPLIT
    if text.isdigit():
        return int(text)
    raise ConfigError(f"split must be standard, random or a split number; got {text!r}")


def _typed(key: str, text: str) -> Any:
    if key == "dataset":
        if text not in DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(DATASETS)}; got {text!r}")
        return text
    if key == "model":
        return factory(text).name
    if key == "split":
        return parse_split(text)
    if key == "features":
        check_choice("features", text, FEATURES)
        return text
    cls = TrainConfig if key in TRAIN_FIELDS else model_param_fields()[key]
    return parse_overrides(f"{key}={text}", cls)[key]


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["depth=4,16", "init=glorot,gnn_he"]`` -> ``{"depth": [4, 16], "init": ["glorot", "gnn_he"]}``."""
    grid: dict[str, list[Any]] = {}
    keys = grid_keys()
    for item in items:
        if "=" not in item:
            raise ConfigError(f"a grid entry is key=v1,v2,...; got {item!r}")
        key, values = (part.strip() for part in item.split("=", 1))
        key = key.replace("-", "_")
        if key == "seed":
            raise ConfigError("seeds are not a grid key: give a number of seeds instead")
        if key not in keys:
            raise ConfigError(f"unknown grid key {key!r}; known: {', '.join(keys)}")
        if key in grid:
            raise ConfigError(f"grid key {key!r} is given twice")
        parsed = [_typed(key, v.strip()) for v in values.split(",") if v.strip()]
        if not parsed:
            raise ConfigError(f"grid key {key!r} has no values")
        grid[key] = parsed
    return grid


def load_grid_file(path: str | Path) -> tuple[dict[str, Any], dict[str, list[Any]], int | None]:
    """A YAML sweep file ``{fixed: {key: value}, grid: {key: [values]}, seeds: N}``."""
    try:
        content = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as error:
        raise ConfigError(f"cannot read the sweep file {path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"the sweep file {path} is not valid YAML{where}: "
                          f"{getattr(error, 'problem', None) or error}") from None
    if not isinstance(content, dict):
        raise ConfigError(f"the sweep file {path} must be a mapping {{fixed: ..., grid: ..., seeds: N}}; "
                          f"got {type(content).__name__}")
    unknown = set(content) - {"fixed", "grid", "seeds"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level keys {sorted(unknown)}; expected fixed, grid, seeds")
    grid_items = [f"{k}={','.join(str(v) for v in (vs if isinstance(vs, list) else [vs]))}"
                  for k, vs in (content.get("grid") or {}).items()]
    return dict(content.get("fixed") or {}), parse_grid(grid_items), content.get("seeds")


def expand(dataset: str, model: Any, train: TrainConfig, grid: dict[str, list[Any]], seeds: list[int],
           data_root: str | None = None, split: Split | str = None,
           models: dict[str, Any] | None = None, features: str = "raw") -> list[RunSpec]:
    """Every combination of ``grid`` values applied to the fixed configuration, for every seed.

    ``model`` is the fixed parameter object of Fathom's ``deepgnn`` (a ModelConfig); ``models``
    gives fixed parameters of other factories (default: each factory's defaults). In a cell of
    factory F, a grid key that F's parameters lack is left out, and cells that then coincide
    are run once. An impossible combination (e.g. ``init=fixup`` with ``residual=none``) raises a
    :class:`ConfigError` naming it, before anything runs.
    """
    fixed = {DEFAULT_MODEL: model, **(models or {})}
    keys = list(grid)
    specs: dict[str, RunSpec] = {}
    for values in itertools.product(*(grid[k] for k in keys)):
        changes = dict(zip(keys, values))
        name = changes.get("model", DEFAULT_MODEL)
        params = fixed.get(name) or factory(name).params()
        own = {f.name for f in dataclasses.fields(params)}
        try:
            cell_model = params.replace(**{k: v for k, v in changes.items() if k in own})
            cell_train = train.replace(**{k: v for k, v in changes.items() if k in TRAIN_FIELDS})
        except ConfigError as error:
            raise ConfigError(f"grid cell {changes}: {error}") from error
        for seed in seeds:
            spec = RunSpec(changes.get("dataset", dataset), cell_model, cell_train.replace(seed=seed), data_root,
                           changes.get("split", split), name, changes.get("features", features))
            specs.setdefault(spec.run_id, spec)
    return list(specs.values())

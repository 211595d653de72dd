"""Grids of configurations x seeds: parsing ``--grid key=v1,v2`` or a YAML file, and expansion."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config import ConfigError, ModelConfig, TrainConfig, parse_overrides
from ..data import DATASETS

MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig))
TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))
GRID_KEYS = ("dataset", *MODEL_FIELDS, *(f for f in TRAIN_FIELDS if f != "seed"))


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a dataset, a model and a training configuration (its seed included)."""

    dataset: str
    model: ModelConfig
    train: TrainConfig
    data_root: str | None = None
    split: tuple[float, float, float] | None = None  # a random split seeded by the run's seed

    @property
    def run_id(self) -> str:
        """A stable 12-hex-digit id of what determines the run's result (not where data lives).

        Fields at their default value are left out of the key, so adding an optional setting to
        the configuration keeps existing sweeps resumable.
        """
        key = {"dataset": self.dataset, "model": _non_default(self.model), "train": _non_default(self.train)}
        if self.split is not None:
            key["split"] = list(self.split)
        return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]

    def row(self) -> dict[str, Any]:
        """The configuration columns of this run's row in ``results.csv``."""
        split = "/".join(f"{f:g}" for f in self.split) if self.split else "fixed"
        return {"run_id": self.run_id, "dataset": self.dataset, "split": split, **self.model.to_dict(),
                **self.train.to_dict()}


def _non_default(config: ModelConfig | TrainConfig) -> dict[str, Any]:
    defaults = type(config)()
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
            if getattr(config, f.name) != getattr(defaults, f.name)}


def _typed(key: str, text: str) -> Any:
    if key == "dataset":
        if text not in DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(DATASETS)}; got {text!r}")
        return text
    cls = ModelConfig if key in MODEL_FIELDS else TrainConfig
    return parse_overrides(f"{key}={text}", cls)[key]


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["depth=4,16", "init=glorot,gnn_he"]`` -> ``{"depth": [4, 16], "init": ["glorot", "gnn_he"]}``."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--grid expects key=v1,v2,...; got {item!r}")
        key, values = (part.strip() for part in item.split("=", 1))
        key = key.replace("-", "_")
        if key == "seed":
            raise ConfigError("seeds are not a grid key: use --seeds N")
        if key not in GRID_KEYS:
            raise ConfigError(f"unknown grid key {key!r}; known: {', '.join(GRID_KEYS)}")
        if key in grid:
            raise ConfigError(f"grid key {key!r} is given twice")
        parsed = [_typed(key, v.strip()) for v in values.split(",") if v.strip()]
        if not parsed:
            raise ConfigError(f"grid key {key!r} has no values")
        grid[key] = parsed
    return grid


def load_grid_file(path: str | Path) -> tuple[dict[str, Any], dict[str, list[Any]], int | None]:
    """A YAML sweep file ``{fixed: {key: value}, grid: {key: [values]}, seeds: N}``."""
    content = yaml.safe_load(Path(path).read_text()) or {}
    unknown = set(content) - {"fixed", "grid", "seeds"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level keys {sorted(unknown)}; expected fixed, grid, seeds")
    grid_items = [f"{k}={','.join(str(v) for v in (vs if isinstance(vs, list) else [vs]))}"
                  for k, vs in (content.get("grid") or {}).items()]
    return dict(content.get("fixed") or {}), parse_grid(grid_items), content.get("seeds")


def expand(dataset: str, model: ModelConfig, train: TrainConfig, grid: dict[str, list[Any]],
           seeds: list[int], data_root: str | None = None,
           split: tuple[float, float, float] | None = None) -> list[RunSpec]:
    """Every combination of ``grid`` values applied to the fixed configuration, for every seed.

    An impossible combination (e.g. ``init=fixup`` with ``residual=none``) raises a
    :class:`ConfigError` naming it, before anything runs.
    """
    keys = list(grid)
    specs = []
    for values in itertools.product(*(grid[k] for k in keys)):
        changes = dict(zip(keys, values))
        try:
            cell_model = model.replace(**{k: v for k, v in changes.items() if k in MODEL_FIELDS})
            cell_train = train.replace(**{k: v for k, v in changes.items() if k in TRAIN_FIELDS})
        except ConfigError as error:
            raise ConfigError(f"grid cell {changes}: {error}") from error
        for seed in seeds:
            specs.append(RunSpec(changes.get("dataset", dataset), cell_model, cell_train.replace(seed=seed),
                                 data_root, split))
    return specs

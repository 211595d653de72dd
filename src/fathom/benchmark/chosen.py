"""Fathom's configuration per dataset, chosen on validation accuracy and recorded in ``chosen.json``.

``chosen.json`` maps a dataset name (or ``default``) to ``{"params": ModelConfig fields,
"train": TrainConfig fields, "how": how it was chosen}``; a dataset's entry is laid over the
default. An entry may carry another dataset's choice (``"carried_from": "photo"``): that entry's
changes apply, under the entry's own. ``fathom tune`` writes a ``best.json`` whose configuration
:func:`record_choice` copies here, so that ``fathom benchmark`` re-runs it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import ConfigError, ModelConfig, TrainConfig
from ..runs import write_json

CHOSEN_FILE = Path(__file__).with_name("chosen.json")


def chosen_configs(path: str | Path = CHOSEN_FILE) -> dict[str, dict[str, Any]]:
    return json.loads(Path(path).read_text())


def dataset_changes(dataset: str, configs: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(params, train)`` that ``dataset``'s entry changes from the default: those of the entry it
    carries (``carried_from``), if any, under its own; empty where it has no entry."""
    own = configs.get(dataset, {})
    carried: dict[str, Any] = {}
    if "carried_from" in own:
        source = own["carried_from"]
        if source not in configs or source == "default" or "carried_from" in configs[source]:
            raise ConfigError(f"chosen.json: {dataset} carries {source!r}, which is no dataset's own entry")
        carried = configs[source]
    return ({**carried.get("params", {}), **own.get("params", {})},
            {**carried.get("train", {}), **own.get("train", {})})


def fathom_config(dataset: str, path: str | Path = CHOSEN_FILE) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(ModelConfig fields, TrainConfig fields)`` chosen for ``dataset`` (the default's, with the
    dataset's own entry over them); both are validated."""
    configs = chosen_configs(path)
    default = configs["default"]
    own_params, own_train = dataset_changes(dataset, configs)
    params = {**default.get("params", {}), **own_params}
    train = {**default.get("train", {}), **own_train}
    ModelConfig.from_dict(params)
    TrainConfig.from_dict(train)
    return params, train


def record_choice(dataset: str, params: dict[str, Any], train: dict[str, Any], how: str,
                  path: str | Path = CHOSEN_FILE) -> None:
    """Record ``dataset``'s chosen configuration (validated) in ``path``, atomically."""
    ModelConfig.from_dict(params)
    TrainConfig.from_dict({k: v for k, v in train.items() if k != "seed"})
    configs = chosen_configs(path)
    configs[dataset] = {"params": params, "train": {k: v for k, v in train.items() if k != "seed"}, "how": how}
    write_json(Path(path), configs)

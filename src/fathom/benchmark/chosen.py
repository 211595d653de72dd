"""Fathom's configuration per dataset, chosen on validation accuracy and recorded in ``chosen.json``.

``chosen.json`` maps a dataset name (or ``default``) to ``{"params": ModelConfig fields,
"train": TrainConfig fields, "how": how it was chosen}``; a dataset's entry is laid over the
default. ``fathom tune`` writes a ``best.json`` whose configuration :func:`record_choice` copies
here, so that ``fathom benchmark`` re-runs it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import ModelConfig, TrainConfig
from ..runs import write_json

CHOSEN_FILE = Path(__file__).with_name("chosen.json")


def chosen_configs(path: str | Path = CHOSEN_FILE) -> dict[str, dict[str, Any]]:
    return json.loads(Path(path).read_text())


def fathom_config(dataset: str, path: str | Path = CHOSEN_FILE) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(ModelConfig fields, TrainConfig fields)`` chosen for ``dataset`` (the default's, with the
    dataset's own entry over them); both are validated."""
    configs = chosen_configs(path)
    default, own = configs["default"], configs.get(dataset, {})
    params = {**default.get("params", {}), **own.get("params", {})}
    train = {**default.get("train", {}), **own.get("train", {})}
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

"""The model-factory registry: a name, a validated parameter class and a build function."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn
from torch_geometric.data import Data

from ..config import ConfigError

Build = Callable[[Any, Data, int], nn.Module]


@dataclass(frozen=True)
class ModelFactory:
    """``build(params, data, out_channels)`` makes a model for ``data`` from ``params``, an instance
    of ``params_class`` (a validated configuration dataclass such as
    :class:`~fathom.config.ModelConfig`). The model is called as ``model(x, edge_index)``."""

    name: str
    params_class: type
    build: Build
    description: str
    training: dict[str, Any] = field(default_factory=dict)
    per_dataset: dict[str, dict[str, Any]] = field(default_factory=dict)

    def params(self, **values: Any) -> Any:
        """The parameters with ``values`` over the defaults; unknown names are an error."""
        return self.params_class.from_dict(values)

    def published(self, dataset: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(model parameters, training settings)`` that the model's paper used on ``dataset``:
        the factory's ``training`` defaults with the dataset's entry of ``per_dataset`` over them,
        split by whether a key is a parameter of ``params_class``."""
        own = {f.name for f in dataclasses.fields(self.params_class)}
        settings = {**self.training, **self.per_dataset.get(dataset, {})}
        return ({k: v for k, v in settings.items() if k in own},
                {k: v for k, v in settings.items() if k not in own})


MODELS: dict[str, ModelFactory] = {}


def register_model(name: str, params_class: type, description: str, *, training: dict[str, Any] | None = None,
                   per_dataset: dict[str, dict[str, Any]] | None = None) -> Callable[[Build], Build]:
    """Decorator: register ``build`` as the factory ``name``.

    ``training`` holds the training settings (:class:`~fathom.config.TrainConfig` fields) of the
    model's paper; ``per_dataset`` the paper's settings for named datasets, parameters and training
    fields mixed (see :meth:`ModelFactory.published`).
    """

    def decorate(build: Build) -> Build:
        if name in MODELS:
            raise ValueError(f"a model factory named {name!r} is already registered")
        MODELS[name] = ModelFactory(name, params_class, build, description, dict(training or {}),
                                    {k: dict(v) for k, v in (per_dataset or {}).items()})
        return build

    return decorate


def factory(name: str) -> ModelFactory:
    """The factory registered as ``name``; an unknown name is a :class:`ConfigError` naming the closest."""
    if name not in MODELS:
        close = difflib.get_close_matches(name, MODELS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"model must be one of {', '.join(MODELS)}; got {name!r}{hint}")
    return MODELS[name]


def build_model(name: str, params: Any, data: Data, out_channels: int) -> nn.Module:
    """Build the model ``name`` for ``data`` (``params``: its parameter object, or a dict of them)."""
    chosen = factory(name)
    if isinstance(params, dict):
        params = chosen.params(**params)
    if not isinstance(params, chosen.params_class):
        raise ConfigError(f"model {name!r} takes {chosen.params_class.__name__}, not {type(params).__name__}")
    return chosen.build(params, data, out_channels)

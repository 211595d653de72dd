"""Configuration objects: everything the three papers vary, validated at construction.

CLI flags, YAML files and Python calls all build the same :class:`ModelConfig` /
:class:`TrainConfig`; an invalid value fails immediately with a message that names the field
and the allowed values.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .graph import AGGREGATIONS, COMPONENT_SCALINGS

RESIDUALS = ("none", "plain", "fixup")
INITS = ("gnn_he", "kaiming", "glorot", "fixup")
NORMS = ("none", "weight", "layer", "pairnorm", "batchnorm")
NORM_BOUNDS = ("spectral", "frobenius")
ACTIVATIONS = ("relu", "identity")
MEMORY_MODES = ("full", "checkpoint", "reversible")
DEVICES = ("auto", "cpu", "cuda")


class ConfigError(ValueError):
    """An invalid configuration value; the message names the field and what is allowed."""


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _number(name: str, value: Any, low: float, high: float = math.inf, *, integer: bool = False,
            low_open: bool = False) -> None:
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(f"{name} must be {kind}; got {value!r}")
    if not math.isfinite(value) or value < low or (low_open and value == low) or value > high:
        left = "(" if low_open else "["
        right = "]" if math.isfinite(high) else ")"
        raise ConfigError(f"{name} must lie in {left}{low}, {high}{right}; got {value!r}")


class _Config:
    """Shared helpers: dict round-trip that rejects unknown keys."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(
                f"unknown {cls.__name__} field(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
            )
        return cls(**values)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class ModelConfig(_Config):
    """A :class:`fathom.nn.DeepGNN`: encoder -> ``depth`` blocks -> head.

    Attributes:
        depth: number of message-passing blocks ``L``.
        width: hidden width of every block.
        aggregation: operator ``A`` (``gcn`` | ``mean`` | ``sum``).
        residual_aggregation: ``a`` in ``A_a = (1 - a) A + a I``.
        residual: ``none`` (``Z' = B(Z)``), ``plain`` (``Z' = Z + B(Z)``) or ``fixup``
            (``Z' = Z + beta B(Z)``), with branch ``B(Z) = A_a act(Z) W``.
        beta: fixup branch scale; ``None`` means ``1/sqrt(depth)`` (DeZoort & Hanin 2023).
        init: block-weight initializer (``gnn_he`` | ``kaiming`` | ``glorot`` | ``fixup``).
        norm: ``weight`` (``W <- W / max(1, ||W||/c)``) or ``layer`` (block output divided by
            its Lipschitz bound), Park & Kim (2024); or PyG's ``pairnorm`` | ``batchnorm`` on each
            branch output; or ``none``.
        norm_bound: ``spectral`` (power iteration) or ``frobenius`` norm of ``W`` for ``weight``.
        norm_c: the bound ``c`` of ``weight``.
        activation: ``relu``, or ``identity`` for the linearized analysis.
        dropout: dropout probability on each block's input features.
        memory: ``full``, ``checkpoint`` (recompute segments of sqrt(L) blocks) or
            ``reversible`` (grouped reversible blocks, memory constant in depth).
        component_scaling: ``none``, or ``perron``: scale each connected component's block of
            ``A_a`` so that its Perron root equals the graph's (see ``AggregationOperator``).
    """

    depth: int = 32
    width: int = 64
    aggregation: str = "gcn"
    residual_aggregation: float = 0.5
    residual: str = "fixup"
    beta: float | None = None
    init: str = "gnn_he"
    norm: str = "none"
    norm_bound: str = "spectral"
    norm_c: float = 0.999
    activation: str = "relu"
    dropout: float = 0.0
    memory: str = "full"
    component_scaling: str = "none"

    def __post_init__(self) -> None:
        _number("depth", self.depth, 1, integer=True)
        _number("width", self.width, 1, integer=True)
        _choice("aggregation", self.aggregation, AGGREGATIONS)
        _number("residual_aggregation", self.residual_aggregation, 0.0, 1.0)
        _choice("residual", self.residual, RESIDUALS)
        if self.beta is not None:
            _number("beta", self.beta, 0.0, low_open=True)
            if self.residual == "none":
                raise ConfigError("beta scales a residual branch: it needs residual=plain or fixup, not none")
        _choice("init", self.init, INITS)
        if self.init == "fixup" and self.residual == "none":
            raise ConfigError("init=fixup zero-initialises residual branches: it needs residual=plain or fixup")
        _choice("norm", self.norm, NORMS)
        _choice("norm_bound", self.norm_bound, NORM_BOUNDS)
        _number("norm_c", self.norm_c, 0.0, low_open=True)
        if self.norm == "layer" and self.residual == "none":
            raise ConfigError("norm=layer bounds a residual block (Z + beta B(Z)) / (1 + beta Lip(B)): "
                              "it needs residual=plain or fixup")
        _choice("activation", self.activation, ACTIVATIONS)
        _number("dropout", self.dropout, 0.0, 1.0)
        if self.dropout == 1.0:
            raise ConfigError("dropout must be below 1 (dropout=1 removes every feature)")
        _choice("memory", self.memory, MEMORY_MODES)
        _choice("component_scaling", self.component_scaling, COMPONENT_SCALINGS)
        if self.memory == "reversible":
            if self.residual == "none":
                raise ConfigError("memory=reversible needs residual blocks (residual=plain or fixup)")
            if self.width % 2:
                raise ConfigError(f"memory=reversible splits the width in two groups: width must be even, got "
                                  f"{self.width}")
            if self.norm not in ("none", "weight"):
                raise ConfigError(f"memory=reversible supports norm none or weight (its blocks must stay "
                                  f"invertible), not {self.norm}")
            if self.dropout > 0:
                raise ConfigError("memory=reversible needs dropout=0 (the backward pass recomputes each block)")

    @property
    def branch_scale(self) -> float:
        """The factor on each residual branch: 1 (plain), beta or 1/sqrt(L) (fixup), 0 (none)."""
        if self.residual == "none":
            return 0.0
        if self.residual == "plain":
            return 1.0 if self.beta is None else float(self.beta)
        return 1.0 / math.sqrt(self.depth) if self.beta is None else float(self.beta)


@dataclass(frozen=True)
class TrainConfig(_Config):
    """Full-batch training: Adam on the cross-entropy of the training nodes.

    ``patience``: stop when the validation accuracy has not improved for that many epochs
    (``None``: train all ``epochs``).
    """

    epochs: int = 100
    lr: float = 0.005
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    patience: int | None = None

    def __post_init__(self) -> None:
        _number("epochs", self.epochs, 1, integer=True)
        if self.patience is not None:
            _number("patience", self.patience, 1, integer=True)
        _number("lr", self.lr, 0.0, low_open=True)
        _number("weight_decay", self.weight_decay, 0.0)
        _number("seed", self.seed, 0, integer=True)
        _choice("device", self.device, DEVICES)


def parse_overrides(spec: str, cls: type = ModelConfig) -> dict[str, Any]:
    """``"init=glorot,residual=fixup,depth=16"`` -> ``{"init": "glorot", ...}`` typed by ``cls``'s fields.

    Keys may use dashes (``residual-aggregation``); ``none`` is ``None`` for optional numbers.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    overrides: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        if "=" not in item:
            raise ConfigError(f"expected key=value in {spec!r}, got {item!r}")
        key, text = (part.strip() for part in item.split("=", 1))
        key = key.replace("-", "_")
        if key not in fields:
            raise ConfigError(f"unknown {cls.__name__} field {key!r} in {spec!r}; known: {', '.join(fields)}")
        overrides[key] = _parse_value(key, text, fields[key].type)
    return overrides


def _parse_value(key: str, text: str, annotation: Any) -> Any:
    annotation = str(annotation)
    if "None" in annotation and text.lower() == "none":
        return None
    try:
        if annotation.startswith("int"):
            return int(text)
        if annotation.startswith("float"):
            return float(text)
    except ValueError:
        raise ConfigError(f"{key} must be {annotation.split(' ')[0]}; got {text!r}") from None
    return text

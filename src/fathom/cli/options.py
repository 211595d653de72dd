"""Command-line options, declared once.

Every field of :class:`~fathom.config.ModelConfig` and :class:`~fathom.config.TrainConfig` becomes
a flag of the same name through :func:`config_options`, with the help text, choices and range
recorded on the field (``fathom.config.option``): a new configuration field is one edit in
``config.py``. Options that are not configuration fields (the dataset, the data root, the output
directory...) are ``Annotated`` aliases here, shared by every command that takes them.

Help text is Rich markup: a field's help has its brackets escaped here, hand-written help writes
``\\[`` (``\\[values]`` shows ``[values]``), and ``main`` escapes the commands' docstrings.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Optional, Union

import typer
from rich.markup import escape

from ..config import ConfigError, ModelConfig, TrainConfig, range_error
from ..data import DATA_ENV, DATASETS

DATA, MODEL, TRAINING = "Data", "Model", "Training"
PANELS = {ModelConfig: MODEL, TrainConfig: TRAINING}

Dataset = Annotated[Literal[tuple(DATASETS)], typer.Option(  # type: ignore[valid-type]
    help="Graph to use: the built-in CSBM, or a dataset from the data root (see `fathom datasets`).",
    rich_help_panel=DATA)]
DataRoot = Annotated[Optional[Path], typer.Option(
    help=f"Folder holding <Name>/raw/ or a folder of families (planetoid/Cora/raw/, amazon/Photo/raw/...); "
         f"default ${DATA_ENV} or ~/.cache/fathom/datasets.", envvar=DATA_ENV, rich_help_panel=DATA)]
Split = Annotated[str, typer.Option(
    help="standard (the dataset's own: Planetoid public, geom-gcn split 0, seeded 60/20/20 for Amazon and "
         "Coauthor), random (seeded 60/20/20), or a geom-gcn split number 0-9; on a graph-classification "
         "dataset, the test fold 0-9 (standard: fold 0).", rich_help_panel=DATA)]
Features = Annotated[Literal["raw", "protocol"], typer.Option(
    help="raw features as stored, or protocol: row-normalised where the dataset's standard protocol does it "
         "(Planetoid and the geom-gcn sets; `fathom datasets` shows which).", rich_help_panel=DATA)]
Out = Annotated[Optional[Path], typer.Option(
    help="Run directory (default: runs/<command>-<dataset>-<time>-<8 hex digits>).", rich_help_panel=TRAINING)]
ShowProgress = Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")]


def _python_type(annotation: Any) -> Any:
    """``float | None`` -> ``Optional[float]``: the spelling typer understands."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is Union:
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return Optional[inner[0]]
    return annotation


def field_option(cls: type, name: str) -> Any:
    """The ``Annotated`` typer option of configuration field ``cls.name``."""
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    meta = field.metadata
    if meta.get("choices"):
        kind: Any = Literal[tuple(meta["choices"])]  # type: ignore[valid-type]
    else:
        kind = _python_type(typing.get_type_hints(cls)[name])
    flag = "--lr" if name == "lr" else f"--{name.replace('_', '-')}"
    low, high = meta.get("low"), meta.get("high")
    ranged_float = _python_type(kind) in (float, Optional[float]) and (low is not None or high is not None)
    return Annotated[kind, typer.Option(flag, help=escape(meta.get("help", "")), min=low, max=high,
                                        parser=_float_in(low, high) if ranged_float else None,
                                        rich_help_panel=PANELS.get(cls))]


def _float_in(low: float | None, high: float | None) -> Callable[[Any], float]:
    """A flag's parser for a float in ``[low, high]`` that names NaN and infinities as such (typer's
    own range check calls ``nan`` "not <= 1")."""
    def parse(text: Any) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise typer.BadParameter(f"{text!r} is not a number") from None
        error = range_error("the value", value, -math.inf if low is None else low, math.inf if high is None else high)
        if error:
            raise typer.BadParameter(error)
        return value

    return parse


Seed = field_option(TrainConfig, "seed")
Device = field_option(TrainConfig, "device")
Aggregation = field_option(ModelConfig, "aggregation")


def config_options(*classes: type, defaults: dict[str, Any] | None = None,
                   exclude: tuple[str, ...] = (), values: bool = False) -> Callable:
    """Give a command one flag per field of each configuration class.

    The command declares a keyword-only parameter per class, named after it in snake case
    (``model_config: ModelConfig``, ``train_config: TrainConfig``) and receives the built, validated
    object; an invalid value is a usage error (exit code 2) naming the field. ``defaults`` changes
    a flag's default for this command, fields named in ``exclude`` get no flag (they keep their
    defaults), and ``values=True`` passes the raw ``{field: value}`` dicts instead of objects
    (for commands that combine the flags with other sources first, like a sweep file).
    """
    defaults = defaults or {}

    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command, eval_str=True)
        slots = {_slot(cls): cls for cls in classes}
        kept = [p for name, p in signature.parameters.items() if name not in slots]
        fields_of = {cls: [f for f in dataclasses.fields(cls) if f.name not in exclude] for cls in classes}
        generated = [
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=field_option(cls, f.name),
                              default=defaults.get(f.name, f.default))
            for cls in classes for f in fields_of[cls]
        ]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            for slot, cls in slots.items():
                given = {f.name: kwargs.pop(f.name) for f in fields_of[cls]}
                kwargs[slot] = given if values else build_config(cls, **given)
            return command(**kwargs)

        del wrapper.__wrapped__  # typer must read the generated signature, not the command's
        wrapper.__signature__ = signature.replace(parameters=[*kept, *generated])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in wrapper.__signature__.parameters.values()}
        return wrapper

    return decorate


def _slot(cls: type) -> str:
    """``ModelConfig`` -> ``model_config``."""
    name = cls.__name__
    return name[0].lower() + "".join(f"_{c.lower()}" if c.isupper() else c for c in name[1:])


def build_config(cls, **values):
    """``cls(**values)``, turning a :class:`ConfigError` into a CLI usage error (exit code 2)."""
    try:
        return cls(**values)
    except ConfigError as error:
        raise typer.BadParameter(str(error)) from error


def parse_split(text: str) -> str | int | None:
    """``standard`` -> ``None`` (the dataset's own), ``random``, or a geom-gcn split number."""
    if text == "standard":
        return None
    if text == "random":
        return "random"
    if text.isdigit():
        return int(text)
    raise typer.BadParameter(f"--split must be standard, random or a split number; got {text!r}")

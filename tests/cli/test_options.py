"""Model and training flags are generated from the configuration fields, once for every command."""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any

import pytest
import typer
from typer.core import TyperOption
from typer.testing import CliRunner

from fathom.cli import options as opt
from fathom.cli.main import app
from fathom.config import ModelConfig, TrainConfig, option


def _flags(command: str) -> dict[str, TyperOption]:
    group = typer.main.get_command(app)
    return {p.name: p for p in group.commands[command].params if isinstance(p, TyperOption)}


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_every_config_field_is_a_flag_with_its_help_and_default(command):
    flags = _flags(command)
    for cls in (ModelConfig, TrainConfig):
        for field in dataclasses.fields(cls):
            flag = flags[field.name]
            assert flag.help == field.metadata["help"] and flag.default == field.default, field.name
            if field.metadata["choices"]:
                assert typing.get_args(flag.type_descriptor.annotation) == tuple(field.metadata["choices"])


def test_a_command_can_change_defaults_and_leave_fields_out():
    flags = _flags("diagnose")
    assert flags["init"].default == "glorot" and flags["depth"].default == 64 and flags["residual"].default == "none"
    assert "dropout" not in flags and "memory" not in flags and "epochs" not in flags


@dataclasses.dataclass(frozen=True)
class Extra:
    label_smoothing: float = option(0.0, "Label smoothing epsilon.", low=0.0, high=1.0)
    kind: str = option("a", "A choice.", choices=("a", "b"))


def test_a_new_config_field_becomes_a_flag_with_one_edit():
    seen: dict[str, Any] = {}

    @opt.config_options(Extra)
    def command(name: str = "x", *, extra: Extra) -> None:
        seen["extra"] = extra

    cli = typer.Typer()
    cli.command()(command)
    result = CliRunner().invoke(cli, ["--label-smoothing", "0.1", "--kind", "b"])
    assert result.exit_code == 0, result.output
    assert seen["extra"] == Extra(0.1, "b")
    assert CliRunner().invoke(cli, ["--label-smoothing", "2"]).exit_code == 2  # outside [0, 1]


def test_an_invalid_combination_is_a_usage_error_naming_the_field():
    result = CliRunner().invoke(app, ["train", "--residual", "none", "--init", "fixup", "--epochs", "1"])
    assert result.exit_code == 2 and "init=fixup" in result.output


def _commands(command, path=()):
    """Every command under ``command`` (a click group or command), with its path of names."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def _bracketed(help_text: str) -> list[str]:
    """The ``[...]`` pieces of a help text as the reader should see them (markup escapes removed)."""
    return re.findall(r"\[[^\[\]]*\]", help_text.replace("\\[", "["))


def _shown(output: str) -> str:
    """A rendered ``--help`` with its box borders removed and whitespace collapsed (wrapping undone)."""
    return " ".join(output.replace("│", " ").split())


def test_help_shows_bracketed_text_as_written():
    """Rich markup used to swallow ``[values]`` (sweep's --grid-file), ``[choices]`` (tune's
    --space-file) and ``[train]`` (linear's docstring): every bracket of every command's help and
    docstring must show."""
    checked = 0
    for path, command in _commands(typer.main.get_command(app)):
        texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
        expected = [piece for text in texts for piece in _bracketed(text)]
        if not expected:
            continue
        shown = _shown(CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"}).output)
        for piece in expected:
            assert " ".join(piece.split()) in shown, (path, piece)
        checked += len(expected)
    assert checked >= 5


@dataclasses.dataclass(frozen=True)
class Bracketed:
    mode: str = option("a", "One of [choices]; see 'fathom[extra]'.", choices=("a", "b"))


def test_a_config_field_help_with_brackets_shows_them():
    @opt.config_options(Bracketed)
    def command(*, bracketed: Bracketed) -> None:
        pass

    cli = typer.Typer()
    cli.command()(command)
    shown = _shown(CliRunner().invoke(cli, ["--help"], env={"COLUMNS": "200"}).output)
    assert "One of [choices]; see 'fathom[extra]'." in shown


RANGED_FLOATS = [f for cls in (ModelConfig, TrainConfig) for f in dataclasses.fields(cls)
                 if f.type in ("float", "float | None")
                 and (f.metadata["low"] is not None or f.metadata["high"] is not None)]


@pytest.mark.parametrize("field", RANGED_FLOATS, ids=[f.name for f in RANGED_FLOATS])
def test_a_nan_or_infinite_flag_is_named_as_such(field):
    """``--residual-aggregation nan`` used to say "Input should be less than or equal to 1"."""
    flag = f"--{field.name.replace('_', '-')}"
    for value, named in (("nan", "is not a number"), ("inf", "is infinite"), ("-inf", "is infinite")):
        result = CliRunner().invoke(app, ["train", flag, value], env={"COLUMNS": "300"})
        assert result.exit_code == 2, result.output
        assert f"Invalid value for '{flag}': the value {named}" in result.output, result.output


@dataclasses.dataclass(frozen=True)
class OptionalRanged:
    limit: float | None = option(None, "An optional bound.", low=0.0)


def test_an_optional_ranged_float_keeps_its_none_default_and_names_nan():
    seen: dict[str, Any] = {}

    @opt.config_options(OptionalRanged)
    def command(*, optional_ranged: OptionalRanged) -> None:
        seen["config"] = optional_ranged

    cli = typer.Typer()
    cli.command()(command)
    result = CliRunner().invoke(cli, [])
    assert result.exit_code == 0 and seen["config"] == OptionalRanged(None), result.output
    result = CliRunner().invoke(cli, ["--limit", "nan"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "the value is not a number" in result.output, result.output


def test_a_bad_split_is_a_usage_error_naming_the_flag():
    result = CliRunner().invoke(app, ["train", "--dataset", "csbm", "--split", "abc", "--epochs", "1"],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "--split must be standard, random or a split number; got 'abc'" in result.output

"""Hyper-parameter search on validation accuracy: Optuna's TPE sampler (Bergstra et al., NeurIPS 2011)
over a search space given as data, with the test labels hidden from every trial.

A search space maps a key (a field of the model factory's parameter class or of
:class:`~fathom.config.TrainConfig`) to a list of choices or to a range::

    {"depth": [16, 32, 64], "lr": {"low": 0.001, "high": 0.05, "log": True}}

Each trial trains once per seed (:func:`fathom.train.fit`) and scores the best validation accuracy
of the run (its mean over seeds; under ``selection="val_loss"`` the validation accuracy at the epoch
of least validation loss). Trials see a copy of the graph whose test mask is empty and whose
test-node labels are overwritten with 0 (:func:`hide_test`), so no code path can select on test
accuracy. The study lives in ``out/study.db`` (Optuna's RDB storage), so a stopped tuning resumes;
``out/trials.csv`` and ``out/best.json`` are rewritten atomically after every trial.
Optuna is optional: ``pip install 'fathom[tune]'``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch_geometric.data import Data

from .config import Config, ConfigError, TrainConfig, _parse_value, check_choice, check_number
from .data import SplitError, get_spec, load_dataset, num_classes
from .models import build_model, factory
from .runs import environment, write_csv, write_json
from .runtime import progress_bar, resolve_device, seed_everything
from .tasks import NodeClassification
from .train import fit

STUDY_NAME = "fathom-tune"
INSTALL_HINT = "hyper-parameter tuning needs Optuna: pip install 'fathom[tune]'"
INTERRUPTED = "interrupted"


class TrialFailed(RuntimeError):
    """A trial's training run diverged or gave no validation accuracy (the reason is the message)."""


@dataclass(frozen=True)
class Choice:
    """A categorical dimension: one of ``values``."""

    values: tuple[Any, ...]

    def to_data(self) -> list[Any]:
        return list(self.values)


@dataclass(frozen=True)
class Range:
    """A numeric dimension: ``low <= v <= high``, integer for integer fields, sampled
    log-uniformly with ``log``."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def to_data(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log}


Dimension = Choice | Range
Space = dict[str, Dimension]


@dataclass
class TuneResult:
    """The best trial's full model parameters and training configuration, its validation accuracy
    (``None`` while no trial completed), one row per trial, and the files written."""

    params: dict[str, Any] | None
    train: dict[str, Any] | None
    best_val_acc: float | None
    trials: list[dict[str, Any]]
    out: Path
    interrupted: bool = False

    @property
    def best_file(self) -> Path:
        return self.out / "best.json"


def _fields(factory_name: str) -> dict[str, tuple[type, dataclasses.Field]]:
    """Every key a search space may use -> (its configuration class, its field); model
    parameters first, then training settings but the seed (a trial's seeds are tune's)."""
    params_class = factory(factory_name).params_class
    found = {f.name: (params_class, f) for f in dataclasses.fields(params_class)}
    for f in dataclasses.fields(TrainConfig):
        if f.name != "seed":
            found.setdefault(f.name, (TrainConfig, f))
    return found


def _resolve(key: str, fields: dict[str, tuple[type, dataclasses.Field]]) -> tuple[str, type, dataclasses.Field]:
    """A key (dashes allowed) -> its name, class and field; an unknown key is a :class:`ConfigError`
    naming the closest known one (:meth:`Config.check_keys` of the class that holds it)."""
    name = key.replace("-", "_")
    if name == "seed":
        raise ConfigError("seed is not searched: every trial trains with tune's seed (seed, seed+1, ... for "
                          "several seeds per trial)")
    if name not in fields:
        close = difflib.get_close_matches(name, list(fields), n=1)
        owner: type[Config] = fields[close[0]][0] if close else TrainConfig
        owner.check_keys([name])
    cls, f = fields[name]
    return name, cls, f


def _typed(name: str, value: Any, cls: type, f: dataclasses.Field) -> Any:
    """``value`` (text from a flag or YAML, or already typed) as the field's type, checked
    against the field's choices and range."""
    kind = str(f.type)
    if isinstance(value, str):
        value = _parse_value(name, value.strip(), kind)
    elif isinstance(value, int) and not isinstance(value, bool) and kind.startswith("float"):
        value = float(value)
    if value is None:
        return value
    meta = f.metadata
    if meta.get("choices"):
        check_choice(name, value, meta["choices"])
    elif kind.startswith(("int", "float")):
        low = -math.inf if meta.get("low") is None else meta["low"]
        high = math.inf if meta.get("high") is None else meta["high"]
        check_number(name, value, low, high, integer=kind.startswith("int"))
    if cls is TrainConfig:  # its fields are checked one by one: check the value in full
        TrainConfig(**{name: value})
    return value


def _dimension(name: str, spec: Any, cls: type, f: dataclasses.Field) -> Dimension:
    """A dimension from data: a list of choices, a single value, or ``{low, high[, log]}``."""
    if isinstance(spec, dict):
        unknown = set(spec) - {"low", "high", "log"}
        if unknown or not {"low", "high"} <= set(spec):
            raise ConfigError(f"the range of {name} must be {{low: a, high: b[, log: true]}}; got {spec!r}")
        kind = str(f.type)
        if not kind.startswith(("int", "float")):
            raise ConfigError(f"{name} is not a number: give it a list of choices, not a range")
        low, high = (_typed(name, spec[end], cls, f) for end in ("low", "high"))
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise ConfigError(f"log of the range of {name} must be true or false; got {log!r}")
        if low is None or high is None or low > high:
            raise ConfigError(f"the range of {name} needs low <= high; got low={low}, high={high}")
        if log and low <= 0:
            raise ConfigError(f"a log range of {name} needs low > 0; got low={low}")
        return Range(low, high, log, integer=kind.startswith("int"))
    values = spec if isinstance(spec, list) else [spec]
    if not values:
        raise ConfigError(f"the search space gives {name} no values")
    return Choice(tuple(_typed(name, v, cls, f) for v in values))


def search_space(raw: dict[str, Any], factory_name: str) -> Space:
    """Check and type a search space given as data (``{key: [choices]}`` or
    ``{key: {"low": a, "high": b, "log": bool}}``; keys may use dashes)."""
    fields = _fields(factory_name)
    space: Space = {}
    for key, spec in raw.items():
        name, cls, f = _resolve(key, fields)
        if name in space:
            raise ConfigError(f"search key {name!r} is given twice")
        space[name] = spec if isinstance(spec, (Choice, Range)) else _dimension(name, spec, cls, f)
    return space


def parse_space(items: list[str], factory_name: str) -> Space:
    """``["depth=16,32,64", "lr=0.001:0.05:log"]``: ``key=v1,v2,...`` (choices) or
    ``key=low:high[:log]`` (a range)."""
    raw: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"a search entry is key=v1,v2,... or key=low:high[:log]; got {item!r}")
        key, text = (part.strip() for part in item.split("=", 1))
        if ":" in text:
            parts = [p.strip() for p in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log") or not all(parts[:2]):
                raise ConfigError(f"a range is low:high or low:high:log; got {text!r} for {key}")
            raw[key] = {"low": parts[0], "high": parts[1], "log": len(parts) == 3}
        else:
            raw[key] = [v for v in (v.strip() for v in text.split(",")) if v]
        if key.replace("-", "_") in {k.replace("-", "_") for k in list(raw)[:-1]}:
            raise ConfigError(f"search key {key!r} is given twice")
    return search_space(raw, factory_name)


def split_fixed(values: dict[str, Any], factory_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fixed settings (keys of either class, dashes allowed, text or typed values) ->
    ``(model parameters, training settings)``."""
    fields = _fields(factory_name)
    params: dict[str, Any] = {}
    train: dict[str, Any] = {}
    for key, value in values.items():
        name, cls, f = _resolve(key, fields)
        (train if cls is TrainConfig else params)[name] = _typed(name, value, cls, f)
    return params, train


def load_space_file(path: str | Path, factory_name: str) -> tuple[Space, dict[str, Any]]:
    """A YAML file ``{space: {key: [choices] | {low, high, log}}, fixed: {key: value}}``:
    the search space and the fixed settings (model parameters and training settings mixed)."""
    try:
        content = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read the search-space file {path}: {error}") from error
    if not isinstance(content, dict) or set(content) - {"space", "fixed"}:
        raise ConfigError(f"{path}: expected top-level keys space and fixed; got {sorted(content)}")
    try:
        return search_space(content.get("space") or {}, factory_name), dict(content.get("fixed") or {})
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error


def hide_test(data: Data) -> Data:
    """A copy of ``data`` without its test split: an empty test mask and label 0 on every test
    node, so what trains on it cannot depend on the test labels. Validation or training nodes
    that are also test nodes (karate's validation = test) are an error: tuning on them would
    select on test labels."""
    if not bool(data.val_mask.any()):
        raise SplitError(f"{getattr(data, 'name', 'the graph')} has no validation nodes: tuning selects on them")
    shared = data.test_mask & (data.val_mask | data.train_mask)
    if bool(shared.any()):
        raise SplitError(f"{int(shared.sum())} test nodes of {getattr(data, 'name', 'the graph')} are also "
                         "validation or training nodes: tuning on them would select on test labels; choose a "
                         "split whose test nodes are apart")
    hidden = data.clone()
    hidden.y = torch.where(data.test_mask, torch.zeros_like(data.y), data.y)
    hidden.test_mask = torch.zeros_like(data.test_mask)
    return hidden


def _as_dict(values: Config | dict[str, Any] | None) -> dict[str, Any]:
    return values.to_dict() if isinstance(values, Config) else dict(values or {})


def _optuna():
    try:
        import optuna
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    return optuna


def _suggest(trial: Any, name: str, dimension: Dimension) -> Any:
    if isinstance(dimension, Choice):
        return trial.suggest_categorical(name, list(dimension.values))
    if dimension.integer:
        return trial.suggest_int(name, int(dimension.low), int(dimension.high), log=dimension.log)
    return trial.suggest_float(name, float(dimension.low), float(dimension.high), log=dimension.log)


def tune(factory_name: str, dataset: str, data_root: str | Path | None, space: Space | dict[str, Any],
         fixed_params: dict[str, Any] | None = None, fixed_train: dict[str, Any] | None = None, trials: int = 20,
         seed: int = 0, out: str | Path = "tune", split: str | int | None = None, features: str = "raw",
         progress: bool = True, seeds_per_trial: int = 1) -> TuneResult:
    """Search ``space`` for the configuration of model factory ``factory_name`` with the best
    validation accuracy on ``dataset``, over ``trials`` trials in total (a resumed study runs the
    ones missing).

    The other settings are the factory's defaults with ``fixed_params`` over them and
    :class:`TrainConfig`'s with ``fixed_train``; trial seeds are ``seed, ..., seed +
    seeds_per_trial - 1`` (``fixed_train``'s seed is ignored), the sampler's seed is ``seed``
    plus the number of trials already run, and the graph (CSBM, random splits) is drawn with
    ``seed``. A trial whose configuration is invalid, whose run diverges or fails is recorded as
    failed with its reason and the study goes on. Ctrl-C stops after writing the files, with
    ``interrupted`` set.
    """
    optuna = _optuna()
    chosen = factory(factory_name)
    space = search_space(space, factory_name)
    if trials < 1 or seeds_per_trial < 1:
        raise ConfigError(f"trials and seeds per trial must be at least 1; got {trials} and {seeds_per_trial}")
    if features not in ("raw", "protocol"):
        raise ConfigError(f"features must be raw or protocol; got {features!r}")
    given = {**_as_dict(fixed_params), **_as_dict(fixed_train)}
    given.pop("seed", None)
    more_params, more_train = split_fixed(given, factory_name)
    base_params = chosen.params(**more_params)
    base_train = TrainConfig.from_dict({**more_train, "seed": seed})
    if get_spec(dataset).task != "node":
        raise ConfigError(f"{dataset} is a graph-classification dataset; tuning trains on the nodes of one graph")
    data = load_dataset(dataset, data_root, split=split, seed=seed,
                        normalize="protocol" if features == "protocol" else False)
    classes = num_classes(data)
    task = NodeClassification(hide_test(data))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    description = {"model": factory_name, "dataset": dataset, "split": split, "features": features,
                   "space": {k: d.to_data() for k, d in space.items()}, "fixed_params": more_params,
                   "fixed_train": more_train, "seed": seed, "seeds_per_trial": seeds_per_trial}
    study = _study(optuna, out, description, seed)

    def objective(trial: Any) -> float:
        changes = {name: _suggest(trial, name, dim) for name, dim in space.items()}
        own = {f.name for f in dataclasses.fields(base_params)}
        scores: list[float] = []
        try:
            params = base_params.replace(**{k: v for k, v in changes.items() if k in own})
            train = base_train.replace(**{k: v for k, v in changes.items() if k not in own})
            for offset in range(seeds_per_trial):
                run_train = train.replace(seed=seed + offset)
                seed_everything(run_train.seed)
                model = build_model(factory_name, params, task.data, classes)
                summary = fit(model, task, run_train, None, progress=False).summary
                if summary["interrupted"]:
                    trial.set_user_attr("reason", INTERRUPTED)
                    raise KeyboardInterrupt
                if summary["diverged"]:
                    raise TrialFailed(f"diverged: {summary['divergence']}")
                if summary["best_val_acc"] is None:
                    raise TrialFailed("no validation accuracy: no epoch finished")
                scores.append(summary["best_val_acc"])
        except Exception as error:
            trial.set_user_attr("reason", str(error) if isinstance(error, TrialFailed)
                                else f"{type(error).__name__}: {error}")
            raise
        trial.set_user_attr("val_accs", scores)
        return sum(scores) / len(scores)

    remaining = trials - _finished(study)
    interrupted = False
    with progress_bar(progress) as bar:
        bar_task = bar.add_task("tune", total=trials, completed=trials - max(remaining, 0), status="")

        def advance(study: Any, frozen: Any) -> None:
            _write_results(study, out, description, chosen.params_class, base_params, base_train, data_root)
            best = _best(study)
            bar.update(bar_task, advance=1, status=f"best val acc {best.value:.3f}" if best else "")

        if remaining > 0:
            try:
                with _quiet(optuna):
                    study.optimize(objective, n_trials=remaining, catch=(Exception,), callbacks=[advance])
            except KeyboardInterrupt:
                interrupted = True
    result = _write_results(study, out, description, chosen.params_class, base_params, base_train, data_root)
    result.interrupted = interrupted
    return result


def _study(optuna: Any, out: Path, description: dict[str, Any], seed: int) -> Any:
    """The study stored in ``out/study.db``, created or resumed; resuming one of another
    configuration is an error."""
    storage = f"sqlite:///{(out / 'study.db').resolve()}"
    with _quiet(optuna):
        study = optuna.create_study(study_name=STUDY_NAME, storage=storage, direction="maximize",
                                    load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=seed))
    recorded = study.user_attrs.get("description")
    canonical = json.loads(json.dumps(description, default=str))
    if recorded is None:
        study.set_user_attr("description", canonical)
    elif recorded != canonical:
        differ = sorted(k for k in set(recorded) | set(canonical) if recorded.get(k) != canonical.get(k))
        raise ConfigError(f"{out} holds a tuning of another configuration (differs in {', '.join(differ)}); "
                          "choose another output directory or repeat that tuning's settings")
    # a resumed sampler must not replay the random start-up draws of the first session
    study.sampler = optuna.samplers.TPESampler(seed=seed + _finished(study))
    return study


@contextmanager
def _quiet(optuna: Any) -> Iterator[None]:
    """Optuna's per-trial log lines off (the progress bar and trials.csv say it), then restored."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def _finished(study: Any) -> int:
    """Trials that count toward the total: completed or failed, but not stopped by Ctrl-C."""
    return sum(1 for t in study.trials if t.state.is_finished() and t.user_attrs.get("reason") != INTERRUPTED)


def _best(study: Any) -> Any:
    done = [t for t in study.trials if t.value is not None and t.state.name == "COMPLETE"]
    return max(done, key=lambda t: (t.value, -t.number)) if done else None


def _write_results(study: Any, out: Path, description: dict[str, Any], params_class: type, base_params: Config,
                   base_train: TrainConfig, data_root: str | Path | None) -> TuneResult:
    """``trials.csv`` (one row per trial) and, once a trial completed, ``best.json``."""
    keys = list(description["space"])
    rows = [{"trial": t.number, "state": t.state.name.lower(), "val_acc": t.value,
             **{k: t.params.get(k) for k in keys}, "seconds": t.duration.total_seconds() if t.duration else None,
             "reason": t.user_attrs.get("reason", "")} for t in study.trials]
    write_csv(out / "trials.csv", rows, ["trial", "state", "val_acc", *keys, "seconds", "reason"])
    best = _best(study)
    if best is None:
        return TuneResult(None, None, None, rows, out)
    own = {f.name for f in dataclasses.fields(params_class)}
    params = base_params.replace(**{k: v for k, v in best.params.items() if k in own}).to_dict()
    train = base_train.replace(**{k: v for k, v in best.params.items() if k not in own}).to_dict()
    states = [row["state"] for row in rows]
    write_json(out / "best.json", {
        "params": params, "train": train, "best_val_acc": best.value, "best_trial": best.number,
        "val_accs": best.user_attrs.get("val_accs"), **description,
        "data_root": str(data_root) if data_root is not None else None,
        "trials": {state: states.count(state) for state in sorted(set(states))},
        "selection": ("validation accuracy of a run at its epoch of least validation loss"
                      if train["selection"] == "val_loss" else "best validation accuracy of a run")
                     + "; the test labels were hidden from every trial",
        "env": environment(description["seed"], str(resolve_device(train["device"]))),
    })
    return TuneResult(params, train, best.value, rows, out)


def chosen_config(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model parameters, training settings)`` of the best trial recorded in ``best.json``
    (``path``: the file or the tuning's output directory)."""
    path = Path(path)
    path = path / "best.json" if path.is_dir() else path
    try:
        content = json.loads(path.read_text())
        return dict(content["params"]), dict(content["train"])
    except (OSError, ValueError, KeyError) as error:
        raise FileNotFoundError(f"{path} is not a tuning's best.json ({error}); a tuning writes it once a trial "
                                "completes") from error

import dataclasses
import math

import pytest

from fathom.config import ConfigError, ModelConfig, TrainConfig


def test_model_config_round_trips_through_a_dict():
    config = ModelConfig(depth=8, aggregation="sum", residual="plain", beta=0.5)
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_unknown_fields_are_named():
    with pytest.raises(ConfigError, match="unknown ModelConfig field.*depht"):
        ModelConfig.from_dict({"depht": 3})


@pytest.mark.parametrize("residual, beta, depth, expected", [
    ("none", None, 16, 0.0),
    ("plain", None, 16, 1.0),
    ("fixup", None, 16, 0.25),
    ("fixup", 0.1, 16, 0.1),
    ("plain", 0.3, 4, 0.3),
])
def test_branch_scale(residual, beta, depth, expected):
    assert math.isclose(ModelConfig(depth=depth, residual=residual, beta=beta).branch_scale, expected)


@pytest.mark.parametrize("field, value, message", [
    ("epochs", 0, "epochs must lie in"),
    ("lr", 0.0, "lr must lie in"),
    ("lr", float("nan"), r"lr is not a number \(got nan\); it must lie in \(0.0, inf\)"),
    ("weight_decay", -1.0, "weight_decay must lie in"),
    ("seed", 1.5, "seed must be an integer"),
    ("device", "tpu", "device must be one of auto, cpu, cuda"),
    ("batch_size", 0, "batch_size must lie in"),
    ("batch_size", 2.5, "batch_size must be an integer"),
])
def test_train_config_rejects_bad_values(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value})


FLOAT_FIELDS = [(cls, f.name) for cls in (ModelConfig, TrainConfig) for f in dataclasses.fields(cls)
                if f.type in ("float", "float | None")]


@pytest.mark.parametrize("cls, name", FLOAT_FIELDS, ids=[name for _, name in FLOAT_FIELDS])
def test_nan_and_infinities_are_named_as_such(cls, name):
    """NaN fails every comparison, so a range message ("must lie in [0, 1]", or the CLI's "should be
    <= 1") blamed the bound; the message must say what the value is."""
    with pytest.raises(ConfigError, match=rf"^{name} is not a number \(got nan\); it must lie in "):
        cls(**{name: math.nan})
    for value in (math.inf, -math.inf):
        with pytest.raises(ConfigError, match=rf"^{name} is infinite \(got {value}\); it must lie in "):
            cls(**{name: value})


def test_replace_revalidates():
    with pytest.raises(ConfigError, match="depth"):
        ModelConfig().replace(depth=0)


def test_parse_overrides_types_values_by_field():
    from fathom.config import parse_overrides

    assert parse_overrides("init=glorot, residual-aggregation=0.5,depth=16,beta=none") == {
        "init": "glorot", "residual_aggregation": 0.5, "depth": 16, "beta": None}
    with pytest.raises(ConfigError, match="depth must be int"):
        parse_overrides("depth=x")
    with pytest.raises(ConfigError, match="unknown ModelConfig field 'inti'"):
        parse_overrides("inti=glorot")
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides("glorot")


def test_park_options_defaults_round_trip_and_overrides():
    """The weight bound is Frobenius unless spectral is asked for (the authors' bound); the other
    options default to today's model (pre-activation relu, linear encoder/head, FathomConv)."""
    from fathom.config import parse_overrides

    default = ModelConfig()
    assert (default.norm_bound, default.activation, default.negative_slope, default.activation_position,
            default.io, default.conv, default.heads) == ("frobenius", "relu", 0.8, "pre", "linear", "fathom", 1)
    config = ModelConfig(norm="weight", norm_bound="spectral", activation="leaky_relu", negative_slope=0.5,
                         activation_position="post", io="park", conv="gat", heads=4)
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert parse_overrides("negative-slope=0.2,heads=3,conv=gat,activation-position=post") == {
        "negative_slope": 0.2, "heads": 3, "conv": "gat", "activation_position": "post"}


INT_FIELDS = [(cls, f.name) for cls in (ModelConfig, TrainConfig) for f in dataclasses.fields(cls)
              if f.type in ("int", "int | None")]


@pytest.mark.parametrize("cls, name", INT_FIELDS, ids=[name for _, name in INT_FIELDS])
def test_a_negative_count_is_refused_naming_its_own_field(cls, name):
    with pytest.raises(ConfigError, match=rf"^{name} must lie in \[\d+, (inf\)|\d+\]); got -1$"):
        cls(**{name: -1})


def test_dropout_of_one_is_refused_and_just_below_is_kept():
    with pytest.raises(ConfigError, match="^dropout must be below 1"):
        ModelConfig(dropout=1.0)
    assert ModelConfig(dropout=0.99).dropout == 0.99

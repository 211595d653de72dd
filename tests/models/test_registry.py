"""Model factories: built by name, parameters validated, unknown names named."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from fathom.config import ConfigError, ModelConfig
from fathom.data import load_dataset
from fathom.models import MODELS, build_model, factory, register_model
from fathom.nn import DeepGNN


def test_deepgnn_factory_builds_the_principled_model_for_the_graph():
    data = load_dataset("karate")
    model = build_model("deepgnn", ModelConfig(depth=3, width=8, aggregation="sum"), data, 4)
    assert isinstance(model, DeepGNN) and model.perron_root == pytest.approx(DeepGNN.for_graph(
        ModelConfig(depth=3, width=8, aggregation="sum"), data, 4).perron_root)
    assert model(data.x, data.edge_index).shape == (34, 4)


def test_parameters_may_be_a_dict_and_unknown_ones_are_named():
    data = load_dataset("karate")
    gcn = build_model("gcn", {"depth": 3, "width": 8}, data, 4)
    assert gcn.num_layers == 3 and gcn(data.x, data.edge_index).shape == (34, 4)
    with pytest.raises(ConfigError, match="unknown GCNParams field 'widht' \\(did you mean 'width'\\?\\)"):
        build_model("gcn", {"widht": 8}, data, 4)
    with pytest.raises(ConfigError, match="takes GCNParams, not ModelConfig"):
        build_model("gcn", ModelConfig(), data, 4)


def test_unknown_factory_suggests_the_closest_name():
    with pytest.raises(ConfigError, match="did you mean 'deepgnn'"):
        factory("deepgnn_")


def test_a_registered_factory_is_buildable_by_name():
    @dataclasses.dataclass(frozen=True)
    class Params:
        width: int = 3

    @register_model("linear-test", Params, "a linear layer, for this test")
    def build(params, data, out_channels):
        return nn.Linear(data.num_features, out_channels)

    try:
        model = build_model("linear-test", Params(), load_dataset("karate"), 2)
        assert isinstance(model, nn.Linear) and model.out_features == 2
        with pytest.raises(ValueError, match="already registered"):
            register_model("linear-test", Params, "again")(build)
    finally:
        del MODELS["linear-test"]

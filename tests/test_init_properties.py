"""Properties of the initialisers on random inputs: ``gnn_he_`` gives finite weights or a ValueError
naming the argument (its variance is checked by Monte Carlo in tests/test_init.py); ``principled_`` on random small graphs gives finite weights
or Fathom's own error, and always succeeds on simple undirected graphs."""

from __future__ import annotations

import math

import pytest
import torch
from graph_strategies import all_finite, edge_indices, is_own_error
from hypothesis import given
from hypothesis import strategies as st
from torch_geometric.nn.models import GCN, GIN, GraphSAGE
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected
from types import SimpleNamespace

from fathom.init import gnn_he_, principled_


@given(st.integers(1, 8), st.integers(0, 8), st.floats(), st.floats())
def test_gnn_he_gives_finite_weights_or_names_the_argument(fan_out, fan_in, perron_root, gain):
    weight = torch.full((fan_out, fan_in), math.nan)
    try:
        gnn_he_(weight, perron_root, gain)
    except ValueError as error:
        assert is_own_error(error), error
        valid = 0 < perron_root < math.inf and 0 < gain < math.inf
        assert not valid or "overflows torch.float32" in str(error)  # a Perron root near 0 or a huge gain
        return
    assert all_finite(weight)


MODELS = {"gcn": GCN, "sage": GraphSAGE, "gin": GIN}


@st.composite
def models_on_graphs(draw, simple: bool):
    n = draw(st.integers(1, 12))
    edge_index = draw(edge_indices(n))
    if simple:
        edge_index = coalesce(to_undirected(remove_self_loops(edge_index)[0], num_nodes=n), num_nodes=n)
    graph = SimpleNamespace(edge_index=edge_index, num_nodes=n)
    model = MODELS[draw(st.sampled_from(sorted(MODELS)))](draw(st.integers(1, 4)), draw(st.integers(1, 6)),
                                                          draw(st.integers(1, 3)), out_channels=2)
    return model, graph


@given(models_on_graphs(simple=False))
def test_principled_gives_finite_weights_or_fathom_s_own_error(example):
    model, graph = example
    try:
        principled_(model, graph)
    except (ValueError, TypeError) as error:
        assert is_own_error(error), error
        return
    assert all_finite(*model.parameters())


@given(models_on_graphs(simple=True))
def test_principled_initialises_any_simple_undirected_graph(example):
    model, graph = example
    if isinstance(model, GraphSAGE) and graph.edge_index.numel() == 0:
        with pytest.raises(ValueError, match="the graph has no edges"):
            principled_(model, graph)  # its neighbour mean is undefined
        return
    principled_(model, graph)
    assert all_finite(*model.parameters())

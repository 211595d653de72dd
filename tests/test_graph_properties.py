"""Properties of the aggregation operator on random small graphs (self-loops, duplicate, one-way
edges, isolated nodes): it equals the dense reference, propagates finite features to finite
ones, has a finite positive Perron root, and bad input is Fathom's own error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from graph_strategies import edge_indices, is_own_error
from hypothesis import given
from hypothesis import strategies as st

from fathom.graph import AGGREGATIONS, COMPONENT_SCALINGS, AggregationOperator

kinds = st.sampled_from(AGGREGATIONS)
residuals = st.floats(0.0, 1.0)


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 12))
    return n, draw(edge_indices(n))


@given(graphs(), kinds, residuals, st.sampled_from(COMPONENT_SCALINGS))
def test_the_operator_is_the_dense_reference_and_propagates_finite_features(dense_operator, graph, kind, a, scaling):
    n, edge_index = graph
    operator = AggregationOperator(edge_index, n, kind, a, dtype=torch.float64, component_scaling=scaling)
    root = operator.perron_root()
    assert math.isfinite(root) and root > 0
    if scaling == "none":
        np.testing.assert_allclose(operator.to_dense().numpy(), dense_operator(edge_index, n, kind, a), atol=1e-12)
        reference = np.abs(np.linalg.eigvals(dense_operator(edge_index, n, kind, a))).max()
        assert root == pytest.approx(reference, rel=1e-5)
    x = torch.randn(n, 3, dtype=torch.float64)
    assert bool(torch.isfinite(operator.propagate(x)).all())


bad_edges = st.sampled_from([
    torch.tensor([[0], [12]]), torch.tensor([[-1], [0]]), torch.tensor([[0.0], [1.0]]), torch.zeros(3, 1).long(),
    torch.tensor([[0, 1]]), [[0], [1]],
])


@given(st.one_of(
    st.tuples(bad_edges, st.just(0.0), st.sampled_from(AGGREGATIONS)),
    st.tuples(st.just(torch.tensor([[0], [1]])), st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1 + 1e-9),
                                                             st.just(math.nan)), st.sampled_from(AGGREGATIONS)),
    st.tuples(st.just(torch.tensor([[0], [1]])), st.just(0.0), st.text(max_size=5).filter(lambda k: k not in AGGREGATIONS)),
))
def test_bad_edges_residuals_or_kinds_are_fathom_s_own_error(example):
    edge_index, a, kind = example
    with pytest.raises((ValueError, TypeError)) as raised:
        AggregationOperator(edge_index, 12, kind, a)
    assert is_own_error(raised.value), raised.value

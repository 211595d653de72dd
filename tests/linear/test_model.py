"""LinearizedGNN against the closed form W B_H ... B_1 X S^H written out in dense numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fathom.graph import AggregationOperator, SparseFeatures
from fathom.linear import LinearizedGNN, propagated_features
from torch_geometric.data import Data


@pytest.fixture
def graph(make_er):
    rng = np.random.default_rng(0)
    n = 11
    x = torch.from_numpy(rng.normal(size=(n, 6)) * (rng.random((n, 6)) < 0.4))  # mostly zero, like bag-of-words
    mask = torch.zeros(n, dtype=torch.bool)
    mask[[0, 2, 3, 7, 9]] = True
    return Data(x=x, edge_index=make_er(n, 0.3, seed=1), train_mask=mask, num_nodes=n)


def weights(model: LinearizedGNN) -> tuple[list[np.ndarray], np.ndarray]:
    return [layer.weight.detach().numpy() for layer in model.layers], model.readout.weight.detach().numpy()


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_linear_output_is_the_closed_form_product(graph, dense_operator, depth):
    """Columns-as-nodes: f = W B_H ... B_1 X S^H; PyG returns its transpose (nodes as rows)."""
    model = LinearizedGNN(6, 5, 3, depth).double()
    operator = AggregationOperator.from_data(graph, "gcn", dtype=torch.float64)
    s = dense_operator(graph.edge_index, graph.num_nodes, "gcn")
    layers, readout = weights(model)
    product = readout
    for b in reversed(layers):
        product = product @ b
    expected = product @ graph.x.numpy().T @ np.linalg.matrix_power(s, depth)  # m_y x n, paper layout
    np.testing.assert_allclose(model(graph.x, operator).detach().numpy(), expected.T, rtol=1e-10, atol=1e-12)


def test_skip_output_sums_every_depth(graph, dense_operator):
    """f = sum_l W_l B_l ... B_1 X S^l, the JumpingKnowledge-cat readout split into column blocks."""
    depth, width, m_x = 3, 4, 6
    model = LinearizedGNN(m_x, width, 2, depth, skip=True).double()
    operator = AggregationOperator.from_data(graph, "gcn", dtype=torch.float64)
    s = dense_operator(graph.edge_index, graph.num_nodes, "gcn")
    layers, readout = weights(model)
    blocks = np.split(readout, np.cumsum([m_x] + [width] * (depth - 1)), axis=1)
    expected, chain = 0.0, np.eye(m_x)
    for l in range(depth + 1):
        if l:
            chain = layers[l - 1] @ chain
        expected = expected + blocks[l] @ chain @ graph.x.numpy().T @ np.linalg.matrix_power(s, l)
    np.testing.assert_allclose(model(graph.x, operator).detach().numpy(), expected.T, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("depth", [1, 3, 5])
def test_training_output_from_propagated_features_equals_the_graph_forward(graph, depth, skip):
    model = LinearizedGNN(6, 7, 3, depth, skip=skip).double()
    operator = AggregationOperator.from_data(graph, "gcn", dtype=torch.float64)
    index = graph.train_mask.nonzero().squeeze(1)
    full = model(graph.x, operator)[index]
    fast = model.output_from_propagated(propagated_features(graph, depth))
    torch.testing.assert_close(fast, full, rtol=1e-10, atol=1e-12)
    # gradients agree too: the same loss, computed two ways
    grads_fast = torch.autograd.grad(fast.pow(2).sum(), list(model.parameters()))
    grads_full = torch.autograd.grad(model(graph.x, operator)[index].pow(2).sum(), list(model.parameters()))
    for a, b in zip(grads_fast, grads_full):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("skip", [False, True])
def test_relu_model_and_sparse_features(graph, dense_operator, skip):
    model = LinearizedGNN(6, 4, 3, 2, skip=skip, activation="relu").double()
    operator = AggregationOperator.from_data(graph, "gcn", dtype=torch.float64)
    s = dense_operator(graph.edge_index, graph.num_nodes, "gcn")
    layers, readout = weights(model)
    z, levels = graph.x.numpy(), [graph.x.numpy()]
    for b in layers:  # Z_l = relu(S Z_(l-1) B_l^T)
        z = np.maximum(s @ z @ b.T, 0.0)
        levels.append(z)
    expected = np.hstack(levels if skip else levels[-1:]) @ readout.T
    dense = model(graph.x, operator)
    np.testing.assert_allclose(dense.detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(model(SparseFeatures(graph.x), operator), dense, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="linear model only"):
        model.output_from_propagated(propagated_features(graph, 2))


def test_glorot_init_is_seeded_and_bias_free():
    torch.manual_seed(3)
    a = LinearizedGNN(20, 8, 2, 3, skip=True)
    torch.manual_seed(3)
    b = LinearizedGNN(20, 8, 2, 3, skip=True)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert all(layer.bias is None for layer in a.layers) and a.readout.bias is None
    bound = (6 / (20 + 8)) ** 0.5
    assert float(a.layers[0].weight.detach().abs().max()) <= bound
    assert a.readout.weight.shape == (2, 20 + 3 * 8)


@pytest.mark.parametrize("bad", [{"depth": 0}, {"hidden_channels": 0}, {"activation": "tanh"}])
def test_bad_arguments_name_the_field(bad):
    arguments = {"in_channels": 3, "hidden_channels": 4, "out_channels": 2, "depth": 2, **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        LinearizedGNN(**arguments)

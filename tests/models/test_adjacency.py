"""The cached GCN operator: the sparse path computes what the edge_index path computes, once per graph."""

from __future__ import annotations

import pytest
import torch

from fathom.data import load_dataset
from fathom.models import build_model
from fathom.models.adjacency import GCNAdjacency

GRAPHS = {"karate": lambda: load_dataset("karate"),
          "csbm": lambda: load_dataset("csbm", num_nodes=120, num_features=8, num_classes=3)}
SMALL = {"gcn": {"depth": 3, "width": 8, "dropout": 0.0},
         "gcnii": {"depth": 4, "width": 8, "dropout": 0.0},
         "appnp": {"width": 8, "dropout": 0.0},
         "jknet": {"depth": 3, "width": 8, "dropout": 0.0},
         "deepgcn": {"depth": 3, "width": 8, "dropout": 0.0},
         "gcn_pairnorm": {"depth": 3, "width": 8, "dropout": 0.0}}


def test_sparse_operator_is_the_dense_gcn_operator():
    data = load_dataset("karate")
    n = data.num_nodes
    adj = torch.zeros(n, n)
    adj[data.edge_index[1], data.edge_index[0]] = 1.0
    adj += torch.eye(n)
    d = adj.sum(1).rsqrt()
    expected = d[:, None] * adj * d[None, :]
    adj_t, weight = GCNAdjacency(sparse=True)(data.edge_index, n)
    assert weight is None and adj_t.layout == torch.sparse_csr
    torch.testing.assert_close(adj_t.to_dense(), expected)


def test_a_directed_graphs_operator_has_each_edge_in_its_targets_row():
    """Edges 0 -> 1 and 0 -> 2: degrees with the self-loop, counted at the target, are 1, 2, 2, and
    row i holds node i's incoming messages, 1/sqrt(deg_i deg_j) for j -> i."""
    adj_t, _ = GCNAdjacency(sparse=True)(torch.tensor([[0, 0], [1, 2]]), 3)
    half = 2 ** -0.5
    expected = torch.tensor([[1.0, 0.0, 0.0], [half, 0.5, 0.0], [half, 0.0, 0.5]])
    torch.testing.assert_close(adj_t.to_dense(), expected)


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("name", SMALL)
def test_sparse_and_edge_index_paths_agree_in_output_and_gradients(name, graph):
    data = GRAPHS[graph]()
    torch.manual_seed(0)
    model = build_model(name, SMALL[name], data, 3)
    results = []
    for sparse in (True, False):
        model.adjacency = GCNAdjacency(sparse=sparse)
        model.zero_grad()
        out = model(data.x, data.edge_index)
        out.square().sum().backward()
        results.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    (out_s, grads_s), (out_e, grads_e) = results
    torch.testing.assert_close(out_s, out_e, atol=1e-5, rtol=1e-5)
    for g_s, g_e in zip(grads_s, grads_e):
        torch.testing.assert_close(g_s, g_e, atol=1e-5, rtol=1e-4)


def test_gcn_on_the_cached_operator_equals_pygs_own_normalising_gcn():
    from torch_geometric.nn.models import GCN

    data = load_dataset("karate")
    model = build_model("gcn", {"depth": 3, "width": 8}, data, 4).eval()
    reference = GCN(data.num_features, 8, 3, 4).eval()  # normalize=True: GCNConv's own gcn_norm per call
    reference.load_state_dict(model.state_dict())
    torch.testing.assert_close(model(data.x, data.edge_index), reference(data.x, data.edge_index))


def test_the_operator_is_computed_once_per_graph_and_again_for_another():
    first, second = load_dataset("karate"), load_dataset("csbm", num_nodes=50)
    adjacency = GCNAdjacency()
    a = adjacency(first.edge_index, first.num_nodes)
    assert adjacency(first.edge_index, first.num_nodes) is a  # cached
    b = adjacency(second.edge_index, second.num_nodes)
    assert b is not a and b[0].shape == (50, 50)
    same_values = first.edge_index.clone()  # equal data, another tensor: recomputed, not trusted
    assert adjacency(same_values, first.num_nodes) is not a
    edited = adjacency(same_values, first.num_nodes)
    same_values[:, :2] = same_values[:, :2].flip(0)  # an in-place edit bumps the version: recomputed
    assert adjacency(same_values, first.num_nodes) is not edited


def test_a_copied_or_pickled_model_recomputes_its_operator():
    import copy
    import io

    data = load_dataset("karate")
    model = build_model("gcnii", {"depth": 2, "width": 4}, data, 2).eval()
    expected = model(data.x, data.edge_index)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    for clone in (copy.deepcopy(model), torch.load(buffer, weights_only=False)):
        assert clone.adjacency._value is None and clone.adjacency.sparse
        torch.testing.assert_close(clone(data.x, data.edge_index), expected)

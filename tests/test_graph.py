"""AggregationOperator and OperatorCache against an independent dense numpy reference."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from fathom.graph import AggregationOperator, OperatorCache

KINDS = ("gcn", "mean", "sum")
RESIDUALS = (0.0, 0.3, 1.0)


def _messy_random_graph(make_er, directed: bool, seed: int = 0):
    """An ER graph on nodes 0..23 of a 28-node graph (24..27 isolated), plus input self-loops and
    duplicated edges that the operator must drop / count once."""
    edge_index = make_er(24, 0.15, seed=seed, directed=directed)
    extra = torch.tensor([[3, 7, 7], [3, 7, 7]])  # self-loops, one of them twice
    edge_index = torch.cat([edge_index, edge_index[:, :6], extra], dim=1)
    return edge_index, 28


def _max_abs_eigenvalue(matrix: np.ndarray) -> float:
    return float(np.abs(np.linalg.eigvals(matrix)).max())


# --- the dense reference itself ---------------------------------------------------------------


def test_dense_reference_matches_hand_written_tiny_graph(tiny_graph, dense_operator):
    """The numpy reference used everywhere below agrees with matrices written out by hand."""
    adj_loops = tiny_graph.adjacency + np.eye(5)
    degree = np.array([3.0, 3.0, 4.0, 2.0, 1.0])
    np.testing.assert_allclose(dense_operator(tiny_graph.edge_index, 5, "sum"), adj_loops)
    np.testing.assert_allclose(dense_operator(tiny_graph.edge_index, 5, "mean"), adj_loops / degree[:, None])
    np.testing.assert_allclose(
        dense_operator(tiny_graph.edge_index, 5, "gcn"), adj_loops / np.sqrt(np.outer(degree, degree))
    )


# --- propagate ------------------------------------------------------------------------------


@pytest.mark.parametrize("directed", [False, True], ids=["undirected", "directed"])
@pytest.mark.parametrize("a", RESIDUALS)
@pytest.mark.parametrize("kind", KINDS)
def test_propagate_matches_dense_reference(make_er, dense_operator, kind, a, directed):
    edge_index, n = _messy_random_graph(make_er, directed)
    reference = dense_operator(edge_index, n, kind, a)
    x = torch.randn(n, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    op64 = AggregationOperator(edge_index, n, kind, a, dtype=torch.float64)
    np.testing.assert_allclose(op64.propagate(x).numpy(), reference @ x.numpy(), rtol=1e-12, atol=1e-12)

    op32 = AggregationOperator(edge_index, n, kind, a)  # default float32
    out32 = op32.propagate(x.float())
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), reference @ x.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_propagate_vector_input(make_er, dense_operator, kind):
    edge_index = make_er(15, 0.3, seed=2, directed=True)
    op = AggregationOperator(edge_index, 15, kind, 0.3, dtype=torch.float64)
    x = torch.randn(15, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = op.propagate(x)
    assert out.shape == (15,)
    np.testing.assert_allclose(out.numpy(), dense_operator(edge_index, 15, kind, 0.3) @ x.numpy(), rtol=1e-12)
    torch.testing.assert_close(op(x), out)  # __call__ is propagate


@pytest.mark.parametrize("directed", [False, True], ids=["undirected", "directed"])
@pytest.mark.parametrize("a", [0.0, 0.3])
@pytest.mark.parametrize("kind", KINDS)
def test_propagate_gradient_matches_dense_autograd(make_er, dense_operator, kind, a, directed):
    """backward = A_a^T grad: compared with torch autograd through the dense reference."""
    edge_index, n = _messy_random_graph(make_er, directed, seed=3)
    dense = torch.from_numpy(dense_operator(edge_index, n, kind, a))
    if directed:
        assert not torch.allclose(dense, dense.T)  # the transpose must matter
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(n, 3, dtype=torch.float64, generator=gen)
    upstream = torch.randn(n, 3, dtype=torch.float64, generator=gen)
    op = AggregationOperator(edge_index, n, kind, a, dtype=torch.float64)

    x_sparse = x.clone().requires_grad_()
    (op.propagate(x_sparse) * upstream).sum().backward()
    x_dense = x.clone().requires_grad_()
    ((dense @ x_dense) * upstream).sum().backward()

    torch.testing.assert_close(x_sparse.grad, x_dense.grad, rtol=1e-12, atol=1e-12)


def test_propagate_gradient_through_noncontiguous_upstream(make_er, dense_operator):
    edge_index = make_er(12, 0.3, seed=5, directed=True)
    dense = torch.from_numpy(dense_operator(edge_index, 12, "mean", 0.0))
    op = AggregationOperator(edge_index, 12, "mean", dtype=torch.float64)
    x = torch.randn(12, 4, dtype=torch.float64, requires_grad=True)
    y = op.propagate(x)
    y.t()[1:3].sum().backward()  # upstream gradient is a strided view
    expected = dense.T @ torch.zeros(12, 4, dtype=torch.float64).index_fill_(1, torch.tensor([1, 2]), 1.0)
    torch.testing.assert_close(x.grad, expected)


def test_propagate_rejects_mismatched_features(tiny_graph):
    op = AggregationOperator(tiny_graph.edge_index, 5)
    with pytest.raises(ValueError, match="features have 4 rows .* 5 nodes"):
        op.propagate(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"torch.float64 .* operator is torch.float32 .*operator.to"):
        op.propagate(torch.zeros(5, 2, dtype=torch.float64))


# --- structure: isolated nodes, self-loops, duplicates ------------------------------------------


@pytest.mark.parametrize("a", RESIDUALS)
@pytest.mark.parametrize("kind", KINDS)
def test_tiny_graph_entries_by_hand(tiny_graph, kind, a):
    op = AggregationOperator(tiny_graph.edge_index, 5, kind, a, dtype=torch.float64)
    dense = op.to_dense().numpy()
    # isolated node 4: its row and column are the self-loop alone, weight 1 for every kind and a
    np.testing.assert_allclose(dense[4], [0, 0, 0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(dense[:, 4], [0, 0, 0, 0, 1], atol=1e-15)
    # node 3 has the input self-loop 3 -> 3 and one neighbour: one loop only, degree 2
    # edge 1 -> 0 appears twice in the input but counts once: node 0 has degree 3
    expected = {
        "sum": {(3, 3): 1.0, (0, 1): 1.0, (2, 3): 1.0},
        "mean": {(3, 3): 1 / 2, (0, 1): 1 / 3, (2, 3): 1 / 4},
        "gcn": {(3, 3): 1 / 2, (0, 1): 1 / 3, (2, 3): 1 / np.sqrt(8)},
    }[kind]
    for (i, j), value in expected.items():
        assert dense[i, j] == pytest.approx((1 - a) * value + a * (i == j), rel=1e-12)
    # stored entries: 8 distinct non-loop edges + 5 diagonal entries
    assert op.num_entries == 8 + 5


def test_num_nodes_inferred_from_edges(tiny_graph, dense_operator):
    op = AggregationOperator(tiny_graph.edge_index[:, :8], kind="sum", dtype=torch.float64)
    assert op.num_nodes == 4  # max id 3: node 4 is invisible without num_nodes
    np.testing.assert_allclose(op.to_dense().numpy(), dense_operator(tiny_graph.edge_index[:, :8], 4, "sum"))


def test_graph_without_edges_is_identity():
    op = AggregationOperator(torch.empty(2, 0, dtype=torch.long), 3, "gcn", 0.3, dtype=torch.float64)
    torch.testing.assert_close(op.to_dense(), torch.eye(3, dtype=torch.float64))
    assert op.perron_root() == pytest.approx(1.0, rel=1e-12)


def test_symmetry_flag(make_er):
    undirected = make_er(20, 0.2, seed=6)
    directed = make_er(20, 0.2, seed=6, directed=True)
    assert AggregationOperator(undirected, 20, "gcn").is_symmetric
    assert AggregationOperator(undirected, 20, "sum").is_symmetric
    assert not AggregationOperator(undirected, 20, "mean").is_symmetric  # ER graph is not regular
    assert not AggregationOperator(directed, 20, "sum").is_symmetric


# --- Perron root --------------------------------------------------------------------------------


def _perron_graphs(make_er):
    """name -> (edge_index, num_nodes)."""
    er_undirected = make_er(40, 0.12, seed=7)
    # two components of different density, so the sum operator's components have different roots
    dense_part = make_er(12, 0.6, seed=8)
    sparse_part = make_er(20, 0.15, seed=9) + 12
    return {
        "er-undirected": (er_undirected, 40),
        "er-directed": (make_er(40, 0.12, seed=10, directed=True), 40),
        "disconnected": (torch.cat([dense_part, sparse_part], dim=1), 32),
        "isolated-nodes": (er_undirected, 46),  # nodes 40..45 have no edges
    }


@pytest.mark.parametrize("a", RESIDUALS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("graph", ["er-undirected", "er-directed", "disconnected", "isolated-nodes"])
def test_perron_root_matches_numpy(make_er, dense_operator, graph, kind, a):
    edge_index, n = _perron_graphs(make_er)[graph]
    expected = _max_abs_eigenvalue(dense_operator(edge_index, n, kind, a))
    op = AggregationOperator(edge_index, n, kind, a)
    assert op.perron_root() == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("graph", ["er-undirected", "disconnected"])
def test_perron_root_residual_formula(make_er, dense_operator, graph, kind):
    """lambda_1(A_a) = (1 - a) lambda_1(A) + a, both in numpy and in the operator."""
    edge_index, n = _perron_graphs(make_er)[graph]
    base = _max_abs_eigenvalue(dense_operator(edge_index, n, kind, 0.0))
    op = AggregationOperator(edge_index, n, kind, 0.0)
    for a in (0.25, 0.5, 0.9):
        numpy_root = _max_abs_eigenvalue(dense_operator(edge_index, n, kind, a))
        assert numpy_root == pytest.approx((1 - a) * base + a, rel=1e-10)
        assert op.with_residual(a).perron_root() == pytest.approx((1 - a) * op.perron_root() + a, rel=1e-12)
        assert AggregationOperator(edge_index, n, kind, a).perron_root() == pytest.approx(numpy_root, rel=1e-4)


@pytest.mark.parametrize("kind", ["gcn", "mean"])
def test_perron_root_is_one_for_normalised_operators(make_er, kind):
    op = AggregationOperator(make_er(50, 0.1, seed=11), 53, kind)
    assert op.perron_root() == pytest.approx(1.0, rel=1e-6)


def test_perron_root_closed_forms():
    """sum on K_4 (+2 isolated nodes) is the all-ones block: lambda_1 = 4; on a cycle: 3."""
    k4 = torch.tensor([(i, j) for i in range(4) for j in range(4) if i != j]).T
    op = AggregationOperator(k4, 6, "sum", 0.3)
    assert op.perron_root() == pytest.approx(0.7 * 4 + 0.3, rel=1e-6)
    ring = torch.arange(10)
    cycle = torch.cat([torch.stack([ring, (ring + 1) % 10]), torch.stack([(ring + 1) % 10, ring])], dim=1)
    assert AggregationOperator(cycle, 10, "sum").perron_root() == pytest.approx(3.0, rel=1e-6)


def test_perron_root_of_directed_path_sum():
    path = torch.stack([torch.arange(4), torch.arange(1, 5)])
    assert AggregationOperator(path, 5, "sum").perron_root() == pytest.approx(1.0, rel=1e-4)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("edge_index, num_nodes, kwargs, error, match", [
    (torch.tensor([[0.0, 1.0], [1.0, 0.0]]), 2, {}, TypeError, "integer node ids.*float32"),
    (torch.tensor([[True, False], [False, True]]), 2, {}, TypeError, "integer node ids.*bool"),
    (torch.tensor([[0, 1], [1, 0], [0, 0]]), 2, {}, ValueError, r"shape \[2, num_edges\], got \[3, 2\]"),
    (torch.tensor([0, 1]), 2, {}, ValueError, r"shape \[2, num_edges\], got \[2\]"),
    (torch.tensor([[0, -1], [1, 0]]), 2, {}, ValueError, r"negative node id \(-1\)"),
    (torch.tensor([[0, 5], [1, 0]]), 5, {}, ValueError, r"refers to node 5 .* only 5 nodes .*\[0, 4\]"),
    (torch.tensor([[0, 1], [1, 0]]), 0, {}, ValueError, r"at least one node \(num_nodes=0\)"),
    (torch.empty(2, 0, dtype=torch.long), None, {}, ValueError, "num_nodes must be given"),
    ([[0, 1], [1, 0]], 2, {}, TypeError, "edge_index must be a torch.Tensor, got list"),
    (torch.tensor([[0, 1], [1, 0]]), 2, {"kind": "max"}, ValueError,
     "aggregation must be one of gcn, mean, sum; got 'max'"),
    (torch.tensor([[0, 1], [1, 0]]), 2, {"residual": -0.1}, ValueError, r"must lie in \[0, 1\]; got -0.1"),
    (torch.tensor([[0, 1], [1, 0]]), 2, {"residual": 1.5}, ValueError, r"must lie in \[0, 1\]; got 1.5"),
    (torch.tensor([[0, 1], [1, 0]]), 2, {"residual": float("nan")}, ValueError, r"must lie in \[0, 1\]"),
], ids=["float", "bool", "3-rows", "1-d", "negative", "too-large", "no-nodes", "no-edges-no-n", "list",
        "bad-kind", "a<0", "a>1", "a-nan"])
def test_invalid_inputs_raise_naming_the_problem(edge_index, num_nodes, kwargs, error, match):
    with pytest.raises(error, match=match):
        AggregationOperator(edge_index, num_nodes, **kwargs)


def test_list_edge_index_without_num_nodes_raises_type_error():
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        AggregationOperator([[0, 1], [1, 0]])


def test_with_residual_rejects_out_of_range(tiny_graph):
    op = AggregationOperator(tiny_graph.edge_index, 5)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]; got 1.5"):
        op.with_residual(1.5)


# --- copies: with_residual, to, weighted_edges, from_data ---------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_with_residual_is_a_new_operator(make_er, dense_operator, kind):
    edge_index = make_er(20, 0.2, seed=12, directed=True)
    op = AggregationOperator(edge_index, 20, kind, 0.0, dtype=torch.float64)
    mixed = op.with_residual(0.3)
    assert mixed is not op and mixed.residual == 0.3 and op.residual == 0.0
    np.testing.assert_allclose(mixed.to_dense().numpy(), dense_operator(edge_index, 20, kind, 0.3), rtol=1e-12)
    np.testing.assert_allclose(op.to_dense().numpy(), dense_operator(edge_index, 20, kind, 0.0), rtol=1e-12)
    x = torch.randn(20, 2, dtype=torch.float64, requires_grad=True)
    mixed.propagate(x).sum().backward()  # the new transpose is consistent too
    np.testing.assert_allclose(x.grad.numpy(), dense_operator(edge_index, 20, kind, 0.3).T @ np.ones((20, 2)),
                               rtol=1e-12)


def test_to_float64(make_er, dense_operator):
    edge_index = make_er(20, 0.2, seed=13)
    op = AggregationOperator(edge_index, 20, "gcn", 0.3)
    op64 = op.to(dtype=torch.float64)
    assert op64 is not op
    assert op64.dtype == torch.float64 and op64.matrix.dtype == torch.float64
    assert op.dtype == torch.float32 and op.matrix.dtype == torch.float32  # original untouched
    assert op64.kind == "gcn" and op64.residual == 0.3 and op64.matrix.device == op.matrix.device
    x = torch.randn(20, 3, dtype=torch.float64)
    np.testing.assert_allclose(op64.propagate(x).numpy(), dense_operator(edge_index, 20, "gcn", 0.3) @ x.numpy(),
                               rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="operator.to"):
        op64.propagate(x.float())


@pytest.mark.parametrize("a", [0.0, 0.3])
@pytest.mark.parametrize("kind", KINDS)
def test_weighted_edges_rebuild_dense_matrix(make_er, dense_operator, kind, a):
    edge_index, n = _messy_random_graph(make_er, directed=True, seed=14)
    op = AggregationOperator(edge_index, n, kind, a, dtype=torch.float64)
    edges, weights = op.weighted_edges()
    assert edges.shape == (2, op.num_entries) and weights.shape == (op.num_entries,)
    rebuilt = np.zeros((n, n))
    for (source, target), w in zip(edges.T.tolist(), weights.tolist()):
        assert rebuilt[target, source] == 0.0  # every entry once
        rebuilt[target, source] = w  # row 0 source, row 1 target (PyG layout)
    reference = dense_operator(edge_index, n, kind, a)
    np.testing.assert_allclose(rebuilt, reference, rtol=1e-12, atol=1e-15)
    assert op.num_entries == np.count_nonzero(reference)


def test_from_data(make_er, dense_operator):
    edge_index = make_er(15, 0.2, seed=15)
    op = AggregationOperator.from_data(Data(edge_index=edge_index, num_nodes=18), "mean", 0.3,
                                       dtype=torch.float64)
    assert op.num_nodes == 18
    np.testing.assert_allclose(op.to_dense().numpy(), dense_operator(edge_index, 18, "mean", 0.3), rtol=1e-12)


def test_repr_names_the_operator(tiny_graph):
    text = repr(AggregationOperator(tiny_graph.edge_index, 5, "mean", 0.3))
    assert "kind='mean'" in text and "residual=0.3" in text and "num_nodes=5" in text and "nnz=13" in text


# --- OperatorCache ----------------------------------------------------------------------------


def test_operator_cache_reuses_and_rebuilds(make_er, dense_operator):
    cache = OperatorCache("sum", 0.3)
    edge_index = make_er(20, 0.2, seed=16)
    x = torch.randn(20, 2)
    first = cache.get(edge_index, x)
    assert cache.get(edge_index, x) is first  # same edge_index object: reused
    assert (first.kind, first.residual, first.num_nodes) == ("sum", 0.3, 20)

    same_values = edge_index.clone()
    rebuilt = cache.get(same_values, x)  # a new object, even with equal contents: rebuilt
    assert rebuilt is not first
    assert cache.get(same_values, x) is rebuilt

    other = make_er(20, 0.2, seed=17)
    other_op = cache.get(other, x)
    np.testing.assert_allclose(other_op.to_dense().numpy(), dense_operator(other, 20, "sum", 0.3), rtol=1e-6)

    bigger = cache.get(other, torch.randn(25, 2))  # same edges, more nodes: rebuilt
    assert bigger is not other_op and bigger.num_nodes == 25

    as_double = cache.get(other, torch.randn(25, 2, dtype=torch.float64))  # converted, not stale
    assert as_double.dtype == torch.float64
    assert cache.get(other, torch.randn(25, 2, dtype=torch.float64)) is as_double

    cache.clear()
    assert cache.get(other, torch.randn(25, 2, dtype=torch.float64)) is not as_double


@pytest.mark.parametrize("kind", ["gcn", "mean", "sum"])
def test_perron_root_of_a_reducible_digraph_is_its_largest_component_root(kind, dense_operator):
    """Two directed cycles (3 and 5 nodes, extra chords in the larger) joined by a one-way edge."""
    small = [(0, 1), (1, 2), (2, 0)]
    large = [(3, 4), (4, 5), (5, 6), (6, 7), (7, 3), (3, 5), (4, 6)]
    edges = torch.tensor(small + large + [(2, 3)]).t()
    expected = max(abs(np.linalg.eigvals(dense_operator(edges, 8, kind))))
    operator = AggregationOperator(edges, 8, kind)
    assert not operator.is_symmetric
    assert operator.perron_root() == pytest.approx(expected, rel=1e-6)
    vector = operator.perron_vector()
    assert (vector >= 0).all()
    assert torch.allclose(operator.to(dtype=torch.float64).propagate(vector), expected * vector, atol=1e-6)
    if kind == "mean":  # row-stochastic: A 1 = 1
        assert torch.allclose(vector, torch.full((8,), 8 ** -0.5, dtype=torch.float64))


def test_perron_vector_of_a_defective_root_is_refused():
    """Directed path, sum: A = I + N is one Jordan block; power iteration converges only as 1/k."""
    path = torch.stack([torch.arange(4), torch.arange(1, 5)])
    with pytest.raises(ValueError, match="no dominant eigenvector found"):
        AggregationOperator(path, 5, "sum").perron_vector(max_iter=2000)


def test_sparse_features_linear_matches_dense_with_gradients():
    from fathom.graph import SparseFeatures, density

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(30, 50, generator=generator, dtype=torch.float64) * (torch.rand(30, 50, generator=generator) < 0.1)
    assert 0.0 < density(x) < 0.2
    weight = torch.randn(8, 50, generator=generator, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(8, generator=generator, dtype=torch.float64)
    features = SparseFeatures(x)
    assert (features.size(0), features.dtype) == (30, torch.float64) and torch.equal(features.to_dense(), x)
    probe = torch.randn(30, 8, generator=generator, dtype=torch.float64)
    (features.linear(weight, bias) * probe).sum().backward()
    sparse_grad = weight.grad.clone()
    weight.grad = None
    ((x @ weight.t() + bias) * probe).sum().backward()
    assert torch.allclose(features.linear(weight, bias), x @ weight.t() + bias)
    assert torch.allclose(sparse_grad, weight.grad)


# --- component scaling (disconnected graphs) ------------------------------------------------------


def disconnected_graph(make_er, directed=False):
    """A 60-node Erdos-Renyi graph (connected) plus paths of 2, 3 and 5 nodes and an isolated node."""
    parts, n = [make_er(60, 0.1, seed=3, directed=directed)], 60
    for size in (2, 3, 5):
        ids = torch.arange(n, n + size)
        parts.append(torch.stack([torch.cat([ids[:-1], ids[1:]]), torch.cat([ids[1:], ids[:-1]])]))
        n += size
    return torch.cat(parts, dim=1), n + 1


def weak_components(dense: np.ndarray) -> list[list[int]]:
    """Connected components of the pattern of ``dense`` (either direction), by depth-first search."""
    linked, seen, components = (dense != 0) | (dense.T != 0), set(), []
    for start in range(len(dense)):
        if start in seen:
            continue
        stack, members = [start], []
        seen.add(start)
        while stack:
            node = stack.pop()
            members.append(node)
            for other in np.nonzero(linked[node])[0].tolist():
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
        components.append(sorted(members))
    return components


@pytest.mark.parametrize("dense_limit", [0, 4, 512])  # all by power iteration, mixed, or all dense
@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("a", [0.0, 0.3])
def test_component_scaling_gives_every_block_the_graphs_perron_root(make_er, dense_operator, directed, a,
                                                                   dense_limit, monkeypatch):
    monkeypatch.setattr("fathom.graph.DENSE_COMPONENT_LIMIT", dense_limit)
    edge_index, n = disconnected_graph(make_er, directed)
    reference = dense_operator(edge_index, n, "sum", a)
    root = float(np.abs(np.linalg.eigvals(reference)).max())
    operator = AggregationOperator(edge_index, n, "sum", a, dtype=torch.float64, component_scaling="perron")
    scaled = operator.to_dense().numpy()
    components = weak_components(reference)
    assert len(components) == 5
    for members in components:
        block = np.ix_(members, members)
        block_root = float(np.abs(np.linalg.eigvals(reference[block])).max())
        np.testing.assert_allclose(scaled[block], reference[block] * root / block_root, rtol=1e-7)
        assert float(np.abs(np.linalg.eigvals(scaled[block])).max()) == pytest.approx(root, rel=1e-7)
    giant = np.ix_(components[0], components[0])
    assert np.array_equal(scaled[giant], reference[giant].astype(np.float64))  # the dominant block is untouched
    assert operator.perron_root() == pytest.approx(root, rel=1e-7)
    assert np.count_nonzero(scaled) == np.count_nonzero(reference)  # nothing links the components


@pytest.mark.parametrize("dense_limit", [0, 4, 512])
@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("a", [0.0, 0.3])
def test_unit_scaling_gives_every_block_perron_root_one(make_er, dense_operator, directed, a, dense_limit,
                                                       monkeypatch):
    monkeypatch.setattr("fathom.graph.DENSE_COMPONENT_LIMIT", dense_limit)
    edge_index, n = disconnected_graph(make_er, directed)
    reference = dense_operator(edge_index, n, "sum", a)
    operator = AggregationOperator(edge_index, n, "sum", a, dtype=torch.float64, component_scaling="unit")
    scaled = operator.to_dense().numpy()
    for members in weak_components(reference):
        block = np.ix_(members, members)
        block_root = float(np.abs(np.linalg.eigvals(reference[block])).max())
        np.testing.assert_allclose(scaled[block], reference[block] / block_root, rtol=1e-7)
    assert float(np.abs(np.linalg.eigvals(scaled)).max()) == pytest.approx(1.0, rel=1e-7)
    assert operator.perron_root() == 1.0


@pytest.mark.parametrize("directed", [False, True])
def test_component_roots_of_a_batch_of_graphs_of_many_sizes_match_each_blocks_dense_root(make_er, dense_operator,
                                                                                          directed):
    # several components share each size class of the batched eigensolve (sizes 5-7, 9-13, 33-40), so
    # blocks are padded to their class's largest
    parts, n = [], 0
    for seed, size in enumerate((5, 6, 7, 9, 12, 13, 30, 33, 40, 2)):
        parts.append(make_er(size, 0.5, seed=seed, directed=directed) + n)
        n += size
    edge_index = torch.cat(parts, dim=1)
    reference = dense_operator(edge_index, n, "sum", 0.0)
    labels, roots = AggregationOperator(edge_index, n, "sum", dtype=torch.float64).component_roots()
    components = weak_components(reference)
    assert len(components) >= 10
    for members in components:
        block = np.ix_(members, members)
        expected = float(np.abs(np.linalg.eigvals(reference[block])).max())
        assert float(roots[labels[members[0]]]) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("kind", ["gcn", "mean"])
def test_component_scaling_changes_nothing_where_every_component_has_root_one(make_er, kind):
    edge_index, n = disconnected_graph(make_er)
    plain = AggregationOperator(edge_index, n, kind, 0.3, dtype=torch.float64)
    scaled = AggregationOperator(edge_index, n, kind, 0.3, dtype=torch.float64, component_scaling="perron")
    assert torch.equal(plain.to_dense(), scaled.to_dense())


def test_component_scaling_leaves_a_connected_graph_as_it_is(make_er):
    edge_index = make_er(60, 0.1, seed=3)
    plain = AggregationOperator(edge_index, 60, "sum", 0.3, dtype=torch.float64)
    scaled = AggregationOperator(edge_index, 60, "sum", 0.3, dtype=torch.float64, component_scaling="perron")
    assert torch.equal(plain.to_dense(), scaled.to_dense())
    with pytest.raises(ValueError, match="component_scaling must be one of none, perron, unit; got 'giant'"):
        AggregationOperator(edge_index, 60, "sum", component_scaling="giant")


def test_a_deepgnn_used_on_a_graph_can_be_copied_and_pickled():
    import copy
    import io

    from fathom.config import ModelConfig
    from fathom.data import load_dataset
    from fathom.nn import DeepGNN

    data = load_dataset("karate")
    model = DeepGNN(ModelConfig(depth=2, width=8, initial_residual=0.1), data.num_features, 4).eval()
    expected = model(data.x, data.edge_index)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    for clone in (copy.deepcopy(model), torch.load(buffer, weights_only=False)):
        torch.testing.assert_close(clone(data.x, data.edge_index), expected)


def test_sparse_feature_dropout_keeps_its_transpose_consistent_and_its_gradient_exact():
    from fathom.graph import SparseFeatures

    torch.manual_seed(0)
    x = (torch.rand(50, 30) < 0.1).float() * torch.rand(50, 30)
    dropped = SparseFeatures(x).dropout(0.5)
    dense = dropped.matrix.to_dense()
    assert torch.equal(dropped.matrix_t.to_dense(), dense.t())
    kept = dense != 0
    assert torch.allclose(dense[kept], 2 * x[kept]) and 0 < int(kept.sum()) < int((x != 0).sum())
    weight = torch.randn(8, 30, requires_grad=True)
    dropped.linear(weight).square().sum().backward()
    reference = weight.detach().clone().requires_grad_()
    (dense @ reference.t()).square().sum().backward()
    assert torch.allclose(weight.grad, reference.grad, atol=1e-5)


def test_unit_scaling_is_exact_and_quick_on_a_block_whose_leading_eigenvalues_nearly_tie(monkeypatch):
    """Two 60-cliques (one short of an edge) joined by a path: the block's two leading eigenvalues
    differ by ~0.02 in 60, where a power iteration needs ~1e5 steps; a symmetric block is solved
    exactly instead, without the power iteration's non-convergence warning."""
    monkeypatch.setattr("fathom.graph.DENSE_COMPONENT_LIMIT", 4)
    size = 60
    clique = torch.combinations(torch.arange(size)).T
    second = clique[:, 1:] + size  # one edge fewer
    path = torch.tensor([[size - 1, 2 * size], [2 * size, 2 * size + 1], [2 * size + 1, size]]).T
    edges = torch.cat([clique, second, path], dim=1)
    edge_index = torch.cat([edges, edges.flip(0)], dim=1)
    n = 2 * size + 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        operator = AggregationOperator(edge_index, n, "sum", 0.0, dtype=torch.float64, component_scaling="unit")
        scaled = operator.to_dense().numpy()
    reference = AggregationOperator(edge_index, n, "sum", 0.0, dtype=torch.float64).to_dense().numpy()
    root = float(np.linalg.eigvalsh(reference).max())
    np.testing.assert_allclose(scaled, reference / root, rtol=1e-9)


@pytest.mark.parametrize("kind,dense", [("sum", [[1.0, 0.0], [1.0, 1.0]]), ("mean", [[1.0, 0.0], [0.5, 0.5]])])
def test_spectral_norm_of_a_directed_operator_is_its_largest_singular_value_not_its_perron_root(kind, dense):
    """One edge 0 -> 1 with self-loops: lambda_1 = 1, but ||A||_2 = (1 + sqrt 5)/2 (sum) or 1.144 (mean)."""
    operator = AggregationOperator(torch.tensor([[0], [1]]), 2, kind)
    assert operator.perron_root() == pytest.approx(1.0)
    assert operator.spectral_norm() == pytest.approx(np.linalg.norm(np.array(dense), 2), rel=1e-6)

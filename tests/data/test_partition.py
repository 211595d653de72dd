import importlib.util
import sys

import pytest
import torch
from torch_geometric.data import Data

from fathom.data import csbm, partition, partition_nodes


@pytest.fixture(scope="module")
def graph():
    return csbm(num_nodes=400, num_classes=4, p_in=0.05, p_out=0.005, num_features=8, seed=0)


METHODS = ["random", pytest.param("metis", marks=pytest.mark.skipif(
    importlib.util.find_spec("pymetis") is None, reason="pymetis is not installed"))]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("num_parts", [1, 3, 8])
def test_parts_cover_every_node_exactly_once(graph, method, num_parts):
    parts = partition(graph, num_parts, method, seed=1)
    assert len(parts) == num_parts and all(part.num_nodes > 0 for part in parts)
    ids = torch.cat([part.node_ids for part in parts])
    assert torch.equal(ids.sort().values, torch.arange(graph.num_nodes))


@pytest.mark.parametrize("method", METHODS)
def test_a_part_is_its_induced_subgraph_with_its_nodes_fields(graph, method):
    edges = {tuple(edge) for edge in graph.edge_index.t().tolist()}
    for part in partition(graph, 4, method):
        ids = part.node_ids
        for name in ("x", "y", "train_mask", "val_mask", "test_mask"):
            assert torch.equal(part[name], graph[name][ids])
        inside = {(a, b) for a, b in edges if a in set(ids.tolist()) and b in set(ids.tolist())}
        assert {(int(ids[a]), int(ids[b])) for a, b in part.edge_index.t().tolist()} == inside


def test_one_part_is_the_graph_itself(graph):
    (part,) = partition(graph, 1, "random")
    assert torch.equal(part.edge_index, graph.edge_index) and torch.equal(part.x, graph.x)


def test_random_parts_are_balanced_and_seeded(graph):
    parts = partition_nodes(graph, 7, "random", seed=3)
    counts = torch.bincount(parts)
    assert counts.max() - counts.min() <= 1
    assert torch.equal(parts, partition_nodes(graph, 7, "random", seed=3))
    assert not torch.equal(parts, partition_nodes(graph, 7, "random", seed=4))


def test_metis_cuts_fewer_edges_than_random(graph):
    pytest.importorskip("pymetis")

    def kept(method):
        return sum(part.num_edges for part in partition(graph, 4, method))

    assert kept("metis") > 2 * kept("random")


def test_metis_fills_every_part_on_a_graph_of_isolated_nodes():
    pytest.importorskip("pymetis")
    empty = Data(x=torch.zeros(10, 1), edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=10)
    assert torch.bincount(partition_nodes(empty, 5, "metis"), minlength=5).min() >= 1


@pytest.mark.parametrize("num_parts", [0, -2, 401, 2.0, True])
def test_a_bad_number_of_parts_names_the_field(graph, num_parts):
    with pytest.raises(ValueError, match="partitions"):
        partition_nodes(graph, num_parts, "random")


def test_an_unknown_method_names_the_choices(graph):
    with pytest.raises(ValueError, match="metis, random"):
        partition_nodes(graph, 2, "spectral")


def test_metis_without_pymetis_names_both_fixes(graph, monkeypatch):
    monkeypatch.setitem(sys.modules, "pymetis", None)  # import pymetis raises ImportError
    with pytest.raises(ImportError, match=r"pip install pymetis.*partition_method=random"):
        partition_nodes(graph, 2, "metis")

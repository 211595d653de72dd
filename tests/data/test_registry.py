import pytest
import torch

from fathom.data import DATASETS, SPLIT_KINDS, UnknownDatasetError, get_spec, load_dataset, num_classes


def test_names_are_lowercase_keys_and_every_spec_can_load():
    assert list(DATASETS) == ["csbm", "karate", "cora", "citeseer", "pubmed", "photo", "computers", "cs", "physics",
                              "chameleon", "squirrel", "actor", "cornell", "texas", "wisconsin", "mutag", "proteins",
                              "imdb-binary", "nci1"]
    for name, spec in DATASETS.items():
        assert spec.name == name == name.lower()
        assert (spec.loader is None) != (spec.builtin is None), name  # exactly one way to load
        assert spec.task in ("node", "graph") and spec.split_kind in SPLIT_KINDS
        assert spec.num_splits == (10 if spec.split_kind == "geom-gcn" else spec.num_splits)
        if spec.file_backed:
            assert spec.family and spec.pyg_class, name


def test_protocol_choices_are_recorded():
    assert [n for n, s in DATASETS.items() if s.normalize_features] == [
        "cora", "citeseer", "pubmed", "chameleon", "squirrel", "actor", "cornell", "texas", "wisconsin"]
    assert [n for n, s in DATASETS.items() if s.approximate] == ["pubmed"]
    assert {n: s.split_kind for n, s in DATASETS.items() if s.split_kind == "random"} == {
        "photo": "random", "computers": "random", "cs": "random", "physics": "random"}


def test_unknown_names_suggest_the_nearest_and_list_all():
    with pytest.raises(UnknownDatasetError, match=r"did you mean chameleon\? .*csbm, karate, cora"):
        get_spec("chamelon")
    with pytest.raises(ValueError, match="registered datasets are csbm"):
        load_dataset("ogbn-arxiv")
    assert get_spec("Cora") is DATASETS["cora"]


NODE_SETS = [name for name, spec in DATASETS.items() if spec.task == "node" and spec.file_backed]
GRAPH_SETS = [name for name, spec in DATASETS.items() if spec.task == "graph"]


@pytest.mark.parametrize("name", NODE_SETS)
def test_node_dataset_loads_with_its_documented_sizes(name, shared_data_root):
    """Each dataset is loaded once here (the largest, Physics, takes a few seconds once processed)."""
    spec = get_spec(name)
    data = load_dataset(name, shared_data_root, normalize="protocol")
    sizes = spec.sizes
    assert (data.num_nodes, data.num_edges, data.num_features, num_classes(data)) == (
        sizes.nodes, sizes.edges, sizes.features, sizes.classes)
    assert data.name == name and data.approximate is (name == "pubmed")
    for mask in (data.train_mask, data.val_mask, data.test_mask):
        assert mask.dtype == torch.bool and mask.shape == (sizes.nodes,)
    assert not bool((data.train_mask & data.test_mask).any())
    assert data.split == {"public": "public", "geom-gcn": "geom-gcn:0", "random": "random:seed=0"}[spec.split_kind]
    sums = data.x.sum(dim=1)
    if spec.normalize_features:  # row-normalised: every non-empty row sums to 1
        assert torch.allclose(sums[sums > 0], torch.ones(1), atol=1e-4)
    else:  # raw bag-of-words counts
        assert sums.max() > 1


@pytest.mark.parametrize("name", GRAPH_SETS)
def test_graph_dataset_loads_with_its_documented_sizes(name, shared_data_root):
    sizes = get_spec(name).sizes
    dataset = load_dataset(name, shared_data_root)
    assert (len(dataset), dataset.num_features, dataset.num_classes) == (sizes.graphs, sizes.features, sizes.classes)
    assert (sum(graph.num_nodes for graph in dataset), dataset._data.edge_index.size(1)) == (sizes.nodes, sizes.edges)


@pytest.mark.parametrize("name", ["csbm", "karate"])
def test_builtin_graphs_match_their_documented_sizes(name):
    data = load_dataset(name)
    sizes = get_spec(name).sizes
    assert (data.num_nodes, data.num_edges, data.num_features, num_classes(data)) == (
        sizes.nodes, sizes.edges, sizes.features, sizes.classes)
    assert data.split == "builtin" and data.approximate is False

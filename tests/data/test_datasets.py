import pytest
import torch
from torch_geometric.data import Data

from fathom.data import DatasetNotFoundError, load_dataset, locate, validate_node_data
from fathom.data import datasets as datasets_module


def test_karate_has_all_three_masks():
    data = load_dataset("karate")
    assert data.num_nodes == 34 and int(data.train_mask.sum()) == 4
    assert not bool((data.train_mask & data.test_mask).any())


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(ValueError, match="dataset must be one of csbm, karate, cora"):
        load_dataset("ogbn-arxiv")


def test_csbm_options_are_refused_for_other_datasets():
    with pytest.raises(ValueError, match="CSBM options"):
        load_dataset("karate", num_nodes=10)


def test_locate_accepts_a_family_folder_or_a_root_of_families(tmp_path):
    (tmp_path / "planetoid" / "Cora" / "raw").mkdir(parents=True)
    (tmp_path / "planetoid" / "Cora" / "raw" / "ind.cora.x").write_bytes(b"")
    assert locate("cora", tmp_path) == tmp_path / "planetoid"
    assert locate("cora", tmp_path / "planetoid") == tmp_path / "planetoid"
    assert locate("citeseer", tmp_path) is None
    assert locate("csbm", tmp_path) is None


def test_absent_dataset_offline_names_the_folders_it_searched(tmp_path, offline_downloads):
    with pytest.raises(DatasetNotFoundError, match=r"CiteSeer is not under .*planetoid/CiteSeer/raw.*FATHOM_DATA"):
        load_dataset("citeseer", tmp_path)


def test_validation_names_bad_graphs():
    good = load_dataset("csbm", num_nodes=50)
    validate_node_data(good)
    nan = good.clone()
    nan.x[3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf values \\(1 nodes"):
        validate_node_data(nan)
    empty_mask = good.clone()
    empty_mask.train_mask = torch.zeros_like(good.train_mask)
    with pytest.raises(ValueError, match="training mask selects no nodes"):
        validate_node_data(empty_mask)
    with pytest.raises(ValueError, match="no nodes"):
        validate_node_data(Data(x=torch.zeros(0, 3), edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=0))


def test_cora_public_split(shared_data_root):
    data = load_dataset("cora", shared_data_root)
    assert (data.num_nodes, data.num_features, int(data.y.max()) + 1) == (2708, 1433, 7)
    assert [int(m.sum()) for m in (data.train_mask, data.val_mask, data.test_mask)] == [140, 500, 1000]


def test_read_only_roots_are_mirrored_into_the_cache(shared_data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("FATHOM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets_module.os, "access", lambda path, mode: False)
    data = load_dataset("citeseer", shared_data_root)
    assert data.num_nodes == 3327
    assert list((tmp_path / "cache" / "mirror").glob("*/CiteSeer/processed"))


def test_random_split_replaces_the_fixed_one():
    data = load_dataset("karate", random_split=(0.5, 0.25, 0.25), seed=3)
    assert [int(m.sum()) for m in (data.train_mask, data.val_mask, data.test_mask)] == [17, 8, 9]
    again = load_dataset("karate", random_split=(0.5, 0.25, 0.25), seed=3)
    assert torch.equal(data.train_mask, again.train_mask)
    assert not torch.equal(data.train_mask, load_dataset("karate", random_split=(0.5, 0.25, 0.25), seed=4).train_mask)

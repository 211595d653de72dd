import numpy as np
import pytest
import torch

from fathom.data import SplitError, load_dataset, random_split_masks

GEOM_GCN_RAW = {  # dataset -> (raw folder under the shared root, file prefix of its ten split files)
    "chameleon": ("wikipedia_network/chameleon/geom_gcn/raw", "chameleon"),
    "squirrel": ("wikipedia_network/squirrel/geom_gcn/raw", "squirrel"),
    "actor": ("actor/raw", "film"),
    "cornell": ("webkb/cornell/raw", "cornell"),
    "texas": ("webkb/texas/raw", "texas"),
    "wisconsin": ("webkb/wisconsin/raw", "wisconsin"),
}


@pytest.mark.parametrize("name", GEOM_GCN_RAW)
def test_geom_gcn_split_k_is_the_kth_raw_split_file(name, shared_data_root, load_shared):
    folder, prefix = GEOM_GCN_RAW[name]
    # every K of the small graphs; three of the larger ones (each K is one more load)
    for k in (0, 5, 9) if name in ("squirrel", "actor") else range(10):
        raw = np.load(shared_data_root / folder / f"{prefix}_split_0.6_0.2_{k}.npz")
        data = load_shared(name, split=k)
        assert data.split == f"geom-gcn:{k}"
        for mask in ("train_mask", "val_mask", "test_mask"):
            assert np.array_equal(getattr(data, mask).numpy(), raw[mask].astype(bool)), (name, k, mask)


def test_the_standard_geom_gcn_split_is_split_0(load_shared):
    standard, zero = load_shared("cornell"), load_shared("cornell", split=0)
    assert standard.split == "geom-gcn:0" and torch.equal(standard.train_mask, zero.train_mask)
    assert torch.equal(load_shared("cornell", split="3").test_mask, load_shared("cornell", split=3).test_mask)


def test_cora_public_split_has_140_500_1000_nodes(load_shared):
    data = load_shared("cora")
    assert data.split == "public"
    assert [int(m.sum()) for m in (data.train_mask, data.val_mask, data.test_mask)] == [140, 500, 1000]


def _check_partition(masks, n):
    total = torch.stack(masks).sum(dim=0)
    assert bool((total == 1).all()), "every node in exactly one of train/val/test"
    assert [int(m.sum()) for m in masks] == [round(0.6 * n), round(0.2 * n), n - round(0.6 * n) - round(0.2 * n)]


@pytest.mark.parametrize("n", [34, 1000, 2711])
def test_random_split_masks_are_disjoint_cover_every_node_and_are_seeded(n):
    y = torch.zeros(n, dtype=torch.long)
    first = random_split_masks(y, (0.6, 0.2, 0.2), seed=0)
    _check_partition(first, n)
    assert all(torch.equal(a, b) for a, b in zip(first, random_split_masks(y, (0.6, 0.2, 0.2), seed=0)))
    assert not torch.equal(first[0], random_split_masks(y, (0.6, 0.2, 0.2), seed=1)[0])


@pytest.mark.parametrize("name", ["cora", "chameleon", "cornell"])
def test_split_random_works_for_any_node_dataset(name, load_shared):
    data, again, other = (load_shared(name, split="random", seed=s) for s in (5, 5, 6))
    _check_partition((data.train_mask, data.val_mask, data.test_mask), data.num_nodes)
    assert data.split == "random:seed=5" and torch.equal(data.train_mask, again.train_mask)
    assert not torch.equal(data.train_mask, other.train_mask)


def test_amazon_and_coauthor_standard_split_is_random_60_20_20_seeded(load_shared):
    photo, same, other = load_shared("photo", seed=1), load_shared("photo", seed=1), load_shared("photo", seed=2)
    _check_partition((photo.train_mask, photo.val_mask, photo.test_mask), photo.num_nodes)
    assert photo.split == "random:seed=1" and torch.equal(photo.val_mask, same.val_mask)
    assert not torch.equal(photo.val_mask, other.val_mask)


def test_random_split_fractions_replace_the_fixed_split():
    data = load_dataset("karate", random_split=(0.5, 0.25, 0.25), seed=3)
    assert [int(m.sum()) for m in (data.train_mask, data.val_mask, data.test_mask)] == [17, 8, 9]
    assert data.split == "random:0.5/0.25/0.25:seed=3"
    again = load_dataset("karate", random_split=(0.5, 0.25, 0.25), seed=3)
    assert torch.equal(data.train_mask, again.train_mask)
    assert not torch.equal(data.train_mask, load_dataset("karate", random_split=(0.5, 0.25, 0.25), seed=4).train_mask)


def test_split_10_of_a_10_split_dataset_names_the_range(load_shared):
    with pytest.raises(SplitError, match=r"chameleon has 10 geom-gcn splits, numbered 0 to 9; got 10"):
        load_shared("chameleon", split=10)
    with pytest.raises(SplitError, match="numbered 0 to 9; got -1"):
        load_shared("cornell", split=-1)


def test_impossible_split_requests_name_the_dataset_and_the_fix(load_shared):
    with pytest.raises(SplitError, match=r"cora has no numbered splits \(its standard split is public\).*'random'"):
        load_shared("cora", split=3)
    with pytest.raises(SplitError, match="must be the standard one"):
        load_dataset("karate", split="public-ish")
    with pytest.raises(SplitError, match="cannot be combined"):
        load_shared("cornell", split=2, random_split=(0.5, 0.25, 0.25))
    with pytest.raises(SplitError, match="mutag is a graph-classification dataset.*without a split"):
        load_shared("mutag", split="random")
    with pytest.raises(ValueError):  # a SplitError is a ValueError for callers that catch those
        load_dataset("karate", split=0)


def test_random_split_sizes_follow_each_fraction_and_may_leave_nodes_out():
    """Unequal validation and test fractions that sum to under 1: 50 / 10 / 30 of 100, 10 in none."""
    train, val, test = random_split_masks(torch.zeros(100, dtype=torch.long), (0.5, 0.1, 0.3), seed=0)
    assert [int(m.sum()) for m in (train, val, test)] == [50, 10, 30]
    assert not (train & val).any() and not (train & test).any() and not (val & test).any()
    assert int((~(train | val | test)).sum()) == 10

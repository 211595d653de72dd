import math

import pytest
import torch

from fathom.data import csbm


def edge_set(data):
    return set(map(tuple, data.edge_index.t().tolist()))


def test_graph_is_undirected_simple_and_seeded():
    data = csbm(num_nodes=300, seed=3)
    edges = edge_set(data)
    assert all((j, i) in edges for i, j in edges)
    assert all(i != j for i, j in edges)
    assert len(edges) == data.num_edges  # no duplicates
    again = csbm(num_nodes=300, seed=3)
    assert torch.equal(data.edge_index, again.edge_index) and torch.equal(data.x, again.x)
    assert not torch.equal(data.x, csbm(num_nodes=300, seed=4).x)


def test_classes_are_balanced_and_masks_partition_the_split():
    data = csbm(num_nodes=400, num_classes=4, split=(0.5, 0.25, 0.25))
    assert torch.bincount(data.y).tolist() == [100, 100, 100, 100]
    masks = torch.stack([data.train_mask, data.val_mask, data.test_mask]).long()
    assert masks.sum(dim=1).tolist() == [200, 100, 100]
    assert int(masks.sum(dim=0).max()) == 1


def test_edge_counts_match_the_block_probabilities():
    n, classes, p_in, p_out = 2000, 4, 0.01, 0.001
    data = csbm(num_nodes=n, num_classes=classes, p_in=p_in, p_out=p_out, seed=0)
    src, dst = data.edge_index
    same = data.y[src] == data.y[dst]
    inside, across = int(same.sum()) // 2, int((~same).sum()) // 2
    block = n // classes
    expected_inside = classes * block * (block - 1) / 2 * p_in
    expected_across = (n * (n - 1) / 2 - classes * block * (block - 1) / 2) * p_out
    # Binomial counts: allow 5 standard deviations.
    assert abs(inside - expected_inside) < 5 * math.sqrt(expected_inside)
    assert abs(across - expected_across) < 5 * math.sqrt(expected_across)


def test_class_means_have_the_signal_norm():
    data = csbm(num_nodes=4000, num_classes=2, num_features=16, signal=2.0, seed=1)
    for c in range(2):
        mean = data.x[data.y == c].mean(dim=0)
        # The sample mean of 2000 N(0, I_16) rows adds norm about sqrt(16/2000) = 0.09.
        assert abs(float(mean.norm()) - 2.0) < 0.3


@pytest.mark.parametrize("kwargs, message", [
    ({"num_classes": 1}, "num_classes"),
    ({"num_nodes": 3, "num_classes": 4}, "num_nodes"),
    ({"p_in": 1.5}, "p_in"),
    ({"p_out": -0.1}, "p_out"),
    ({"num_features": 0}, "num_features"),
    ({"split": (0.8, 0.3, 0.1)}, "split fractions"),
])
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        csbm(**kwargs)

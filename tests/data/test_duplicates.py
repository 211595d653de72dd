import torch
from torch_geometric.data import Data

from fathom.data import duplicate_groups, duplicate_nodes


def test_duplicates_need_the_same_features_and_the_same_label():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    y = torch.tensor([0, 1, 0, 2, 1, 0])  # 0 and 2 are twins; 3 has their features, not their label; 1 and 4 twins
    data = Data(x=x, y=y)
    groups = duplicate_groups(data)
    assert groups[0] == groups[2] and groups[1] == groups[4] and groups[0] != groups[1]
    assert groups[3] == -1 and groups[5] == -1
    assert duplicate_nodes(data) == 4


def test_a_graph_without_twins_has_none():
    data = Data(x=torch.eye(5), y=torch.zeros(5, dtype=torch.long))
    assert duplicate_nodes(data) == 0 and bool((duplicate_groups(data) == -1).all())


def test_chameleon_has_duplicate_nodes_that_its_geom_gcn_split_puts_on_both_sides(load_shared):
    data = load_shared("chameleon")
    groups = duplicate_groups(data)
    assert duplicate_nodes(data) == 345
    in_train = set(groups[data.train_mask & (groups >= 0)].tolist())
    assert any(int(group) in in_train for group in groups[data.test_mask & (groups >= 0)])  # a leak

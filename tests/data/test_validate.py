import pytest
import torch
from torch_geometric.data import Data

from fathom.data import InvalidGraphError, load_dataset, num_classes, validate_node_data


@pytest.fixture
def good():
    return load_dataset("csbm", num_nodes=50)


def _broken(data, **fields):
    bad = data.clone()
    for key, value in fields.items():
        setattr(bad, key, value)
    return bad


def test_a_good_graph_passes(good):
    validate_node_data(good)
    validate_node_data(good, num_classes=num_classes(good))


@pytest.mark.parametrize("edit, field, detail", [
    (lambda d: d.edge_index.__setitem__((0, 3), 50), "data.edge_index", "refers to node 50 but the graph has 50"),
    (lambda d: d.edge_index.__setitem__((1, 0), -1), "data.edge_index", "holds a negative node index \\(-1\\)"),
])
def test_out_of_range_and_negative_edge_indices_are_named(good, edit, field, detail):
    edit(good)
    with pytest.raises(InvalidGraphError, match=f"{field} {detail}"):
        validate_node_data(good)


@pytest.mark.parametrize("fields, message", [
    ({"edge_index": "float"}, r"data.edge_index must hold integer node indices; got dtype torch.float32"),
    ({"edge_index": torch.zeros(3, 4, dtype=torch.long)}, r"data.edge_index must have shape \[2, E\]; got \[3, 4\]"),
    ({"x": None}, r"data.x is missing"),
    ({"x": "int"}, r"data.x must be floating point"),
    ({"x": "nan"}, r"data.x contains NaN or inf values \(1 nodes affected\)"),
    ({"x": "inf"}, r"data.x contains NaN or inf values \(1 nodes affected\)"),
    ({"y": None}, r"data.y is missing"),
    ({"y": "float"}, r"data.y must hold integer class labels"),
    ({"y": "negative"}, r"data.y holds a negative class label \(-2\)"),
    ({"y": "short"}, r"data.y must have one label per node \(50, the rows of data.x\); got shape \[49\]"),
    ({"val_mask": None}, r"data.val_mask is missing"),
    ({"test_mask": "int"}, r"data.test_mask must be a boolean mask of length 50; got dtype torch.int64"),
    ({"train_mask": "2d"}, r"data.train_mask must have shape \[50\]; got \[50, 10\]"),
    ({"train_mask": "empty"}, r"data.train_mask selects no nodes"),
])
def test_each_bad_field_is_named(good, fields, message):
    edits = {
        "float": lambda t: t.float(), "int": lambda t: t.long(), "short": lambda t: t[:-1],
        "nan": lambda t: t.index_put((torch.tensor([3]), torch.tensor([0])), torch.tensor(float("nan"))),
        "inf": lambda t: t.index_put((torch.tensor([7]), torch.tensor([1])), torch.tensor(float("-inf"))),
        "negative": lambda t: t.index_put((torch.tensor([5]),), torch.tensor(-2)),
        "2d": lambda t: t[:, None].repeat(1, 10), "empty": lambda t: torch.zeros_like(t),
    }
    bad = _broken(good, **{key: edits[value](getattr(good, key)) if isinstance(value, str) else value
                           for key, value in fields.items()})
    with pytest.raises(InvalidGraphError, match=message):
        validate_node_data(bad)


def test_labels_beyond_the_class_count_are_named(good):
    with pytest.raises(InvalidGraphError, match=r"data.y holds class label 3 but there are 3 classes"):
        validate_node_data(good, num_classes=3)


def test_a_graph_without_nodes_is_refused():
    with pytest.raises(InvalidGraphError, match="no nodes"):
        validate_node_data(Data(x=torch.zeros(0, 3), edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=0))


def test_invalid_graph_error_is_a_value_error():
    assert issubclass(InvalidGraphError, ValueError)


@pytest.mark.parametrize("labels, message", [
    ([0, 1, 2, 99, 0, 1], r"data\.y holds class label 99 but no node has label 3\.\.98: labels must run 0\.\.C-1 "
                          r"with every class present; if the graph has 100 classes, some without nodes, set "
                          r"data\.num_classes = 100"),
    ([0, 2, 2, 5, 0, 0], r"no node has label 1, 3\.\.4"),
    ([3, 3, 3, 3, 3, 3], r"no node has label 0\.\.2"),
])
def test_without_a_declared_count_a_label_above_a_missing_class_is_named(labels, message):
    graph = _unlabelled(len(labels))
    graph.y = torch.tensor(labels)
    with pytest.raises(InvalidGraphError, match=message):
        validate_node_data(graph)


def test_a_declared_count_bounds_the_labels_and_allows_empty_classes():
    graph = _unlabelled(6)
    graph.y = torch.tensor([0, 2, 2, 0, 0, 2])
    graph.num_classes = 3  # class 1 has no node: allowed once declared
    validate_node_data(graph)
    assert num_classes(graph) == 3
    graph.y[1] = 3
    with pytest.raises(InvalidGraphError, match=r"data\.y holds class label 3 but there are 3 classes "
                                                r"\(data\.num_classes: labels must be 0\.\.2\)"):
        validate_node_data(graph)
    assert num_classes(graph) == 3  # what the model is built with: never inflated by a bad label


def test_an_argument_overrides_the_declared_count():
    graph = _unlabelled(4)
    graph.y, graph.num_classes = torch.tensor([0, 1, 2, 3]), 2
    validate_node_data(graph, num_classes=4)


@pytest.mark.parametrize("declared", [0, -1, 2.5, "3", True])
def test_a_declared_count_must_be_a_positive_integer(declared):
    graph = _unlabelled(3)
    graph.y, graph.num_classes = torch.tensor([0, 1, 0]), declared
    with pytest.raises(InvalidGraphError, match=r"data\.num_classes must be a positive integer"):
        validate_node_data(graph)


def _unlabelled(n: int) -> Data:
    mask = torch.ones(n, dtype=torch.bool)
    return Data(x=torch.rand(n, 2), edge_index=torch.zeros(2, 0, dtype=torch.long), train_mask=mask, val_mask=mask,
                test_mask=mask, num_nodes=n)

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
    ({"test_mask": "int"}, r"data.test_mask must be boolean"),
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

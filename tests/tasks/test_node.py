"""Node classification: the loss on the training mask, accuracy per mask, sparse inputs by capability."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from fathom.data import InvalidGraphError
from fathom.graph import SparseFeatures
from fathom.tasks import NodeClassification, accuracy


def _graph() -> Data:
    x = torch.zeros(4, 20)
    x[torch.arange(4), torch.arange(4)] = 1.0  # 5% dense: sparse features for models that take them
    return Data(x=x, edge_index=torch.tensor([[0, 1, 2], [1, 2, 3]]), y=torch.tensor([0, 1, 1, 0]),
                train_mask=torch.tensor([True, True, False, False]), val_mask=torch.tensor([False, False, True, False]),
                test_mask=torch.tensor([False, False, False, True]))


class Fixed(torch.nn.Module):
    """Logits given in advance; records what it was called with."""

    def __init__(self, logits, sparse=False):
        super().__init__()
        self.logits, self.accepts_sparse_features, self.seen = logits, sparse, None

    def forward(self, x, edge_index):
        self.seen = x
        return self.logits


LOGITS = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0], [1.0, 0.0]])


def test_loss_is_cross_entropy_of_the_training_nodes_only():
    loss, metrics = NodeClassification(_graph()).loss(Fixed(LOGITS))
    assert loss.item() == pytest.approx(F.cross_entropy(LOGITS[:2], torch.tensor([0, 1])).item())
    assert metrics == {"train_acc": 1.0}


def test_evaluate_reports_validation_and_test_accuracy_and_the_validation_loss():
    # the one validation node has logits (3, 0) and label 1: -log(e^0 / (e^3 + e^0)) = log(1 + e^3)
    assert NodeClassification(_graph()).evaluate(Fixed(LOGITS)) == {
        "val_acc": 0.0, "test_acc": 1.0, "val_loss": pytest.approx(math.log(1 + math.exp(3)))}


def test_sparse_features_only_for_models_that_accept_them():
    task, plain, capable = NodeClassification(_graph()), Fixed(LOGITS), Fixed(LOGITS, sparse=True)
    task.loss(plain)
    task.loss(capable)
    assert isinstance(plain.seen, torch.Tensor) and isinstance(capable.seen, SparseFeatures)


def test_accuracy_of_no_rows_is_nan():
    assert math.isnan(accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)))
    assert accuracy(LOGITS, torch.tensor([0, 1, 0, 1])) == 0.75


def test_the_graph_is_validated_when_the_task_is_made():
    data = _graph()
    data.x[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        NodeClassification(data)


def test_a_broken_graph_fails_when_the_task_is_made_naming_the_field(broken_graph_case):
    """Before validation a label of 99 among 0..2 made a 100-class task, and the rest failed inside torch."""
    _, graph, message = broken_graph_case
    with pytest.raises(InvalidGraphError, match=message):
        NodeClassification(graph)


def test_a_declared_class_count_sets_the_task_s_classes():
    graph = _graph()
    graph.num_classes = 5  # classes 2..4 have no node in this graph
    assert NodeClassification(graph).num_classes == 5

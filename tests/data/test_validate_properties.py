"""Properties of validation on random small graphs: every fault is named, every valid graph makes a task."""

from __future__ import annotations

import pytest
from graph_strategies import FAULTS, node_graphs
from hypothesis import given, settings
from hypothesis import strategies as st

from fathom.data import InvalidGraphError, num_classes, validate_node_data
from fathom.tasks import NodeClassification

@pytest.mark.parametrize("fault", sorted(FAULTS))  # each fault its own examples (a sampled fault may never come up)
@settings(max_examples=25)
@given(data=st.data())
def test_every_fault_is_an_invalid_graph_error_naming_the_field(fault, data):
    graph = data.draw(node_graphs(fault))
    with pytest.raises(InvalidGraphError, match=FAULTS[fault].replace(".", r"\.")):
        validate_node_data(graph)


@given(node_graphs())
def test_a_valid_graph_passes_and_its_task_has_a_class_for_every_label(graph):
    validate_node_data(graph)
    task = NodeClassification(graph)
    assert task.num_classes == num_classes(graph) > int(graph.y.max())
    assert task.num_classes == getattr(graph, "num_classes", int(graph.y.max()) + 1)

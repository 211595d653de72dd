"""Properties of validation on random small graphs: every fault is named, every valid graph makes a task."""

from __future__ import annotations

import pytest
from graph_strategies import FAULTS, node_graphs
from hypothesis import given
from hypothesis import strategies as st

from fathom.data import InvalidGraphError, num_classes, validate_node_data
from fathom.tasks import NodeClassification

faulty = st.sampled_from(sorted(FAULTS)).flatmap(lambda fault: st.tuples(st.just(fault), node_graphs(fault)))


@given(faulty)
def test_every_fault_is_an_invalid_graph_error_naming_the_field(example):
    fault, graph = example
    with pytest.raises(InvalidGraphError, match=FAULTS[fault].replace(".", r"\.")):
        validate_node_data(graph)


@given(node_graphs())
def test_a_valid_graph_passes_and_its_task_has_a_class_for_every_label(graph):
    validate_node_data(graph)
    task = NodeClassification(graph)
    assert task.num_classes == num_classes(graph) > int(graph.y.max())
    assert task.num_classes == getattr(graph, "num_classes", int(graph.y.max()) + 1)

"""Property of one training step on random small graphs, valid or with one fault: ``fit`` with a
DeepGNN for one epoch ends in a finite loss and finite weights, or in Fathom's own error.

A finite loss above 1000 x chance (features up to 1e4 and a sum operator) is a run ``fit`` flags
as exploded: that is its own handling. A non-finite loss from finite features never is."""

from __future__ import annotations

import math

import pytest
from graph_strategies import FAULTS, all_finite, is_own_error, model_configs, node_graphs
from hypothesis import given, settings
from hypothesis import strategies as st

from fathom import TrainConfig
from fathom.nn import DeepGNN
from fathom.tasks import NodeClassification
from fathom.train import fit

def _one_epoch(graph, config, lr):
    """``fit`` for one epoch; the summary, or ``None`` when it raised Fathom's own error."""
    try:
        task = NodeClassification(graph)
        model = DeepGNN.for_graph(config, graph, task.num_classes)
        result = fit(model, task, TrainConfig(epochs=1, lr=lr, device="cpu", seed=0), progress=False)
    except (ValueError, TypeError) as error:
        assert is_own_error(error), error
        return None
    summary = result.summary
    if summary["diverged"]:
        assert summary["divergence_kind"] == "exploded", summary["divergence"]
    else:
        assert math.isfinite(summary["final_train_loss"]) and all_finite(*model.parameters()), summary
    return summary


@given(node_graphs(), model_configs(), st.sampled_from([1e-3, 0.1]))
def test_one_epoch_on_a_valid_graph_ends_finite_or_in_fathom_s_own_error(graph, config, lr):
    _one_epoch(graph, config, lr)


@pytest.mark.parametrize("fault", sorted(FAULTS))
@settings(max_examples=10)
@given(data=st.data())
def test_one_epoch_on_a_faulty_graph_is_fathom_s_own_error(fault, data):
    assert _one_epoch(data.draw(node_graphs(fault)), data.draw(model_configs()), 1e-3) is None

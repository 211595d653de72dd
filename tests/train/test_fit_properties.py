"""Property of one training step on random small graphs, valid or with one fault: ``fit`` with a
DeepGNN for one epoch ends in a finite loss and finite weights, or in Fathom's own error.

A finite loss above 1000 x chance (features up to 1e4 and a sum operator) is a run ``fit`` flags
as exploded: that is its own handling. A non-finite loss from finite features never is."""

from __future__ import annotations

import math

from graph_strategies import FAULTS, all_finite, is_own_error, model_configs, node_graphs
from hypothesis import given
from hypothesis import strategies as st

from fathom import TrainConfig
from fathom.nn import DeepGNN
from fathom.tasks import NodeClassification
from fathom.train import fit

graphs = st.sampled_from([None, *sorted(FAULTS)]).flatmap(node_graphs)


@given(graphs, model_configs(), st.sampled_from([1e-3, 0.1]))
def test_one_epoch_ends_finite_or_in_fathom_s_own_error(graph, config, lr):
    try:
        task = NodeClassification(graph)
        model = DeepGNN.for_graph(config, graph, task.num_classes)
        result = fit(model, task, TrainConfig(epochs=1, lr=lr, device="cpu", seed=0), progress=False)
    except (ValueError, TypeError) as error:
        assert is_own_error(error), error
        return
    summary = result.summary
    if summary["diverged"]:
        assert summary["divergence_kind"] == "exploded", summary["divergence"]
        return
    assert math.isfinite(summary["final_train_loss"]) and all_finite(*model.parameters()), summary

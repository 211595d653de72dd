"""Property of DeepGNN on random small graphs and configurations: the forward pass, in training and
in evaluation mode, gives finite ``[N, C]`` logits for every valid graph, or Fathom's own error."""

from __future__ import annotations

import torch
from graph_strategies import all_finite, is_own_error, model_configs, node_graphs
from hypothesis import given

from fathom.nn import DeepGNN
from fathom.tasks import NodeClassification


@given(node_graphs(), model_configs())
def test_a_deepgnn_for_any_valid_graph_gives_finite_logits(graph, config):
    task = NodeClassification(graph)
    torch.manual_seed(0)
    try:
        model = DeepGNN.for_graph(config, graph, task.num_classes)
        logits = [model.train(mode)(*task.inputs(model)) for mode in (True, False)]
    except (ValueError, TypeError) as error:
        assert is_own_error(error), error
        return
    for out in logits:
        assert out.shape == (graph.num_nodes, task.num_classes) and all_finite(out), (config, out)

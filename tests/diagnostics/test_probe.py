"""probe: any PyG model's per-layer metrics, checked against measure() on the equivalent DeepGNN."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn.models import GCN
from torch_geometric.utils import degree

from fathom import DeepGNN, ModelConfig
from fathom.data import InvalidGraphError
from fathom.diagnostics import LAYER_METRICS, measure, probe
from fathom.init import principled_
from fathom.nn import residual_aggregation

DEPTH, WIDTH, NODES, CLASSES = 6, 16, 60, 3


@pytest.fixture
def data(make_er):
    torch.manual_seed(0)
    mask = torch.zeros(NODES, dtype=torch.bool)
    mask[::3] = True
    return Data(x=torch.rand(NODES, 8), y=torch.randint(0, CLASSES, (NODES,)), edge_index=make_er(NODES, 0.1, 0),
                train_mask=mask, num_nodes=NODES)


class EncodedGCN(nn.Module):
    """PyG's GCN between DeepGNN's encoder and head: ``head(relu(GCN(relu(X W_in + b))))``.

    GCN applies ReLU between its layers and none after the last; DeepGNN's blocks are
    ``Z_l = A relu(Z_(l-1)) W_l`` and its head reads ``relu(Z_L)``. With the encoder's output passed
    through ReLU, GCN's layer l computes exactly block l (same ``D^-1/2 (Adj + I) D^-1/2``, no bias).
    """

    def __init__(self, deep: DeepGNN) -> None:
        super().__init__()
        self.encoder, self.head = deep.encoder, deep.head
        self.gcn = GCN(WIDTH, WIDTH, DEPTH, bias=False)  # DeepGNN's blocks have no bias
        with torch.no_grad():
            for conv, block in zip(self.gcn.convs, deep.blocks):
                conv.lin.weight.copy_(block.conv.lin.weight)
                residual_aggregation(conv, deep.config.residual_aggregation)

    def forward(self, x, edge_index):
        return self.head(torch.relu(self.gcn(torch.relu(self.encoder(x)), edge_index)))


@pytest.mark.parametrize("a", [0.0, 0.5])
def test_probe_of_pyg_gcn_equals_measure_of_the_same_deepgnn(data, a):
    """Every metric, layer by layer; with a = 0.5 PyG's GCNConv is wrapped by residual_aggregation."""
    torch.manual_seed(1)
    config = ModelConfig(depth=DEPTH, width=WIDTH, residual="none", residual_aggregation=a, init="glorot")
    deep = DeepGNN(config, 8, CLASSES)
    expected = measure(deep, data)
    result = probe(EncodedGCN(deep), data)
    assert result.layers == [f"gcn.convs.{k}" for k in range(DEPTH)]
    for name in LAYER_METRICS:
        assert result.metrics[name] == pytest.approx(expected[name], rel=1e-4, abs=1e-9), name
    assert len(set(result.metrics["mu"])) == DEPTH  # a real per-layer profile, not one number repeated


def test_probe_dominant_measures_mu_against_the_gcn_operators_d_half_one(data):
    """mu with dominant=True, against ||X - v v^T X||_F by hand, v = D^1/2 1 / ||D^1/2 1|| with
    D the degree counted with the self-loop; the default measures against the constant vector."""
    torch.manual_seed(1)
    model = GCN(8, WIDTH, 2, CLASSES)
    captured = []
    model.convs[0].register_forward_hook(lambda module, inputs, out: captured.append(out.detach().double()))
    dominant = probe(model, data, dominant=True).metrics["mu"][0]
    constant = probe(model, data).metrics["mu"][0]
    x = captured[0]
    v = (degree(data.edge_index[0], NODES, dtype=torch.float64) + 1).sqrt().reshape(-1, 1)
    v = v / v.norm()
    assert dominant == pytest.approx(float((x - v @ (v.t() @ x)).norm()), rel=1e-9)
    assert constant == pytest.approx(float((x - x.mean(0)).norm()), rel=1e-9)
    assert abs(dominant - constant) > 1e-3 * constant  # the two directions differ on this graph


def test_probe_over_seeds_with_a_factory_and_named_modules(data):
    make = lambda: principled_(GCN(8, WIDTH, DEPTH, out_channels=CLASSES), data)  # noqa: E731
    result = probe(make, data, seeds=[0, 1])
    assert result.seeds == [0, 1] and len(result.metrics["mad"]) == DEPTH
    one = probe(make, data, seeds=[0])
    two = probe(make, data, seeds=[1])
    assert result.metrics["second_moment"] == pytest.approx(
        [(a + b) / 2 for a, b in zip(one.metrics["second_moment"], two.metrics["second_moment"])])
    named = probe(make(), data, modules=["convs.0", "convs.5"])
    assert named.layers == ["convs.0", "convs.5"] and len(named.metrics["mu"]) == 2
    assert {f.mode for f in result.findings} >= {"signal scale", "feature collapse"}
    assert "principled_" not in " ".join(f.remedy for f in result.findings if f.mode == "feature collapse")


def test_verdict_names_library_calls_for_a_collapsing_default_gcn(data):
    result = probe(GCN(8, WIDTH, 24, out_channels=CLASSES), data)  # glorot: the scale shrinks by ~2 per layer
    scale = result.findings[0]
    assert scale.present and "shrinks" in scale.evidence and "principled_" in scale.remedy
    assert "--" not in " ".join(f.line() for f in result.findings)  # no CLI flags in the library
    assert result.to_dict()["verdict"][0]["mode"] == "signal scale"


def test_probe_errors(data):
    with pytest.raises(ValueError, match="no MessagePassing layer"):
        probe(nn.Linear(8, 3), data)
    with pytest.raises(ValueError, match="no module named 'convs.99'"):
        probe(GCN(8, WIDTH, 2, out_channels=CLASSES), data, modules=["convs.99"])
    with pytest.raises(ValueError, match="factory"):
        probe(GCN(8, WIDTH, 2, out_channels=CLASSES), data, seeds=[0, 1])


@pytest.mark.parametrize("case, message", [
    ("label 99", r"data\.y holds class label 99 but there are 3 classes \(the model's outputs: labels must be 0\.\.2\)"),
    ("label -1", r"data\.y holds a negative class label \(-1\)"),
    ("float labels", r"data\.y must hold integer class labels"),
    ("0/1 int64 train mask", r"data\.train_mask must be a boolean mask of length 30; got dtype torch\.int64"),
    ("train mask one short", r"data\.train_mask must have shape \[30\]; got \[29\]"),
    ("no y", r"data\.y is missing"),
])
def test_bad_labels_and_masks_are_named_not_indexed(broken_graph, case, message):
    """Before: IndexError/RuntimeError from cross-entropy, AttributeError without y, and a 0/1
    integer mask silently trained on nodes 0 and 1. Integer features stay the model's own
    business (a model may embed integer node ids)."""
    graph = broken_graph(case)
    with pytest.raises(InvalidGraphError, match=message):
        probe(GCN(graph.num_features, 8, 2, out_channels=3), graph)

"""residual_aggregation: each wrapped layer equals a dense computation with ((1 - a) A + a I)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.nn import ChebConv, GATConv, GCNConv, GINConv, GraphConv, SAGEConv

from fathom.nn import FathomConv, residual_aggregation

A_MIX = 0.3
# 0-1-2 triangle, 2-3, 3-4, stored in both directions; features 3 -> 2 channels
EDGES = [(0, 1), (1, 2), (0, 2), (2, 3), (3, 4)]
EDGE_INDEX = torch.tensor([[i for i, j in EDGES] + [j for i, j in EDGES], [j for i, j in EDGES] + [i for i, j in EDGES]])
N = 5


def _adjacency() -> torch.Tensor:
    adj = torch.zeros(N, N, dtype=torch.float64)
    for i, j in EDGES:
        adj[i, j] = adj[j, i] = 1.0
    return adj


def _mix(operator: torch.Tensor, a: float = A_MIX) -> torch.Tensor:
    return (1 - a) * operator + a * torch.eye(N, dtype=torch.float64)


def _randomise(conv) -> None:
    torch.manual_seed(1)
    with torch.no_grad():
        for p in conv.parameters():
            p.normal_()


@pytest.fixture
def x():
    torch.manual_seed(0)
    return torch.randn(N, 3, dtype=torch.float64)


def _lin(linear, h):
    out = h @ linear.weight.double().t()
    return out if getattr(linear, "bias", None) is None else out + linear.bias.double()


def test_gcn_conv(x):
    conv = GCNConv(3, 2).double()
    _randomise(conv)
    adj_loops = _adjacency() + torch.eye(N, dtype=torch.float64)
    inv_sqrt = adj_loops.sum(1).rsqrt()
    gcn = inv_sqrt[:, None] * adj_loops * inv_sqrt[None, :]
    out = residual_aggregation(conv, A_MIX)(x, EDGE_INDEX)
    torch.testing.assert_close(out, _mix(gcn) @ _lin(conv.lin, x) + conv.bias)


def test_gcn_conv_without_normalisation(x):
    conv = GCNConv(3, 2, normalize=False).double()
    _randomise(conv)
    out = residual_aggregation(conv, A_MIX)(x, EDGE_INDEX)
    torch.testing.assert_close(out, _mix(_adjacency()) @ _lin(conv.lin, x) + conv.bias)


def test_graph_conv_mixes_the_neighbour_term_and_keeps_the_root_term(x):
    conv = GraphConv(3, 2).double()
    _randomise(conv)
    out = residual_aggregation(conv, A_MIX)(x, EDGE_INDEX)
    torch.testing.assert_close(out, _lin(conv.lin_rel, _mix(_adjacency()) @ x) + _lin(conv.lin_root, x))


def test_sage_conv_mean(x):
    conv = SAGEConv(3, 2).double()
    _randomise(conv)
    adj = _adjacency()
    out = residual_aggregation(conv, A_MIX)(x, EDGE_INDEX)
    torch.testing.assert_close(out, _lin(conv.lin_l, _mix(adj / adj.sum(1, keepdim=True)) @ x) + _lin(conv.lin_r, x))


def test_gin_conv_mixes_its_whole_operator_and_trains_eps(x):
    """GIN's operator is (1 + eps) I + Adj: the residual form is (1 - a)((1 + eps) I + Adj) + a I."""
    conv = GINConv(torch.nn.Linear(3, 2), eps=0.4, train_eps=True).double()
    _randomise(conv)
    with torch.no_grad():
        conv.eps.fill_(0.4)
    operator = (1 + 0.4) * torch.eye(N, dtype=torch.float64) + _adjacency()
    out = residual_aggregation(conv, A_MIX)(x, EDGE_INDEX)
    torch.testing.assert_close(out, _lin(conv.nn, _mix(operator) @ x))
    out.sum().backward()
    expected_eps_grad = (1 - A_MIX) * (conv.nn.weight.double().sum(0) @ x.sum(0))
    torch.testing.assert_close(conv.eps.grad, expected_eps_grad.reshape(1))


def test_gat_conv_per_head(x):
    conv = GATConv(3, 2, heads=2).double()
    _randomise(conv)
    reference, (edges, alpha) = conv(x, EDGE_INDEX, return_attention_weights=True)  # attention is not changed
    residual_aggregation(conv, A_MIX)
    out = conv(x, EDGE_INDEX)
    h = _lin(conv.lin, x).view(N, 2, 2)
    heads = []
    for head in range(2):
        attention = torch.zeros(N, N, dtype=torch.float64)
        attention[edges[1], edges[0]] = alpha[:, head].detach()
        heads.append(_mix(attention) @ h[:, head])
    torch.testing.assert_close(out, torch.cat(heads, dim=1) + conv.bias)
    assert not torch.allclose(out, reference)


def test_zero_is_the_plain_layer_and_a_second_call_changes_a(x):
    conv = GCNConv(3, 2).double()
    plain = conv(x, EDGE_INDEX)
    torch.testing.assert_close(residual_aggregation(conv, 0.0)(x, EDGE_INDEX), plain)
    residual_aggregation(conv, 0.5)
    once = conv(x, EDGE_INDEX)
    residual_aggregation(conv, 0.5)  # not applied twice
    torch.testing.assert_close(conv(x, EDGE_INDEX), once)
    assert len(conv._propagate_forward_hooks) == 1 and conv.residual_aggregation == 0.5


@pytest.mark.parametrize("conv, message", [
    (ChebConv(3, 2, K=2), "cannot wrap ChebConv"),
    (FathomConv(3, 2), "built in"),
    (SAGEConv(3, 2, project=True), "project=True"),
])
def test_layers_it_cannot_wrap(conv, message):
    with pytest.raises(ValueError, match=message):
        residual_aggregation(conv, 0.5)


@pytest.mark.parametrize("a", [-0.1, 1.5])
def test_a_outside_the_unit_interval(a):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        residual_aggregation(GCNConv(3, 2), a)

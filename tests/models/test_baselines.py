"""Baseline factories: each builds, trains a step, and has its PyG reference's parameter count."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch_geometric.nn import GATConv, GCN2Conv, GCNConv
from torch_geometric.nn.models import GCN, GIN

from fathom.config import TrainConfig
from fathom.data import load_dataset
from fathom.models import build_model, factory
from fathom.train.fit import parameter_groups

F_IN, C = 8, 3


@pytest.fixture(scope="module")
def data():
    return load_dataset("csbm", num_nodes=150, num_features=F_IN, num_classes=C)


def count(*modules: nn.Module) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def linear(a: int, b: int) -> int:
    return a * b + b


# The parameter count of each factory at small sizes, from PyG classes assembled here or written out.
REFERENCES = {
    "gcn": ({"depth": 3, "width": 8}, lambda: count(GCN(F_IN, 8, 3, C))),
    "jknet": ({"depth": 4, "width": 8, "jk": "cat"}, lambda: count(GCN(F_IN, 8, 4, C, jk="cat"))),
    "gcn_dropedge": ({"depth": 2, "width": 16}, lambda: count(GCN(F_IN, 16, 2, C))),
    "gat": ({"width": 4, "heads": 3, "output_heads": 2},
            lambda: count(GATConv(F_IN, 4, heads=3), GATConv(12, C, heads=2, concat=False))),
    "gcnii": ({"depth": 5, "width": 8},
              lambda: count(nn.Linear(F_IN, 8), nn.Linear(8, C),
                            *(GCN2Conv(8, 0.1, 0.5, layer=i + 1) for i in range(5)))),
    "appnp": ({"width": 8}, lambda: linear(F_IN, 8) + linear(8, C)),  # APPNP propagation has no weights
    # encoder, depth x (GCNConv weight + bias, norm scale + shift), head
    "deepgcn": ({"depth": 4, "width": 8}, lambda: linear(F_IN, 8) + 4 * (8 * 8 + 8 + 2 * 8) + linear(8, C)),
    "gcn_pairnorm": ({"depth": 4, "width": 8},
                     lambda: count(GCNConv(F_IN, 8), GCNConv(8, 8), GCNConv(8, 8), GCNConv(8, C))),
    "gin": ({"depth": 3, "width": 8}, lambda: count(GIN(F_IN, 8, 3, C, norm="batch_norm", jk="cat"))),
}


@pytest.mark.parametrize("name", REFERENCES)
def test_factory_builds_trains_and_matches_its_reference_size(name, data):
    params, reference = REFERENCES[name]
    torch.manual_seed(0)
    model = build_model(name, params, data, C).train()
    out = model(data.x, data.edge_index)
    assert out.shape == (data.num_nodes, C) and torch.isfinite(out).all()
    torch.nn.functional.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert count(model) == reference()


@pytest.mark.parametrize("name", REFERENCES)
def test_defaults_are_valid_and_training_settings_are_train_config_fields(name):
    chosen = factory(name)
    chosen.params()
    for dataset in [None, *chosen.per_dataset]:
        params, training = chosen.published(dataset)
        chosen.params(**params)
        TrainConfig.from_dict(training)


def test_gcnii_lists_only_its_convolutions_as_message_passing(data):
    model = build_model("gcnii", {"depth": 3, "width": 8}, data, C)
    blocks = list(model.message_passing_parameters())
    assert len(blocks) == 3 and all(p.shape == (8, 8) for p in blocks)
    assert {id(p) for p in blocks} == {id(p) for p in model.convs.parameters()}
    groups = parameter_groups(model, TrainConfig(weight_decay=5e-4, block_weight_decay=0.01))
    assert [g["weight_decay"] for g in groups] == [0.01, 5e-4]
    assert len(groups[1]["params"]) == 4  # encoder and head weights and biases


def test_gcnii_published_citeseer_settings_split_into_params_and_training():
    params, training = factory("gcnii").published("citeseer")
    assert params == {"depth": 32, "width": 256, "theta": 0.6, "dropout": 0.7}
    assert training == {"lr": 0.01, "weight_decay": 5e-4, "block_weight_decay": 0.01, "epochs": 1500,
                        "patience": 100}
    full, full_training = factory("gcnii").published("chameleon")
    assert full["depth"] == 8 and full["alpha"] == 0.2 and full_training["block_weight_decay"] is None


def _gcn_dense(dense_operator, data) -> torch.Tensor:
    """D^-1/2 (A + I) D^-1/2 (the conftest's numpy reference), as a float64 tensor."""
    return torch.from_numpy(dense_operator(data.edge_index, data.num_nodes, "gcn"))


def test_gcnii_against_a_dense_reference_with_its_alpha_and_theta(data, dense_operator):
    """x_l = relu([(1 - alpha) A x_(l-1) + alpha x_0] ((1 - beta_l) I + beta_l W_l)), beta_l = ln(theta/l + 1)."""
    import math

    torch.manual_seed(0)
    model = build_model("gcnii", {"depth": 3, "width": 8, "theta": 1.5, "alpha": 0.3, "dropout": 0.0}, data, C).double()
    operator, x = _gcn_dense(dense_operator, data), data.x.double()
    x_0 = h = torch.relu(model.encoder(x))
    for layer, conv in enumerate(model.convs, start=1):
        beta = math.log(1.5 / layer + 1)
        mixed = 0.7 * operator @ h + 0.3 * x_0
        h = torch.relu((1 - beta) * mixed + beta * mixed @ conv.weight1)
    expected = model.head(h)
    torch.testing.assert_close(model.eval()(x, data.edge_index), expected, rtol=1e-9, atol=1e-9)


def test_appnp_against_a_dense_reference_with_its_alpha(data, dense_operator):
    """Z_0 = H = MLP(X), Z_(k+1) = (1 - alpha) A Z_k + alpha H for K steps (alpha 0.2: 1 - alpha differs)."""
    torch.manual_seed(0)
    model = build_model("appnp", {"width": 8, "depth": 10, "alpha": 0.2, "dropout": 0.0}, data, C).double()
    operator, x = _gcn_dense(dense_operator, data), data.x.double()
    h = z = model.lin2(torch.relu(model.lin1(x)))
    for _ in range(10):
        z = 0.8 * operator @ z + 0.2 * h
    torch.testing.assert_close(model.eval()(x, data.edge_index), z, rtol=1e-9, atol=1e-9)


def test_dropedge_drops_edges_in_training_mode_only(data):
    model = build_model("gcn_dropedge", {"drop_edge": 0.5}, data, C)
    seen = []  # the number of entries of the operator the first convolution gets (a sparse adj_t)
    model.convs[0].register_forward_pre_hook(lambda module, args: seen.append(args[1]._nnz()))
    full = data.edge_index.size(1) + data.num_nodes  # every edge plus one self-loop per node
    model.eval()
    first = model(data.x, data.edge_index)
    assert torch.equal(first, model(data.x, data.edge_index)) and seen == [full, full]
    model.train()
    model(data.x, data.edge_index)
    kept = seen[-1] - data.num_nodes
    assert 0.35 * data.edge_index.size(1) < kept < 0.65 * data.edge_index.size(1)


def test_the_baselines_own_modules_draw_dropout_with_fathoms_cpu_dropout(data, monkeypatch):
    import fathom.models.baselines as baselines
    from fathom.nn.dropout import dropout

    calls = []
    monkeypatch.setattr(baselines, "dropout", lambda *args: calls.append(args) or dropout(*args))
    build_model("gcnii", {"depth": 2, "width": 8}, data, C).train()(data.x, data.edge_index)
    assert len(calls) == 4 and all(args[2] for args in calls)  # input, 2 layers, head; in training mode


NODE_BASELINES = [name for name in REFERENCES if name != "gin"]


@pytest.mark.parametrize("name", NODE_BASELINES)
def test_sparse_features_give_the_dense_logits_and_gradients(name, data):
    from fathom.graph import SparseFeatures

    torch.manual_seed(0)
    x = data.x * (torch.rand_like(data.x) < 0.2)  # bag-of-words-like: a fifth of the entries kept
    model = build_model(name, REFERENCES[name][0], data, C).eval()  # eval: the same function both ways
    assert model.accepts_sparse_features
    grads = []
    for features in (x, SparseFeatures(x)):
        model.zero_grad()
        out = model(features, data.edge_index)
        out.square().sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
        if features is x:
            dense_out = out.detach()
    assert torch.allclose(out, dense_out, atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(*grads))


# The baselines whose own modules drop out their input features, and at which rate (their defaults).
INPUT_DROPOUT = {"gcnii": 0.6, "appnp": 0.5, "gat": 0.6, "gcn_pairnorm": 0.6}


@pytest.mark.parametrize("name", INPUT_DROPOUT)
def test_sparse_input_features_are_dropped_out_in_training_only(name, data, monkeypatch):
    from fathom.graph import SparseFeatures

    rates = []
    original = SparseFeatures.dropout
    monkeypatch.setattr(SparseFeatures, "dropout",
                        lambda self, p, training=True: rates.append((p, training)) or original(self, p, training))
    x = SparseFeatures(data.x * (torch.rand_like(data.x) < 0.2))
    model = build_model(name, REFERENCES[name][0], data, C)
    model.train()(x, data.edge_index).sum().backward()
    assert rates == [(INPUT_DROPOUT[name], True)]
    model.eval()(x, data.edge_index)
    assert len(rates) == 1

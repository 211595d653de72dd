"""ModelConfig validation, DeepGNN against a hand computation, and signal propagation at init."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from fathom.config import ConfigError, ModelConfig
from fathom.graph import AggregationOperator
from fathom.nn.models import DeepGNN, fixup_

KINDS = ("gcn", "mean", "sum")


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def _features(n: int, width: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    return torch.randn(n, width, dtype=dtype, generator=torch.Generator().manual_seed(seed))


def _randomise_biases(model: DeepGNN, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bias in (model.encoder.bias, model.head.bias):
            bias.copy_(torch.randn(bias.shape, generator=gen, dtype=bias.dtype))


# --- ModelConfig ------------------------------------------------------------------------------


@pytest.mark.parametrize("changes, match", [
    ({"depth": 0}, r"depth must lie in \[1, inf\); got 0"),
    ({"depth": 2.5}, r"depth must be an integer; got 2.5"),
    ({"width": True}, r"width must be an integer; got True"),
    ({"width": 0}, r"width must lie in \[1, inf\); got 0"),
    ({"aggregation": "max"}, r"aggregation must be one of gcn, mean, sum; got 'max'"),
    ({"residual": "skip"}, r"residual must be one of none, plain, fixup; got 'skip'"),
    ({"init": "xavier"}, r"init must be one of gnn_he, kaiming, glorot, fixup; got 'xavier'"),
    ({"norm": "groupnorm"}, r"norm must be one of none, weight, layer, pairnorm, batchnorm; got 'groupnorm'"),
    ({"norm": "layer", "residual": "none"}, r"norm=layer bounds a residual block.*needs residual=plain or fixup"),
    ({"norm_bound": "nuclear"}, r"norm_bound must be one of spectral, frobenius"),
    ({"norm_c": 0.0}, r"norm_c must lie in \(0"),
    ({"activation": "tanh"}, r"activation must be one of relu, identity, gelu, leaky_relu; got 'tanh'"),
    ({"dropout": 1.0}, r"dropout must be below 1"),
    ({"dropout": -0.1}, r"dropout must lie in \[0.0, 1.0\]; got -0.1"),
    ({"residual_aggregation": 1.5}, r"residual_aggregation must lie in \[0.0, 1.0\]; got 1.5"),
    ({"beta": 0.0}, r"beta must lie in \(0.0, inf\); got 0.0"),
    ({"beta": 0.5, "residual": "none", "init": "gnn_he"}, r"beta .* needs residual=plain or fixup"),
    ({"init": "fixup", "residual": "none"}, r"init=fixup .* needs residual=plain or fixup"),
], ids=lambda v: "-".join(f"{k}={v[k]}" for k in v) if isinstance(v, dict) else "")
def test_invalid_config_raises_config_error(changes, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**changes)


@pytest.mark.parametrize("in_channels, out_channels, message", [
    (0, 3, r"in_channels must lie in \[1, inf\); got 0"),
    (4, 0, r"out_channels must lie in \[1, inf\); got 0"),
])
def test_deepgnn_refuses_no_input_features_or_no_outputs(in_channels, out_channels, message):
    """``DeepGNN(config, 4, 0)`` was accepted silently: a head with no outputs."""
    with pytest.raises(ValueError, match=message):
        DeepGNN(ModelConfig(depth=2, width=8), in_channels, out_channels)


def test_config_error_is_value_error_and_from_dict_names_unknown_fields():
    assert issubclass(ConfigError, ValueError)
    with pytest.raises(ConfigError, match="unknown ModelConfig field .layers.*; known: .*depth"):
        ModelConfig.from_dict({"layers": 3})
    config = ModelConfig(depth=3, width=5, aggregation="sum")
    assert ModelConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("changes, scale", [
    ({"residual": "none", "init": "gnn_he"}, 0.0),
    ({"residual": "plain"}, 1.0),
    ({"residual": "plain", "beta": 0.3}, 0.3),
    ({"residual": "fixup", "depth": 16}, 0.25),
    ({"residual": "fixup", "depth": 16, "beta": 0.7}, 0.7),
])
def test_branch_scale(changes, scale):
    assert ModelConfig(**changes).branch_scale == pytest.approx(scale, rel=1e-15)


# --- DeepGNN: shapes and hand computation ------------------------------------------------------


@pytest.mark.parametrize("config", [
    ModelConfig(depth=1, width=4, residual="none", init="kaiming"),
    ModelConfig(depth=3, width=16, aggregation="mean", norm="pairnorm"),
    ModelConfig(depth=2, width=8, aggregation="sum", residual="plain", init="glorot", norm="batchnorm"),
], ids=["vanilla", "fixup-pairnorm", "plain-batchnorm"])
def test_output_shape(tiny_graph, config):
    model = DeepGNN(config, 3, 6)
    out = model(_features(5, 3, dtype=torch.float32), tiny_graph.edge_index)
    assert out.shape == (5, 6) and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert len(model.blocks) == config.depth
    assert model.encoder.weight.shape == (config.width, 3) and model.head.weight.shape == (6, config.width)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("residual, beta, expected_beta", [
    ("none", None, None),
    ("plain", None, 1.0),
    ("plain", 0.3, 0.3),
    ("fixup", None, 1 / math.sqrt(2)),
    ("fixup", 0.7, 0.7),
])
def test_blocks_against_hand_computation(make_er, dense_operator, kind, residual, beta, expected_beta):
    """Z0 = X We^T + b; branch B_l = A_a relu(Z_{l-1}) W_l^T; none: Z_l = B_l, else Z_l = Z_{l-1} + beta B_l;
    Y = relu(Z_L) Wh^T + bh. A_a is the numpy reference; beta is written out, not read from the model."""
    edge_index = make_er(15, 0.25, seed=1, directed=True)
    config = ModelConfig(depth=2, width=6, aggregation=kind, residual_aggregation=0.3, residual=residual,
                         beta=beta, init="gnn_he")
    model = DeepGNN(config, 3, 2, perron_root=2.0).double()
    _randomise_biases(model)
    x = _features(15, 3)
    a_op = dense_operator(edge_index, 15, kind, 0.3)

    z = _np(x) @ _np(model.encoder.weight).T + _np(model.encoder.bias)
    for block in model.blocks:
        branch = a_op @ _relu(z) @ _np(block.conv.lin.weight).T
        z = branch if expected_beta is None else z + expected_beta * branch
    expected = _relu(z) @ _np(model.head.weight).T + _np(model.head.bias)

    np.testing.assert_allclose(_np(model(x, edge_index)), expected, rtol=1e-10, atol=1e-12)


def test_identity_activation_is_linear(make_er, dense_operator):
    edge_index = make_er(15, 0.25, seed=2)
    config = ModelConfig(depth=3, width=4, aggregation="gcn", residual_aggregation=0.0, residual="none",
                         init="kaiming", activation="identity")
    model = DeepGNN(config, 3, 2).double()
    x = _features(15, 3)
    a_op = dense_operator(edge_index, 15, "gcn")
    product = np.eye(4)
    for block in model.blocks:
        product = product @ _np(block.conv.lin.weight).T
    expected = (np.linalg.matrix_power(a_op, 3) @ (_np(x) @ _np(model.encoder.weight).T) @ product
                @ _np(model.head.weight).T)
    np.testing.assert_allclose(_np(model(x, edge_index)), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("norm", ["none", "pairnorm", "batchnorm"])
@pytest.mark.parametrize("residual", ["plain", "fixup"])
def test_fixup_init_makes_blocks_identity(make_er, residual, norm):
    edge_index = make_er(20, 0.2, seed=3)
    config = ModelConfig(depth=5, width=8, aggregation="sum", residual=residual, init="fixup", norm=norm)
    model = DeepGNN(config, 3, 2, perron_root=4.0).double()
    _randomise_biases(model)
    x = _features(20, 3)
    expected = _relu(_np(x) @ _np(model.encoder.weight).T + _np(model.encoder.bias)) @ _np(model.head.weight).T \
        + _np(model.head.bias)
    np.testing.assert_allclose(_np(model(x, edge_index)), expected, rtol=1e-12, atol=1e-12)


def test_dropout_only_in_training(make_er):
    edge_index = make_er(20, 0.2, seed=4)
    config = ModelConfig(depth=2, width=8, residual="plain", dropout=0.5)
    model = DeepGNN(config, 3, 2).double()
    reference = DeepGNN(config.replace(dropout=0.0), 3, 2).double()
    reference.load_state_dict(model.state_dict())
    x = _features(20, 3)
    model.eval()
    torch.testing.assert_close(model(x, edge_index), reference(x, edge_index))
    model.train()
    assert not torch.allclose(model(x, edge_index), reference(x, edge_index))


def test_repr_names_the_architecture():
    config = ModelConfig(depth=7, width=12, aggregation="mean", residual_aggregation=0.25, residual="fixup",
                         init="kaiming")
    text = repr(DeepGNN(config, 3, 2))
    assert "x 7 blocks" in text
    assert "aggregation=mean" in text and "a=0.25" in text
    assert "residual=fixup(beta=0.378)" in text  # 1/sqrt(7) = 0.37796
    assert "init=kaiming" in text
    assert "residual=none" in repr(DeepGNN(config.replace(residual="none"), 3, 2))


# --- DeepGNN: initialisation and the Perron root -----------------------------------------------


@pytest.mark.parametrize("init", ["gnn_he", "fixup"])
def test_sum_aggregation_needs_perron_root(init):
    config = ModelConfig(depth=2, width=4, aggregation="sum", init=init)
    with pytest.raises(ValueError, match="perron_root"):
        DeepGNN(config, 3, 2)


def test_perron_root_defaults_to_one_for_normalised_operators():
    for kind in ("gcn", "mean"):
        assert DeepGNN(ModelConfig(depth=1, width=4, aggregation=kind), 3, 2).perron_root == 1.0
    assert DeepGNN(ModelConfig(depth=1, width=4, aggregation="sum", init="kaiming"), 3, 2).perron_root == 1.0


def _pooled_block_weights(model: DeepGNN) -> torch.Tensor:
    return torch.cat([block.conv.lin.weight.detach().flatten() for block in model.blocks]).double()


# 4 blocks of 128 x 128 = 65536 normal entries: sample variance has relative std sqrt(2/65536) ~ 0.0055;
# glorot's uniform entries: sqrt(0.8/65536) ~ 0.0035. Tolerances are 5 standard deviations.
POOLED = 4 * 128 * 128


@pytest.mark.parametrize("init, variance, rtol", [
    ("gnn_he", 2 / (128 * 4.0**2), 5 * math.sqrt(2 / POOLED)),
    ("kaiming", 2 / 128, 5 * math.sqrt(2 / POOLED)),
    ("glorot", 2 / (128 + 128), 5 * math.sqrt(0.8 / POOLED)),
])
def test_block_weight_variance_follows_init(init, variance, rtol):
    torch.manual_seed(0)
    model = DeepGNN(ModelConfig(depth=4, width=128, aggregation="sum", init=init), 3, 2, perron_root=4.0)
    assert _pooled_block_weights(model).var().item() == pytest.approx(variance, rel=rtol)
    assert torch.count_nonzero(model.encoder.bias) == 0 and torch.count_nonzero(model.head.bias) == 0


def test_for_graph_uses_operator_perron_root(make_er, dense_operator):
    edge_index = make_er(30, 0.2, seed=5)
    data = Data(x=_features(30, 5, dtype=torch.float32), edge_index=edge_index)
    config = ModelConfig(depth=4, width=128, aggregation="sum", residual_aggregation=0.3, init="gnn_he")
    torch.manual_seed(0)
    model = DeepGNN.for_graph(config, data, 3)
    numpy_root = float(np.abs(np.linalg.eigvals(dense_operator(edge_index, 30, "sum", 0.3))).max())
    assert numpy_root > 3  # far enough from 1 that using the root matters
    assert model.perron_root == pytest.approx(numpy_root, rel=1e-4)
    assert model.in_channels == 5 and model.head.out_features == 3
    variance = 2 / (128 * numpy_root**2)
    assert _pooled_block_weights(model).var().item() == pytest.approx(variance, rel=5 * math.sqrt(2 / POOLED))


def _with_hub(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """``edge_index`` plus node 0 linked both ways to every other node: a very irregular graph."""
    others = torch.arange(1, num_nodes)
    hub = torch.stack([torch.cat([torch.zeros_like(others), others]), torch.cat([others, torch.zeros_like(others)])])
    return torch.cat([edge_index, hub], dim=1)


@pytest.mark.parametrize("kind, directed", [("mean", False), ("sum", True)])
def test_for_graph_uses_the_perron_root_not_the_operator_norm(make_er, dense_operator, kind, directed):
    """Non-normal operators (mean aggregation on an irregular graph with a hub: lambda_1 = 1,
    ||A_a||_2 = 1.58; sum on a directed graph: 3.24 vs 3.84): the spectral radius and the largest
    singular value differ, and the init must use the former."""
    edge_index = make_er(40, 0.08, seed=11, directed=True) if directed else _with_hub(make_er(40, 0.05, seed=11), 40)
    dense = dense_operator(edge_index, 40, kind, 0.3)
    numpy_root = float(np.abs(np.linalg.eigvals(dense)).max())
    operator_norm = float(np.linalg.norm(dense, 2))
    assert operator_norm > 1.1 * numpy_root  # far enough apart that the choice shows
    data = Data(x=_features(40, 5, dtype=torch.float32), edge_index=edge_index)
    config = ModelConfig(depth=4, width=128, aggregation=kind, residual_aggregation=0.3, init="gnn_he")
    torch.manual_seed(0)
    model = DeepGNN.for_graph(config, data, 3)
    assert model.perron_root == pytest.approx(numpy_root, rel=1e-4)
    variance = 2 / (128 * numpy_root**2)
    assert _pooled_block_weights(model).var().item() == pytest.approx(variance, rel=5 * math.sqrt(2 / POOLED))


# --- DeepGNN: operator plumbing and norms -------------------------------------------------------


def test_operator_argument_and_cache(make_er):
    edge_index = make_er(20, 0.2, seed=6)
    config = ModelConfig(depth=2, width=8, aggregation="mean", residual_aggregation=0.3)
    model = DeepGNN(config, 3, 2).double()
    x = _features(20, 3)
    operator = model.operator_for(edge_index, x)
    assert model.operator_for(edge_index, x) is operator
    assert (operator.kind, operator.residual, operator.dtype) == ("mean", 0.3, torch.float64)
    explicit = AggregationOperator(edge_index, 20, "mean", 0.3, dtype=torch.float64)
    torch.testing.assert_close(model(x, operator=explicit), model(x, edge_index), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="needs an edge_index or an operator"):
        model(x)


@pytest.mark.parametrize("norm", ["pairnorm", "batchnorm"])
def test_norms_run_and_normalise_the_branch(make_er, norm):
    edge_index = make_er(40, 0.15, seed=7)
    config = ModelConfig(depth=3, width=16, aggregation="gcn", residual="fixup", init="gnn_he", norm=norm)
    model = DeepGNN(config, 4, 3)
    captured = []
    hooks = [block.norm.register_forward_hook(lambda m, i, out: captured.append(out.detach()))
             for block in model.blocks]
    out = model(_features(40, 4, dtype=torch.float32), edge_index)
    for hook in hooks:
        hook.remove()
    assert len(captured) == 3 and torch.isfinite(out).all()
    for branch in captured:
        torch.testing.assert_close(branch.mean(0), torch.zeros(16), atol=1e-5, rtol=0)  # both centre nodes
        if norm == "pairnorm":  # mean squared row norm 1
            assert branch.pow(2).sum(1).mean().item() == pytest.approx(1.0, rel=1e-3)
        else:  # unit (biased) variance per channel in training mode
            torch.testing.assert_close(branch.var(0, unbiased=False), torch.ones(16), rtol=1e-3, atol=0)
    out.pow(2).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert model.blocks[0].conv.lin.weight.grad.abs().sum() > 0


# --- signal propagation at initialisation --------------------------------------------------------
#
# M(l) = mean(Z_l^2) for each block output Z_l of a 64-block vanilla ReLU GNN (residual=none, a=0)
# on an Erdos-Renyi graph (N=200, p=0.03). The brief (shared/papers/dezoort2023.md) asks for no
# exponential trend at depth with the Perron-root rule: M(64)/M(16) within [0.2, 5].
#
# Finite-width drift: once node features are correlated each layer multiplies M by a random factor
# whose log has variance of order 1/width, so over 48 layers log(M(64)/M(16)) has a standard
# deviation of ~1.3 at width 128 and ~0.8 at width 256 (measured over 150 seeds). At width 128 the
# ratio of 3-seed averages fell outside [0.2, 5] for about 8% of seed triples (seeds 0-2 give 5.2);
# at width 256 no 3-seed triple out of 50 did (range 0.21-2.8). Hence width 256 and 4 seeds.
SP_DEPTH, SP_WIDTH, SP_SEEDS = 64, 256, (0, 1, 2, 3)


def _block_scales(model: DeepGNN, x: torch.Tensor, edge_index: torch.Tensor) -> np.ndarray:
    """M(l) = mean(Z_l^2) for l = 1..depth, from forward hooks on the blocks (index l - 1)."""
    scales: list[float] = []
    hooks = [block.register_forward_hook(lambda m, i, out: scales.append(out.pow(2).mean().item()))
             for block in model.blocks]
    try:
        with torch.no_grad():
            model(x, edge_index)
    finally:
        for hook in hooks:
            hook.remove()
    assert len(scales) == len(model.blocks)
    return np.array(scales)


def _mean_scales(make_er, kind: str, init: str, dtype: torch.dtype, activation: str = "relu",
                 **changes) -> np.ndarray:
    edge_index = make_er(200, 0.03, seed=0)
    config = ModelConfig(depth=SP_DEPTH, width=SP_WIDTH, aggregation=kind, residual_aggregation=0.0,
                         residual="none", init=init, activation=activation, **changes)
    runs = []
    for seed in SP_SEEDS:
        x = _features(200, 32, seed=1000 + seed, dtype=dtype)
        torch.manual_seed(seed)
        if init == "gnn_he":
            model = DeepGNN.for_graph(config, Data(x=x, edge_index=edge_index), 4)
        else:
            model = DeepGNN(config, 32, 4)
        runs.append(_block_scales(model.to(dtype), x, edge_index))
    return np.mean(runs, axis=0)


@pytest.mark.parametrize("kind", KINDS)
def test_gnn_he_has_no_exponential_trend(make_er, kind):
    scales = _mean_scales(make_er, kind, "gnn_he", torch.float32)
    ratio = scales[SP_DEPTH - 1] / scales[16 - 1]
    assert np.isfinite(scales).all()
    assert 0.2 <= ratio <= 5, f"M(64)/M(16) = {ratio:.3g} for {kind}; M(1), M(16), M(64) = " \
                              f"{scales[0]:.3g}, {scales[15]:.3g}, {scales[63]:.3g}"


def test_gnn_he_uses_gain_one_for_linearized_models(make_er):
    scales = _mean_scales(make_er, "gcn", "gnn_he", torch.float64, activation="identity")
    assert 0.2 <= scales[SP_DEPTH - 1] / scales[16 - 1] <= 5  # with ReLU's gain 2 it would grow as 2^48
    torch.manual_seed(0)
    model = DeepGNN(ModelConfig(depth=4, width=128, aggregation="sum", activation="identity"), 3, 2, perron_root=4.0)
    assert _pooled_block_weights(model).var().item() == pytest.approx(1 / (128 * 4.0**2), rel=5 * math.sqrt(2 / POOLED))


def test_he_init_with_sum_aggregation_explodes(make_er):
    scales = _mean_scales(make_er, "sum", "kaiming", torch.float64)  # float32 overflows near 1e38
    ratio = scales[SP_DEPTH - 1] / scales[16 - 1]
    assert np.isfinite(scales).all()
    assert ratio > 1e6, f"M(64)/M(16) = {ratio:.3g}"


def test_reset_parameters_reuses_the_perron_root_given_at_construction():
    config = ModelConfig(depth=2, width=8, aggregation="sum", residual="none")
    model = DeepGNN(config, 4, 2, perron_root=7.0)
    model.reset_parameters()
    assert model.perron_root == 7.0


# --- memory modes ------------------------------------------------------------------------


def _loss_and_grads(model, x, edge_index):
    model.zero_grad()
    loss = model(x, edge_index).square().mean()
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


def _saved_bytes(model, x, edge_index) -> int:
    """Bytes autograd keeps for the backward pass of one forward (counted by saved-tensor hooks
    during the forward only: recomputations inside the backward pass are transient)."""
    total = 0

    def pack(tensor):
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = model(x, edge_index).sum()
    out.backward()
    return total


PARK_BLOCKS = {"activation": "gelu", "activation_position": "post", "io": "park", "norm": "weight"}


@pytest.mark.parametrize("changes", [{"norm": "none"}, {"norm": "weight"}, PARK_BLOCKS,
                                     {**PARK_BLOCKS, "conv": "gat", "heads": 2},
                                     {"initial_residual": 0.1, "identity_mapping": 0.5}],
                         ids=["none", "weight", "park-post-gelu", "park-gat", "gcnii"])
def test_checkpointing_gives_the_plain_models_gradients(make_er, changes):
    edge_index, x = make_er(60, 0.1, seed=1), _features(60, 8, dtype=torch.float32)
    config = ModelConfig(depth=10, width=16, residual="plain", **changes)
    torch.manual_seed(0)
    plain = DeepGNN(config, 8, 3)
    torch.manual_seed(0)
    checkpointed = DeepGNN(config.replace(memory="checkpoint"), 8, 3)
    loss, grads = _loss_and_grads(plain, x, edge_index)
    loss_c, grads_c = _loss_and_grads(checkpointed, x, edge_index)
    assert torch.allclose(loss, loss_c)
    assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in zip(grads, grads_c))


def test_checkpointing_saves_about_sqrt_depth_activations(make_er):
    edge_index, x = make_er(200, 0.03, seed=1), _features(200, 8, dtype=torch.float32)
    config = ModelConfig(depth=64, width=32, residual="plain")
    plain = _saved_bytes(DeepGNN(config, 8, 3), x, edge_index)
    checkpointed = _saved_bytes(DeepGNN(config.replace(memory="checkpoint"), 8, 3), x, edge_index)
    assert checkpointed < plain / 4  # 8 segment inputs (+ one segment recomputed at a time) vs 64 blocks


def _reversible_by_hand(model, x, edge_index):
    """The reversible model's computation written out with plain autograd, every activation kept:
    per block, channel halves X1, X2 -> Y1 = X1 + beta B1(X2), Y2 = X2 + beta B2(Y1) (RevGNN)."""
    operator = model.operator_for(edge_index, x)
    park = model.config.io == "park"
    z = torch.relu(model.encoder(x)) if park else model.encoder(x)
    for block in model.blocks:
        x1, x2 = z.chunk(2, dim=-1)
        y1 = x1 + block.convs[0](x2, operator)
        z = torch.cat([y1, x2 + block.convs[1](y1, operator)], dim=-1)
    return model.head(torch.relu(model.head_hidden(z) if park else z))


@pytest.mark.parametrize("io", ["linear", "park"])
def test_reversible_blocks_give_the_plain_computations_gradients(make_er, io):
    """io=park: the blocks' input is the encoder's relu, whose output autograd keeps (the first
    block used to free it: a RuntimeError in the backward pass)."""
    edge_index, x = make_er(60, 0.1, seed=1), _features(60, 8, dtype=torch.float64)
    torch.manual_seed(0)
    model = DeepGNN(ModelConfig(depth=12, width=16, residual="fixup", memory="reversible", io=io), 8, 3).double()
    _randomise_biases(model)
    loss, grads = _loss_and_grads(model, x, edge_index)
    model.zero_grad()
    loss_p = _reversible_by_hand(model, x, edge_index).square().mean()
    loss_p.backward()
    assert torch.allclose(loss, loss_p.detach(), rtol=1e-12)
    assert all(torch.allclose(a, p.grad, rtol=1e-9, atol=1e-12) for a, p in zip(grads, model.parameters()))
    assert sum(1 for _ in model.branch_convs()) == 24


def test_reversible_blocks_keep_no_activations_for_the_backward_pass(make_er):
    """Autograd keeps nothing inside the reversible blocks (the encoder's and head's tensors only),
    and each block's input is freed after the forward (recomputed from its output in the backward).
    The plain model keeps every block's activations."""
    edge_index, x = make_er(200, 0.03, seed=1), _features(200, 8, dtype=torch.float32)
    config = ModelConfig(depth=64, width=32, residual="fixup")
    reversible = DeepGNN(config.replace(memory="reversible"), 8, 3)
    inputs = []
    hooks = [block.register_forward_pre_hook(lambda module, args: inputs.append(args[0]))
             for block in reversible.blocks]
    saved = _saved_bytes(reversible, x, edge_index)
    for hook in hooks:
        hook.remove()
    plain = _saved_bytes(DeepGNN(config, 8, 3), x, edge_index)
    activation = 200 * 32 * 4  # one block's output, float32
    assert saved < 4 * activation and saved < plain / 20  # measured: 58 kB vs 3.6 MB (64 blocks)
    assert len(inputs) == 64 and all(t.untyped_storage().size() == 0 for t in inputs[1:])  # blocks 2..64


@pytest.mark.parametrize("changes, message", [
    ({"residual": "none"}, "needs residual blocks"),
    ({"width": 15}, "width must be even"),
    ({"norm": "layer"}, "supports norm none or weight"),
    ({"dropout": 0.1}, "needs dropout=0"),
])
def test_reversible_configuration_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(memory="reversible", residual="plain").replace(**changes)


# --- fixup_ -----------------------------------------------------------------------------------


@pytest.mark.parametrize("residual", ["plain", "fixup"])
def test_fixup_zeroes_every_block_weight(residual):
    config = ModelConfig(depth=4, width=8, residual=residual, init="gnn_he")
    model = DeepGNN(config, 3, 2)
    assert all(block.conv.lin.weight.abs().sum() > 0 for block in model.blocks)
    encoder, head = model.encoder.weight.clone(), model.head.weight.clone()

    assert fixup_(model) is model
    for block in model.blocks:
        assert torch.count_nonzero(block.conv.lin.weight) == 0
    assert torch.equal(model.encoder.weight, encoder) and torch.equal(model.head.weight, head)


def test_fixup_weights_still_receive_gradient(tiny_graph):
    """dL/dW = (A act(Z))^T dL/dZ' does not depend on W, so zeroed branch weights still learn."""
    model = fixup_(DeepGNN(ModelConfig(depth=3, width=8, residual="fixup"), 3, 2))
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    model(x, tiny_graph.edge_index).pow(2).sum().backward()
    for block in model.blocks:
        assert block.conv.lin.weight.grad.abs().sum() > 0


def test_fixup_rejects_model_without_residuals():
    model = DeepGNN(ModelConfig(depth=2, width=8, residual="none", init="gnn_he"), 3, 2)
    with pytest.raises(ValueError, match="residual connections"):
        fixup_(model)


# --- disconnected graphs: component scaling ----------------------------------------------------


def _component_scales(make_er, scaling: str) -> tuple[np.ndarray, np.ndarray]:
    """Per component, M_c(l) = mean of Z_l^2 over its nodes, l = 1..64 (mean over SP_SEEDS), for a
    vanilla ReLU GNN with gnn_he and sum aggregation on a 200-node ER graph (lambda_1 = 7.8) plus
    paths of 2, 3, 5 and 8 nodes (lambda_c = 2 to 2.9) and an isolated node (lambda_c = 1)."""
    parts, n = [make_er(200, 0.03, seed=0)], 200
    for size in (2, 3, 5, 8):
        ids = torch.arange(n, n + size)
        parts.append(torch.stack([torch.cat([ids[:-1], ids[1:]]), torch.cat([ids[1:], ids[:-1]])]))
        n += size
    edge_index, n = torch.cat(parts, dim=1), n + 1
    component = torch.tensor([0] * 200 + [1] * 2 + [2] * 3 + [3] * 5 + [4] * 8 + [5])
    config = ModelConfig(depth=SP_DEPTH, width=SP_WIDTH, aggregation="sum", residual_aggregation=0.0,
                         residual="none", init="gnn_he", component_scaling=scaling)
    runs = []
    for seed in SP_SEEDS:
        x = _features(n, 32, seed=1000 + seed)
        torch.manual_seed(seed)
        model = DeepGNN.for_graph(config, Data(x=x, edge_index=edge_index, num_nodes=n), 4).double()
        rows: list[torch.Tensor] = []
        hooks = [block.register_forward_hook(lambda m, i, out: rows.append(out.pow(2).mean(1)))
                 for block in model.blocks]
        with torch.no_grad():
            model(x, edge_index)
        for hook in hooks:
            hook.remove()
        per_node = torch.stack(rows)  # [depth, N]
        sums = torch.zeros(SP_DEPTH, 6, dtype=torch.float64).index_add_(1, component, per_node)
        runs.append((sums / torch.bincount(component).double()).numpy())
    scales = np.mean(runs, axis=0)
    return scales[SP_DEPTH - 1] / scales[16 - 1], scales[SP_DEPTH - 1] / scales[0]


def test_component_scaling_keeps_every_component_at_order_one_scale_to_depth_64(make_er):
    """One C_W = 2/lambda_1^2 for a block-diagonal operator: a component with Perron root lambda_c
    changes scale by (lambda_c/lambda_1)^2 per layer. Scaled to the graph's Perron root, every
    component keeps an order-one scale (M(64)/M(16) and M(64)/M(1) within [0.2, 5]; measured 1.7-3.3), and
    so does scaling every block to root 1 with C_W = 2 (``unit``, for batches of graphs);
    without it the small components vanish (measured 1e-42 to 1e-86)."""
    for scaling in ("perron", "unit"):
        late, overall = _component_scales(make_er, scaling)
        assert ((0.2 <= late) & (late <= 5)).all() and ((0.2 <= overall) & (overall <= 5)).all(), (late, overall)
    late, _ = _component_scales(make_er, "none")
    assert 0.2 <= late[0] <= 5 and (late[1:] < 1e-20).all(), late


def test_model_refuses_an_operator_built_without_its_component_scaling(make_er):
    edge_index = make_er(20, 0.2, seed=6)
    model = DeepGNN(ModelConfig(depth=2, width=8, aggregation="mean", component_scaling="perron"), 3, 2)
    plain = AggregationOperator(edge_index, 20, "mean", 0.5)
    with pytest.raises(ValueError, match="component_scaling='none' but the model's config asks for 'perron'"):
        model(torch.randn(20, 3), operator=plain)
    assert model.operator_for(edge_index, torch.randn(20, 3)).component_scaling == "perron"


@pytest.mark.parametrize("alpha, theta", [(0.1, 0.5), (0.3, None), (0.0, 1.5)])
@pytest.mark.parametrize("residual", ["none", "fixup"])
def test_initial_residual_and_identity_mapping_against_hand_computation(make_er, dense_operator, alpha, theta,
                                                                        residual):
    """Branch B_l = [(1-alpha) A_a relu(Z_{l-1}) + alpha relu(Z_0)] ((1-b_l) I + b_l W_l), b_l = ln(theta/l + 1)
    (b_l = 1 without identity mapping), written out with the numpy operator."""
    edge_index = make_er(15, 0.25, seed=3, directed=True)
    config = ModelConfig(depth=3, width=6, aggregation="mean", residual_aggregation=0.2, residual=residual,
                         initial_residual=alpha, identity_mapping=theta, init="gnn_he")
    model = DeepGNN(config, 3, 2).double()
    _randomise_biases(model)
    x = _features(15, 3)
    a_op = dense_operator(edge_index, 15, "mean", 0.2)

    z0 = z = _np(x) @ _np(model.encoder.weight).T + _np(model.encoder.bias)
    for layer, block in enumerate(model.blocks, start=1):
        b = 1.0 if theta is None else math.log(theta / layer + 1)
        mixed = (1 - alpha) * a_op @ _relu(z) + alpha * _relu(z0)
        branch = (1 - b) * mixed + b * mixed @ _np(block.conv.weight1)
        z = branch if residual == "none" else z + config.branch_scale * branch
    expected = _relu(z) @ _np(model.head.weight).T + _np(model.head.bias)

    np.testing.assert_allclose(_np(model(x, edge_index)), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("depth", [64, 256])
def test_the_benchmark_configuration_keeps_signal_and_gradients_order_one_at_depth(make_er, depth):
    """At initialisation, with GCNII's initial residual and identity mapping on gnn_he blocks, the
    last block's features and the encoder's gradient keep the scale of a 2-block model's."""
    edge_index = make_er(200, 0.03, seed=4)
    x = torch.randn(200, 16)

    def scales(depth: int) -> tuple[float, float]:
        torch.manual_seed(0)
        model = DeepGNN(ModelConfig(depth=depth, width=32, residual="none", residual_aggregation=0.0,
                                    initial_residual=0.1, identity_mapping=0.5), 16, 4)
        operator = model.operator_for(edge_index, x)
        z0 = model.encoder(x)
        z = model._blocks(z0, operator)
        model.head(F.relu(z)).square().sum().backward()
        return float(z.detach().norm() / z0.detach().norm()), float(model.encoder.weight.grad.norm())

    signal, gradient = scales(depth)
    shallow_signal, shallow_gradient = scales(2)
    assert 0.2 < signal / shallow_signal < 5
    assert 0.2 < gradient / shallow_gradient < 5


def test_gnn_he_fills_the_gcnii_weights_and_fixup_zeroes_them():
    model = DeepGNN(ModelConfig(depth=4, width=64, initial_residual=0.1, identity_mapping=0.5, init="gnn_he",
                                residual_aggregation=0.0), 8, 2)
    weights = torch.stack([w.detach() for w in model.branch_weights()])
    assert weights.shape == (4, 64, 64)
    assert float(weights.var()) == pytest.approx(2 / 64, rel=0.05)
    fixed = DeepGNN(ModelConfig(depth=4, width=8, initial_residual=0.1, init="fixup"), 8, 2)
    assert all(float(w.detach().abs().max()) == 0 for w in fixed.branch_weights())


def test_input_dropout_is_applied_in_training_only_on_dense_and_sparse_features():
    config = ModelConfig(depth=1, width=8, input_dropout=0.5)
    model = DeepGNN(config, 40, 3)
    x = (torch.rand(30, 40) < 0.05).float()
    edge_index = torch.tensor([[0, 1], [1, 0]])
    from fathom.graph import SparseFeatures

    model.eval()
    assert torch.allclose(model(x, edge_index), model(SparseFeatures(x), edge_index), atol=1e-6)
    model.train()
    torch.manual_seed(0)
    first = model(x, edge_index)
    torch.manual_seed(1)
    assert not torch.allclose(first, model(x, edge_index))
    assert not torch.allclose(model(SparseFeatures(x), edge_index), model(SparseFeatures(x), edge_index))


@pytest.mark.parametrize("changes, match", [
    ({"initial_residual": 0.1, "norm": "weight"}, "GCNII branch"),
    ({"identity_mapping": 0.5, "norm": "layer"}, "GCNII branch"),
    ({"identity_mapping": 0.0}, "identity_mapping must lie in"),
    ({"initial_residual": 1.5}, "initial_residual must lie in"),
    ({"input_dropout": 1.0}, "input_dropout must lie in"),
    ({"initial_residual": 0.1, "memory": "reversible"}, "initial_residual and identity_mapping need memory"),
])
def test_invalid_gcnii_options_are_named(changes, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**changes)


# --- Park & Kim's options: activation and its place, the encoder/decoder, the GAT branch -------------


@pytest.mark.parametrize("changes, match", [
    ({"negative_slope": -0.1}, r"negative_slope must lie in \[0.0, inf\); got -0.1"),
    ({"activation_position": "mid"}, r"activation_position must be one of pre, post; got 'mid'"),
    ({"io": "mlp"}, r"io must be one of linear, park; got 'mlp'"),
    ({"conv": "gin"}, r"conv must be one of fathom, gat; got 'gin'"),
    ({"conv": "gat", "heads": 0}, r"heads must lie in \[1, inf\); got 0"),
    ({"heads": 2}, r"heads=2 needs conv=gat"),
    ({"conv": "gat", "aggregation": "sum"}, r"conv=gat aggregates with its attention.*leave them at gcn and none"),
    ({"conv": "gat", "component_scaling": "perron"}, r"conv=gat aggregates with its attention"),
    ({"conv": "gat", "norm": "layer", "residual": "plain"}, r"norm=layer .* GAT's attention depends on Z"),
    ({"conv": "gat", "memory": "reversible", "residual": "plain"}, r"conv=gat needs memory full or checkpoint"),
    ({"conv": "gat", "initial_residual": 0.1}, r"initial_residual and identity_mapping .* need conv=fathom"),
    ({"activation_position": "post", "identity_mapping": 0.5}, r"need conv=fathom and activation_position=pre"),
], ids=lambda v: "-".join(f"{k}={v[k]}" for k in v) if isinstance(v, dict) else "")
def test_invalid_park_options_are_named(changes, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**changes)


ACTIVATIONS = [("relu", 0.8), ("identity", 0.8), ("gelu", 0.8), ("leaky_relu", 0.8), ("leaky_relu", 0.3)]


@pytest.mark.parametrize("activation, slope", ACTIVATIONS)
@pytest.mark.parametrize("position", ["pre", "post"])
@pytest.mark.parametrize("residual", ["none", "plain", "fixup"])
def test_activation_and_its_position_against_hand_computation(make_er, dense_operator, numpy_activation, activation,
                                                              slope, position, residual):
    """pre: B_l = A_a act(Z_{l-1}) W_l^T; post: B_l = act(A_a Z_{l-1} W_l^T); Z_l = B_l (none) or
    Z_{l-1} + beta B_l; Y = act(Z_L) Wh^T + bh; act written out in numpy (GELU with scipy's erf)."""
    edge_index = make_er(15, 0.25, seed=1, directed=True)
    config = ModelConfig(depth=2, width=6, aggregation="mean", residual_aggregation=0.3, residual=residual,
                         activation=activation, negative_slope=slope, activation_position=position, init="kaiming")
    model = DeepGNN(config, 3, 2).double()
    _randomise_biases(model)
    x = _features(15, 3)
    a_op = dense_operator(edge_index, 15, "mean", 0.3)
    beta = {"none": None, "plain": 1.0, "fixup": 1 / math.sqrt(2)}[residual]

    def act(z):
        return numpy_activation(activation, z, slope)

    z = _np(x) @ _np(model.encoder.weight).T + _np(model.encoder.bias)
    for block in model.blocks:
        weight = _np(block.conv.lin.weight).T
        branch = a_op @ act(z) @ weight if position == "pre" else act(a_op @ z @ weight)
        z = branch if beta is None else z + beta * branch
    expected = act(z) @ _np(model.head.weight).T + _np(model.head.bias)
    np.testing.assert_allclose(_np(model(x, edge_index)), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("position", ["pre", "post"])
def test_park_encoder_and_decoder_against_hand_computation(make_er, dense_operator, position):
    """io=park: Z_0 = relu(X We^T + be) (dropout only in training), blocks, Y = relu(Z_L W1^T + b1) Wh^T + bh,
    with ReLU in the encoder and decoder whatever the blocks' activation (identity here)."""
    edge_index = make_er(15, 0.25, seed=2)
    config = ModelConfig(depth=2, width=6, aggregation="gcn", residual_aggregation=0.0, residual="plain",
                         activation="identity", activation_position=position, io="park", dropout=0.5)
    model = DeepGNN(config, 3, 4).double().eval()
    assert model.encoder.weight.shape == (6, 3) and model.head_hidden.weight.shape == (6, 6)
    assert model.head.weight.shape == (4, 6) and DeepGNN(config.replace(io="linear"), 3, 4).head_hidden is None
    with torch.no_grad():
        for bias in (model.encoder.bias, model.head_hidden.bias, model.head.bias):
            bias.copy_(torch.randn(bias.shape, generator=torch.Generator().manual_seed(bias.numel()),
                                   dtype=torch.float64))
    x = _features(15, 3)
    a_op = dense_operator(edge_index, 15, "gcn")
    z = _relu(_np(x) @ _np(model.encoder.weight).T + _np(model.encoder.bias))
    for block in model.blocks:
        z = z + a_op @ z @ _np(block.conv.lin.weight).T
    hidden = _relu(z @ _np(model.head_hidden.weight).T + _np(model.head_hidden.bias))
    expected = hidden @ _np(model.head.weight).T + _np(model.head.bias)
    out = model(x, edge_index)
    assert out.shape == (15, 4)
    np.testing.assert_allclose(_np(out), expected, rtol=1e-10, atol=1e-12)
    model.train()
    assert not torch.allclose(model(x, edge_index), out)  # the encoder's dropout acts in training


def _sharpen_attention(model: DeepGNN) -> None:
    with torch.no_grad():
        for block in model.blocks:
            block.conv.att_src.mul_(4.0)
            block.conv.att_dst.mul_(4.0)


@pytest.mark.parametrize("position", ["pre", "post"])
@pytest.mark.parametrize("residual", ["none", "fixup"])
def test_gat_blocks_against_hand_computation(make_er, numpy_activation, gat_by_hand, position, residual):
    """B_l = GAT_l(act(Z)) (pre) or act(GAT_l(Z)) (post), GAT_l(Z) = (1/H) sum_h ((1-a) P_h + a I) Z W_h
    written out with numpy's attention (tests/nn/conftest.py); Z_l = B_l or Z + beta B_l."""
    edge_index = make_er(12, 0.3, seed=4, directed=True)
    config = ModelConfig(depth=2, width=5, conv="gat", heads=2, residual_aggregation=0.2, residual=residual,
                         activation="leaky_relu", negative_slope=0.3, activation_position=position)
    torch.manual_seed(0)
    model = DeepGNN(config, 3, 2).double()
    _randomise_biases(model)
    _sharpen_attention(model)
    x = _features(12, 3)

    def act(z):
        return numpy_activation("leaky_relu", z, 0.3)

    z = _np(x) @ _np(model.encoder.weight).T + _np(model.encoder.bias)
    for block in model.blocks:
        branch = (gat_by_hand(block.conv, act(z), edge_index, 0.2) if position == "pre"
                  else act(gat_by_hand(block.conv, z, edge_index, 0.2)))
        z = branch if residual == "none" else z + config.branch_scale * branch
    expected = act(z) @ _np(model.head.weight).T + _np(model.head.bias)
    np.testing.assert_allclose(_np(model(x, edge_index)), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("changes, gain", [
    ({"activation": "leaky_relu"}, 2 / (1 + 0.8**2)),
    ({"activation": "leaky_relu", "negative_slope": 0.2}, 2 / (1 + 0.2**2)),
    ({"activation": "gelu"}, 2.3517),
    ({"activation": "gelu", "activation_position": "post"}, 2.1551),
    ({"activation": "relu", "activation_position": "post"}, 2.0),
    ({"conv": "gat", "heads": 4}, 2.0 * 4),
    ({"conv": "gat", "heads": 2, "activation": "leaky_relu", "negative_slope": 0.5}, 2 / 1.25 * 2),
], ids=lambda v: "-".join(f"{k}={v[k]}" for k in v) if isinstance(v, dict) else "")
def test_gnn_he_variance_uses_the_activations_gain_and_gats_heads(changes, gain):
    """Var(W) = g H / (n lambda_1^2): GAT's attention has lambda_1 = 1 whatever perron_root is given
    (aggregation is gcn there; the 4.0 below applies to the fathom cases only)."""
    torch.manual_seed(0)
    gat = changes.get("conv") == "gat"
    config = ModelConfig(depth=4, width=128, aggregation="gcn" if gat else "sum", **changes)
    model = DeepGNN(config, 3, 2, perron_root=4.0)
    weights = torch.cat([w.detach().flatten() for w in model.branch_weights()]).double()
    root = 1.0 if gat else 4.0
    heads = changes.get("heads", 1)
    assert weights.numel() == 4 * heads * 128 * 128
    assert weights.var().item() == pytest.approx(gain / (128 * root**2), rel=max(1e-3, 5 * math.sqrt(2 / POOLED)))


def _circulant(num_nodes: int, offsets: tuple[int, ...]) -> torch.Tensor:
    nodes = torch.arange(num_nodes)
    pairs = [(nodes, (nodes + k) % num_nodes) for k in offsets] + [((nodes + k) % num_nodes, nodes) for k in offsets]
    return torch.stack([torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])])


@pytest.mark.parametrize("graph, changes", [
    ("er-mean", {"activation": "leaky_relu"}), ("regular-sum", {"activation": "leaky_relu"}),
    ("er-mean", {"activation": "gelu"}), ("er-mean", {"activation": "gelu", "activation_position": "post"}),
    ("regular-sum", {"activation": "leaky_relu", "negative_slope": 0.3, "activation_position": "post"}),
    ("er-gat", {"activation": "leaky_relu", "conv": "gat", "heads": 3}),
], ids=lambda v: "-".join(f"{k}={v[k]}" for k in v) if isinstance(v, dict) else v)
def test_gnn_he_keeps_the_second_moment_of_correlated_features_by_monte_carlo(make_er, graph, changes):
    """One gnn_he block (residual none) on a random graph, input Z = 1 h^T with h ~ N(0, I) (every node
    alike: the correlated regime): E[Z'^2] = E[Z^2] = 1, averaged over 400 draws of W (and h). Mean
    aggregation on an Erdos-Renyi graph has A_a 1 = 1; sum aggregation on a 4-regular graph
    A_a 1 = 5 * 1, with lambda_1 = 5 found by DeepGNN.for_graph. GAT's attention is uniform on
    identical rows, so P_h 1 = 1 on any graph (and its lambda_1 = 1)."""
    kind = {"er-mean": "mean", "regular-sum": "sum", "er-gat": "gcn"}[graph]
    edge_index = _circulant(30, (1, 4)) if graph == "regular-sum" else make_er(30, 0.2, seed=5)
    width = 256
    config = ModelConfig(depth=1, width=width, aggregation=kind, residual_aggregation=0.0, residual="none",
                         init="gnn_he", **changes)
    data = Data(x=torch.zeros(30, 3), edge_index=edge_index)
    torch.manual_seed(0)
    model = DeepGNN.for_graph(config, data, 2).double()
    if graph == "regular-sum":
        assert model.perron_root == pytest.approx(5.0, rel=1e-6)
    operator = model.operator_for(edge_index, torch.zeros(30, width, dtype=torch.float64))
    generator = torch.Generator().manual_seed(1)
    moments = []
    with torch.no_grad():
        for seed in range(400):
            torch.manual_seed(100 + seed)
            model.reset_parameters()
            h = torch.randn(width, generator=generator, dtype=torch.float64)
            moments.append(float(model.blocks[0](torch.ones(30, 1, dtype=torch.float64) * h, operator).square().mean()))
    moments = np.array(moments)
    standard_error = moments.std() / math.sqrt(len(moments))
    assert moments.mean() == pytest.approx(1.0, abs=5 * standard_error), (moments.mean(), standard_error)
    assert standard_error < 0.015  # a gain 10% off would be seen


@pytest.mark.parametrize("changes", [{"activation": "leaky_relu"}, {"activation_position": "post"}],
                         ids=["leaky_relu-pre", "relu-post"])
def test_gnn_he_has_no_exponential_trend_for_leaky_relu_and_post_activation(make_er, changes):
    scales = _mean_scales(make_er, "gcn", "gnn_he", torch.float32, **changes)
    assert 0.2 <= scales[SP_DEPTH - 1] / scales[16 - 1] <= 5, scales[[0, 15, 63]]


def test_reversible_post_activation_branch_is_beta_act_of_the_aggregation(make_er, dense_operator, numpy_activation):
    edge_index = make_er(20, 0.2, seed=2)
    config = ModelConfig(depth=4, width=8, aggregation="mean", residual_aggregation=0.3, residual="fixup",
                         memory="reversible", activation="gelu", activation_position="post")
    model = DeepGNN(config, 3, 2).double()
    branch = model.blocks[0].convs[0]
    x = _features(20, 4)
    expected = 0.5 * numpy_activation("gelu", dense_operator(edge_index, 20, "mean", 0.3) @ _np(x)
                                      @ _np(branch.conv.lin.weight).T)
    np.testing.assert_allclose(_np(branch(x, model.operator_for(edge_index, x))), expected, rtol=1e-10, atol=1e-12)


def test_a_16_block_gat_with_the_weight_bound_trains_on_csbm():
    """Residual GAT (2 heads) with the Frobenius weight bound, 16 blocks: full-batch Adam fits the
    training nodes of a CSBM graph and beats chance (0.25) on the test nodes by far."""
    from fathom.data import csbm

    data = csbm(num_nodes=300, seed=0)
    config = ModelConfig(depth=16, width=16, conv="gat", heads=2, residual="plain", norm="weight",
                         residual_aggregation=0.0, init="glorot")
    torch.manual_seed(0)
    model = DeepGNN(config, data.num_features, 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    for _ in range(100):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data.x, data.edge_index)[data.train_mask], data.y[data.train_mask])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = model(data.x, data.edge_index).argmax(1)
    train = float((predicted == data.y)[data.train_mask].float().mean())
    test = float((predicted == data.y)[data.test_mask].float().mean())
    bounded = [float(torch.linalg.matrix_norm(block.conv.lin.weight.detach().view(2, 16, 16)).mean())
               for block in model.blocks]
    assert max(bounded) <= 0.999 + 1e-6
    assert train > 0.95 and test > 0.6, (train, test)


def test_reset_parameters_redraws_gats_attention_vectors():
    model = DeepGNN(ModelConfig(depth=2, width=8, conv="gat", heads=2), 3, 2)
    before = model.blocks[0].conv.att_src.detach().clone()
    torch.manual_seed(123)
    model.reset_parameters()
    after = model.blocks[0].conv.att_src.detach()
    assert after.shape == (1, 2, 8) and not torch.equal(before, after) and float(after.abs().max()) > 0

"""Initializers: sample moments against the closed-form variances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import ChebConv, GATConv, GCNConv, GINConv, GraphConv, SAGEConv
from torch_geometric.nn.models import GAT, GCN, GIN, GraphSAGE
from torch_geometric.nn.models.basic_gnn import BasicGNN
from torch_geometric.utils import erdos_renyi_graph

from fathom.init import GraphSpectra, gain_of, glorot_, gnn_he_, kaiming_, perron_root_of, principled_
from fathom.nn import FathomConv, residual_aggregation

FAN_OUT, FAN_IN = 512, 256  # weight shape [fan_out, fan_in]; non-square so swapped fans are caught
NUM = FAN_OUT * FAN_IN
# Sampling noise with NUM = 131072 iid entries of variance s2 (tolerances are 5 standard deviations):
# - sample variance of a normal sample: relative std sqrt(2 / NUM) ~ 0.0039 (kurtosis 3);
# - of a uniform sample: relative std sqrt((9/5 - 1) / NUM) ~ 0.0025 (kurtosis 9/5);
# - sample mean: std sqrt(s2 / NUM).
NORMAL_VAR_RTOL = 5 * math.sqrt(2 / NUM)
UNIFORM_VAR_RTOL = 5 * math.sqrt(0.8 / NUM)


def _weight(seed: int) -> tuple[torch.Tensor, torch.Generator]:
    return torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64), torch.Generator().manual_seed(seed)


def _assert_moments(weight: torch.Tensor, variance: float, var_rtol: float) -> None:
    assert weight.var().item() == pytest.approx(variance, rel=var_rtol)
    assert abs(weight.mean().item()) < 5 * math.sqrt(variance / NUM)


def _assert_normal_shape(weight: torch.Tensor, variance: float) -> None:
    """Fraction within one std is 0.6827 for a normal (0.577 for a uniform); binomial noise 5 sigma."""
    inside = (weight.abs() < math.sqrt(variance)).double().mean().item()
    p = math.erf(1 / math.sqrt(2))
    assert inside == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / NUM))


@pytest.mark.parametrize("perron_root", [1.0, 3.5, 0.6])
def test_gnn_he_variance(perron_root):
    weight, gen = _weight(0)
    out = gnn_he_(weight, perron_root, generator=gen)
    assert out is weight  # in place
    variance = 2.0 / (FAN_IN * perron_root**2)
    _assert_moments(weight, variance, NORMAL_VAR_RTOL)
    _assert_normal_shape(weight, variance)


def test_kaiming_variance():
    weight, gen = _weight(1)
    assert kaiming_(weight, generator=gen) is weight
    _assert_moments(weight, 2.0 / FAN_IN, NORMAL_VAR_RTOL)
    _assert_normal_shape(weight, 2.0 / FAN_IN)


def test_glorot_variance_and_bound():
    weight, gen = _weight(2)
    assert glorot_(weight, generator=gen) is weight
    bound = math.sqrt(6.0 / (FAN_IN + FAN_OUT))
    _assert_moments(weight, 2.0 / (FAN_IN + FAN_OUT), UNIFORM_VAR_RTOL)
    assert weight.abs().max().item() <= bound
    assert weight.abs().max().item() > 0.999 * bound  # fills the interval: P(max < 0.999 b) = 0.999^NUM
    # uniform, not normal: a quarter of the mass in each quarter of [-b, b]
    quarters = torch.histc(weight, bins=4, min=-bound, max=bound) / NUM
    torch.testing.assert_close(quarters, torch.full((4,), 0.25, dtype=torch.float64), atol=0.01, rtol=0)


def test_gnn_he_is_kaiming_divided_by_perron_root():
    """Same generator state: gnn_he_(lambda) = kaiming_ / lambda entry by entry; lambda = 1 is kaiming_."""
    he, gen = _weight(3)
    kaiming_(he, generator=gen)
    scaled, gen = _weight(3)
    gnn_he_(scaled, 3.5, generator=gen)
    torch.testing.assert_close(scaled, he / 3.5, rtol=1e-12, atol=0)
    unit, gen = _weight(3)
    gnn_he_(unit, 1.0, generator=gen)
    assert torch.equal(unit, he)


def test_initializers_work_on_parameters():
    """They run under no_grad, so an nn.Parameter (a leaf requiring grad) can be filled in place."""
    layer = nn.Linear(FAN_IN, FAN_OUT, bias=False)
    for init in (lambda w: gnn_he_(w, 2.0), kaiming_, glorot_):
        init(layer.weight)
        assert layer.weight.requires_grad and layer.weight.grad_fn is None


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_gnn_he_rejects_bad_perron_root(bad):
    with pytest.raises(ValueError, match="perron_root must be a positive finite number"):
        gnn_he_(torch.empty(4, 4), bad)


@pytest.mark.parametrize("init", [lambda w: gnn_he_(w, 2.0), kaiming_, glorot_], ids=["gnn_he", "kaiming", "glorot"])
def test_initializers_reject_non_matrix(init):
    with pytest.raises(ValueError, match=r"2-d weight \[fan_out, fan_in\], got shape \[3, 4, 5\]"):
        init(torch.empty(3, 4, 5))


def test_gnn_he_gain_scales_the_variance():
    torch.manual_seed(0)
    weight = gnn_he_(torch.empty(512, 256), perron_root=2.0, gain=1.0)
    assert weight.var().item() == pytest.approx(1 / (256 * 4.0), rel=5 * math.sqrt(2 / weight.numel()))
    with pytest.raises(ValueError, match="gain"):
        gnn_he_(torch.empty(3, 3), gain=0.0)


# --- principled_ on PyG models ---------------------------------------------------------------------


class GraphConvGNN(BasicGNN):
    """PyG has no BasicGNN of GraphConv layers; this is one (act between layers, as the others)."""

    supports_edge_weight, supports_edge_attr, supports_norm_batch = True, False, False

    def init_conv(self, in_channels, out_channels, **kwargs):
        return GraphConv(in_channels, out_channels, **kwargs)


DEPTH, WIDTH, NODES, SEEDS = 32, 512, 100, 6
STACKS = {
    "GCNConv": lambda: GCN(WIDTH, WIDTH, DEPTH),
    "GCNConv(add_self_loops=False)": lambda: GCN(WIDTH, WIDTH, DEPTH, add_self_loops=False),
    "GCNConv(normalize=False)": lambda: GCN(WIDTH, WIDTH, DEPTH, normalize=False),
    "GraphConv(aggr=add)": lambda: GraphConvGNN(WIDTH, WIDTH, DEPTH),
    "GraphConv(aggr=mean)": lambda: GraphConvGNN(WIDTH, WIDTH, DEPTH, aggr="mean"),
    "SAGEConv": lambda: GraphSAGE(WIDTH, WIDTH, DEPTH),
    "SAGEConv(aggr=add)": lambda: GraphSAGE(WIDTH, WIDTH, DEPTH, aggr="add"),
    "GINConv": lambda: GIN(WIDTH, WIDTH, DEPTH),
    "GATConv(heads=4)": lambda: GAT(WIDTH, WIDTH, DEPTH, heads=4),
    "GATConv(heads=2, concat=False)": lambda: GAT(WIDTH, WIDTH, DEPTH, heads=2, concat=False),
    "GCNConv(normalize=False) + residual_aggregation(0.5)":
        lambda: _residual(GCN(WIDTH, WIDTH, DEPTH, normalize=False), 0.5),
}


def _residual(model, a):
    for conv in model.convs:
        residual_aggregation(conv, a)
    return model


def _output_scale(model, principled: bool, seeds: int, make_er) -> float:
    """Mean over seeds of ``M(output) / M(input)``, ``M`` the mean squared entry; a fresh graph,
    input and initialisation per seed (PyG's ``reset_parameters`` or :func:`principled_`).

    Inputs are non-negative (uniform in [0, 1], like bag-of-words features or ReLU outputs), so the
    nodes' features are already correlated and the rule's fixed point applies from the first layer;
    uncorrelated inputs first lose a one-time factor of about 1/(degree + 1) (dezoort2023.md). The
    arithmetic mean is the quantity the rule keeps (``E M(l+1) = M(l)``); one seed's ratio scatters
    around it by a factor e^(+-0.3 to 0.9) at width 256 (finite-width fluctuations, larger for GIN,
    whose MLP doubles the number of random matrices).
    """
    ratios = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        edge_index = make_er(NODES, 0.1, seed)
        x = torch.rand(NODES, WIDTH)
        if principled:
            principled_(model, Data(x=x, edge_index=edge_index, num_nodes=NODES))
        else:
            model.reset_parameters()
        with torch.no_grad():
            out = model(x, edge_index)
        ratios.append(float(out.double().pow(2).mean() / x.double().pow(2).mean()))
    return sum(ratios) / len(ratios)


@pytest.mark.parametrize("name", list(STACKS))
def test_principled_keeps_the_scale_of_a_32_layer_stack_and_the_default_does_not(name, make_er):
    model = STACKS[name]()
    principled = _output_scale(model, True, SEEDS, make_er)
    default = _output_scale(model, False, 2, make_er)  # off by orders of magnitude: two seeds show it
    assert 0.25 <= principled <= 4, f"{name}: M(out)/M(in) = {principled:.3g} after principled_"
    assert not 0.1 <= default <= 10, f"{name}: PyG's default init keeps the scale too ({default:.3g})"


# The operator each layer applies, read off the layer itself: identity weights, identity features.
def _dense_operator_of(conv, edge_index, n) -> np.ndarray:
    with torch.no_grad():
        for p in conv.parameters():
            p.zero_()
        if isinstance(conv, (GCNConv, GATConv, FathomConv)):
            conv.lin.weight.copy_(torch.eye(n))
        elif isinstance(conv, GraphConv):
            conv.lin_rel.weight.copy_(torch.eye(n))  # root weight zero: the neighbour term alone
        elif isinstance(conv, SAGEConv):
            conv.lin_l.weight.copy_(torch.eye(n))
        if isinstance(conv, GINConv):
            conv.eps.fill_(conv.initial_eps)
        return conv(torch.eye(n, dtype=torch.float32), edge_index).double().numpy()


def _tiny(directed: bool):
    # 0-1-2 triangle, 2-3, 3-4 (undirected); or a directed 4-cycle 0->1->2->3->0 with chords 0->2, 4->0.
    if directed:
        pairs = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2), (4, 0)]
        src, dst = zip(*pairs)
    else:
        pairs = [(0, 1), (1, 2), (0, 2), (2, 3), (3, 4)]
        src = [i for i, j in pairs] + [j for i, j in pairs]
        dst = [j for i, j in pairs] + [i for i, j in pairs]
    return torch.tensor([src, dst]), 5


N5 = 5
CONVS = {
    "GCNConv": lambda: GCNConv(N5, N5),
    "GCNConv(add_self_loops=False)": lambda: GCNConv(N5, N5, add_self_loops=False),
    "GCNConv(normalize=False)": lambda: GCNConv(N5, N5, normalize=False),
    "GraphConv(aggr=add)": lambda: GraphConv(N5, N5),
    "GraphConv(aggr=mean)": lambda: GraphConv(N5, N5, aggr="mean"),
    "SAGEConv": lambda: SAGEConv(N5, N5),
    "SAGEConv(aggr=add)": lambda: SAGEConv(N5, N5, aggr="add"),
    "GINConv(eps=0.3)": lambda: GINConv(torch.nn.Identity(), eps=0.3),
    "GATConv": lambda: GATConv(N5, N5),
    "FathomConv(sum)": lambda: FathomConv(N5, N5, "sum", activation="identity"),
    "FathomConv(mean, a=0.4)": lambda: FathomConv(N5, N5, "mean", 0.4, activation="identity"),
}
DIRECTED_OK = ("GCNConv", "GCNConv(normalize=False)", "GraphConv(aggr=add)", "SAGEConv(aggr=add)",
               "GINConv(eps=0.3)", "GATConv", "FathomConv(sum)", "FathomConv(mean, a=0.4)")


@pytest.mark.parametrize("a", [0.0, 0.3])
@pytest.mark.parametrize("name", list(CONVS))
def test_perron_root_matches_a_dense_eigenvalue_computation(name, a):
    """lambda_1 of the operator the layer really applies (read off its output) = principled_'s Perron root."""
    for directed in (False, True):
        if directed and name not in DIRECTED_OK:
            continue
        edge_index, n = _tiny(directed)
        conv = CONVS[name]()
        if a and not isinstance(conv, FathomConv):
            residual_aggregation(conv, a)
        operator = _dense_operator_of(conv, edge_index, n)
        expected = max(abs(np.linalg.eigvals(operator)))
        assert perron_root_of(conv, Data(edge_index=edge_index, num_nodes=n)) == pytest.approx(expected, rel=1e-6), \
            f"{name}, a={a}, directed={directed}"


def test_neighbour_mean_on_a_directed_graph_is_an_error_not_a_guess():
    edge_index, n = _tiny(directed=True)
    with pytest.raises(ValueError, match=r"SAGEConv\(aggr='mean'\).*directed graph"):
        perron_root_of(SAGEConv(N5, N5), Data(edge_index=edge_index, num_nodes=n))


def _var(linear) -> float:
    return linear.weight.double().var().item()


def _graph(n=300, seed=0):
    torch.manual_seed(seed)
    return Data(edge_index=erdos_renyi_graph(n, 0.05), num_nodes=n)


def test_each_weight_gets_its_share_of_the_variance():
    """Var = g s / (fan_in lambda^2): two-weight layers split the budget, mean-over-heads multiplies by H."""
    torch.manual_seed(0)
    data, n = _graph(), 512
    lam = GraphSpectra.from_data(data).adjacency()
    tol = dict(rel=0.03)  # 262144 entries: relative std of the sample variance 0.3%

    graph_conv = principled_(GraphConv(n, n), data)
    assert _var(graph_conv.lin_rel) == pytest.approx(2 * 0.5 / (n * lam**2), **tol)
    assert _var(graph_conv.lin_root) == pytest.approx(2 * 0.5 / n, **tol)
    assert graph_conv.lin_rel.bias.abs().max() == 0

    gat = principled_(GATConv(n, n // 4, heads=4, concat=False, residual=True), data)
    assert _var(gat.lin) == pytest.approx(2 * 0.5 * 4 / n, **tol) and _var(gat.res) == pytest.approx(2 * 0.5 / n, **tol)

    gin = principled_(GIN(n, n, 2), data)  # BasicGNN: the first layer sees raw features, gain 1
    first, second = gin.convs[0].nn.lins, gin.convs[1].nn.lins
    assert _var(first[0]) == pytest.approx(1 / (n * (1 + lam) ** 2), **tol)
    assert _var(first[1]) == pytest.approx(2 / n, **tol)
    assert _var(second[0]) == pytest.approx(2 / (n * (1 + lam) ** 2), **tol)

    gcn = principled_(_residual(GCN(n, n, 2, act="leaky_relu", act_kwargs={"negative_slope": 0.5},
                                    normalize=False), 0.25), data)
    assert _var(gcn.convs[1].lin) == pytest.approx(2 / 1.25 / (n * (0.75 * lam + 0.25) ** 2), **tol)
    assert _var(gcn.convs[0].lin) == pytest.approx(1 / (n * (0.75 * lam + 0.25) ** 2), **tol)


def test_activation_gains():
    assert gain_of(torch.nn.ReLU()) == pytest.approx(2.0)
    assert gain_of(None) == gain_of(torch.nn.Identity()) == gain_of("identity") == 1.0
    assert gain_of(torch.nn.LeakyReLU(0.2)) == pytest.approx(2 / 1.04)
    with pytest.raises(ValueError, match="GELU.*activation_gain"):
        gain_of(torch.nn.GELU())
    with pytest.raises(ValueError, match="GELU.*activation_gain"):
        principled_(GCN(8, 8, 2, act="gelu"), _graph(20))
    model = principled_(GCN(8, 8, 2, act="gelu"), _graph(20), activation_gain=1.7)  # given: no inference
    assert model.convs[1].lin.weight.std() > 0


class RenamedGCNConv(GCNConv):
    pass


@pytest.mark.parametrize("layer", [ChebConv(4, 4, K=2), RenamedGCNConv(4, 4), GCNConv(4, 4, improved=True),
                                   GraphConv(4, 4, aggr="max"), SAGEConv(4, 4, project=True)],
                         ids=["ChebConv", "subclass", "improved", "max", "project"])
def test_a_layer_it_cannot_reason_about_is_an_error_naming_its_type(layer):
    model = torch.nn.ModuleList([GCNConv(4, 4), layer])
    before = model[0].lin.weight.clone()
    with pytest.raises(ValueError, match=type(layer).__name__):
        principled_(model, _graph(20))
    assert torch.equal(model[0].lin.weight, before)  # nothing changed before the error


def test_graphs_principled_cannot_read_are_errors():
    with pytest.raises(ValueError, match="no MessagePassing layer"):
        principled_(torch.nn.Linear(3, 3), _graph(20))
    loops = Data(edge_index=torch.tensor([[0, 1, 1], [1, 0, 1]]), num_nodes=2)
    with pytest.raises(ValueError, match="1 self-loops.*remove_self_loops"):
        principled_(GCN(4, 4, 2), loops)


@pytest.mark.parametrize("init", [gnn_he_, kaiming_, glorot_])
def test_a_weight_without_inputs_is_left_as_it_is(init):
    """fan_in = 0 (a layer on zero features): nothing to draw; gnn_he_ and kaiming_ divided by it
    (ZeroDivisionError, found by tests/test_init_properties.py)."""
    weight = torch.empty(4, 0)
    assert init(weight) is weight and weight.shape == (4, 0)


@pytest.mark.parametrize("perron_root, gain", [(4e-258, 1.0), (1e-320, 2.0), (1.0, 1e300)])
def test_gnn_he_refuses_a_standard_deviation_that_overflows(perron_root, gain):
    """A Perron root near zero or a huge gain gave infinite weights (found by tests/test_init_properties.py)."""
    weight = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="standard deviation .* overflows torch.float32"):
        gnn_he_(weight, perron_root, gain)
    assert bool((weight == 0).all())  # left untouched

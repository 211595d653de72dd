"""Graph classification: stratified folds, the per-batch operator, the readout and its accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch_geometric.data import Batch, Data

from fathom.config import ModelConfig, TrainConfig
from fathom.graph import AggregationOperator
from fathom.nn import DeepGNN
from fathom.tasks import GraphClassification, stratified_folds
from fathom.train import fit


def _graph(kind: str, size: int, label: int, seed: int) -> Data:
    """A path, or a ring (``ring`` closes it); the first feature is shifted by the label."""
    ids = torch.arange(size)
    pairs = [(i, i + 1) for i in range(size - 1)] + ([(size - 1, 0)] if kind == "ring" else [])
    edges = torch.tensor(pairs, dtype=torch.long).t()
    edge_index = torch.cat([edges, edges.flip(0)], dim=1)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(size, 3, generator=generator)
    x[:, 0] += 2.0 * label
    return Data(x=x, edge_index=edge_index, y=torch.tensor([label]), num_nodes=int(ids.numel()))


def _dataset(count: int = 60) -> list[Data]:
    """Rings (class 1) and paths (class 0) of 4-12 nodes; a third of the graphs are class 1."""
    return [_graph("ring" if i % 3 == 0 else "path", 4 + i % 9, int(i % 3 == 0), i) for i in range(count)]


def test_folds_are_disjoint_cover_every_graph_and_keep_the_class_proportions():
    labels = torch.tensor([0] * 37 + [1] * 13 + [2] * 20)
    folds = stratified_folds(labels, 10, seed=4)
    joined = torch.cat(folds)
    assert joined.numel() == labels.numel() and torch.equal(joined.sort().values, torch.arange(labels.numel()))
    for label in range(3):
        counts = [int((labels[fold] == label).sum()) for fold in folds]
        assert max(counts) - min(counts) <= 1, (label, counts)
    sizes = [fold.numel() for fold in folds]
    assert max(sizes) - min(sizes) <= 1
    assert not torch.equal(torch.cat(stratified_folds(labels, 10, seed=5)), joined)  # the seed matters


def test_train_validation_and_test_graphs_are_disjoint_and_test_is_the_fold():
    dataset = _dataset()
    labels = torch.tensor([int(g.y) for g in dataset])
    for fold in (0, 7):
        task = GraphClassification(dataset, fold=fold, seed=2)
        index = task.index
        assert torch.equal(index["test"], stratified_folds(labels, 10, seed=2)[fold])
        together = torch.cat([index["train"], index["val"], index["test"]])
        assert together.unique().numel() == together.numel() == len(dataset)
        assert set(labels[index["val"]].tolist()) == {0, 1}  # the holdout is stratified too
    with pytest.raises(ValueError, match="fold must lie in 0..9; got 10"):
        GraphClassification(dataset, fold=10)


@pytest.mark.parametrize("kind,scaling", [("gcn", "none"), ("sum", "none"), ("sum", "unit")])
def test_the_batch_operator_is_the_graphs_operators_stacked_block_diagonally(kind, scaling):
    graphs = [_graph("ring", 5, 1, 0), _graph("path", 3, 0, 1), _graph("path", 7, 0, 2)]
    batch = Batch.from_data_list(graphs)
    stacked = torch.block_diag(*[
        AggregationOperator(g.edge_index, g.num_nodes, kind, 0.3, dtype=torch.float64,
                            component_scaling=scaling).to_dense() for g in graphs])
    together = AggregationOperator(batch.edge_index, batch.num_nodes, kind, 0.3, dtype=torch.float64,
                                   component_scaling=scaling)
    torch.testing.assert_close(together.to_dense(), stacked)
    if scaling == "unit":
        assert together.perron_root() == 1.0
        for g in graphs:
            dense = AggregationOperator(g.edge_index, g.num_nodes, kind, 0.3, dtype=torch.float64,
                                        component_scaling=scaling).to_dense().numpy()
            assert float(np.abs(np.linalg.eigvals(dense)).max()) == pytest.approx(1.0, rel=1e-7)


class _NodeScores(nn.Module):
    """Returns the first two feature columns as node logits."""

    def forward(self, x, edge_index):
        return x[:, :2]


def test_the_readout_pools_each_graph_and_accuracy_counts_graphs():
    graphs = []
    for i, (label, votes) in enumerate([(0, [[2.0, 0.0], [0.0, 1.0]]),  # sum (2, 1): class 0, right
                                        (1, [[1.0, 0.0], [0.0, 3.0], [0.0, 1.0]]),  # (1, 4): class 1, right
                                        (1, [[5.0, 0.0]]),  # (5, 0): class 0, wrong
                                        (0, [[0.0, 1.0], [0.0, 1.0]])]):  # (0, 2): class 1, wrong
        x = torch.tensor(votes)
        graphs.append(Data(x=x, edge_index=torch.empty(2, 0, dtype=torch.long), y=torch.tensor([label]),
                           num_nodes=len(votes)))
    task = GraphClassification(graphs * 5, fold=0, folds=2)
    batch = Batch.from_data_list(graphs)
    logits = task.logits(_NodeScores(), batch)
    torch.testing.assert_close(logits, torch.tensor([[2.0, 1.0], [1.0, 4.0], [5.0, 0.0], [0.0, 2.0]]))
    scores = task.evaluate(_NodeScores())
    assert scores == {"val_acc": pytest.approx(_expected(task, "val")), "test_acc": pytest.approx(_expected(task, "test")),
                      "val_loss": pytest.approx(_expected_loss(task, "val"))}
    assert scores["test_acc"] == pytest.approx(0.5)  # stratified halves hold each graph kind alike
    larger = GraphClassification(graphs * 25, fold=0, folds=2)  # five validation graphs: a mean, not a sum
    assert larger.index["val"].numel() == 5
    assert larger.evaluate(_NodeScores())["val_loss"] == pytest.approx(_expected_loss(larger, "val"))
    mean = GraphClassification(graphs * 5, fold=0, folds=2, readout="mean")
    torch.testing.assert_close(mean.logits(_NodeScores(), batch)[1], torch.tensor([1 / 3, 4 / 3]))


def _expected(task: GraphClassification, split: str) -> float:
    right = [True, True, False, False] * 5
    return float(np.mean([right[i] for i in task.index[split].tolist()]))


def _expected_loss(task: GraphClassification, split: str) -> float:
    """The mean cross-entropy per graph: -log softmax of the label's logit, -log(1 / (1 + e^(other - own)))."""
    loss = [math.log(1 + math.exp(other - own)) for own, other in [(2, 1), (4, 1), (0, 5), (0, 2)]]
    return float(np.mean([loss[i % 4] for i in task.index[split].tolist()]))


def test_graphs_without_features_get_their_one_hot_degree():
    graphs = [Data(edge_index=g.edge_index, y=g.y, num_nodes=g.num_nodes) for g in _dataset(20)]
    task = GraphClassification(graphs, fold=0, folds=2)
    path = task.graphs[1]  # a path: two ends of degree 1, the rest degree 2
    assert task.in_channels == 3 and torch.equal(path.x.argmax(1), torch.tensor([1] + [2] * 3 + [1]))


def _per_graph_scale(config: ModelConfig, graphs: list[Data], seeds=range(4)) -> np.ndarray:
    """Mean over seeds of each graph's mean squared last-block feature over its first block's."""
    batch = Batch.from_data_list(graphs)
    ratios = []
    for seed in seeds:
        torch.manual_seed(seed)
        union = Data(x=batch.x, edge_index=batch.edge_index, num_nodes=batch.num_nodes)
        model = DeepGNN.for_graph(config, union, 2).double()
        outputs = []
        hooks = [model.blocks[i].register_forward_hook(lambda m, i, out: outputs.append(out.pow(2).mean(1)))
                 for i in (0, len(model.blocks) - 1)]
        with torch.no_grad():
            model(batch.x.double(), batch.edge_index)
        for hook in hooks:
            hook.remove()
        first, last = (torch.zeros(len(graphs), dtype=torch.float64).index_add_(0, batch.batch, o) for o in outputs)
        ratios.append((last / first).numpy())
    return np.mean(ratios, axis=0)


def test_gnn_he_keeps_every_graph_of_a_batch_at_order_one_scale_with_a_root_per_batch_of_one():
    """One C_W for graphs whose Perron roots differ (rings and paths of 3 to 40 nodes, sum roots 2.1 to 3):
    with gcn (every root 1) or unit scaling every graph keeps its scale to depth 32; sum aggregation
    initialised with the batch's largest root lets the smaller-root graphs shrink geometrically."""
    graphs = [_graph("ring", 40, 1, 0), _graph("path", 3, 0, 1), _graph("path", 6, 0, 2), _graph("ring", 9, 1, 3)]
    for x in graphs:
        x.x = torch.randn(x.num_nodes, 16, generator=torch.Generator().manual_seed(x.num_nodes))
    base = dict(depth=32, width=128, residual="none", residual_aggregation=0.0, init="gnn_he")
    for config in (ModelConfig(**base), ModelConfig(**base, aggregation="sum", component_scaling="unit")):
        ratio = _per_graph_scale(config, graphs)
        assert ((0.25 <= ratio) & (ratio <= 4)).all(), (config.aggregation, ratio)
    ratio = _per_graph_scale(ModelConfig(**base, aggregation="sum"), graphs)
    assert 0.25 <= ratio[0] <= 4 and ratio[1] < 1e-3, ratio  # the big ring holds the root; the 3-path vanishes


def test_fit_trains_a_deep_model_on_graph_batches():
    task = GraphClassification(_dataset(90), fold=1, batch_size=16, readout="mean")
    torch.manual_seed(0)
    model = DeepGNN.for_graph(ModelConfig(depth=16, width=32), task.model_graph, task.num_classes)
    result = fit(model, task, TrainConfig(epochs=30, lr=0.01, seed=0), progress=False)
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.7 * losses[0] and not result.summary["diverged"]
    assert result.summary["best_val_acc"] >= 0.8  # the label shifts a feature of every node


def test_an_epochs_training_loss_and_accuracy_weight_each_batch_by_its_graphs():
    """Batches of 32, 32 and 5 graphs: the epoch's train_acc is the fraction over all 69 graphs
    (a mean over batches, or the last batch's, would differ)."""
    import importlib

    fitting = importlib.import_module("fathom.train.fit")
    graphs = []
    for i in range(100):
        label = int(i % 4 == 0)
        x = torch.tensor([[1.0, 0.0]]) if i < 80 else torch.tensor([[0.0, 1.0]])  # the first 80 vote class 0
        graphs.append(Data(x=x, edge_index=torch.empty(2, 0, dtype=torch.long), y=torch.tensor([label]), num_nodes=1))
    task = GraphClassification(graphs, fold=0, folds=2, batch_size=32)
    train = task.index["train"]
    assert train.numel() == 45  # 50 after the test fold, less a stratified tenth

    class Scores(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(()))

        def forward(self, x, edge_index):
            return x[:, :2] + 0 * self.w

    optimizer = torch.optim.SGD(Scores().parameters(), lr=0.0)
    losses, metrics, kind = fitting.train_epoch(Scores(), task, optimizer, 1e9)
    predicted = torch.tensor([0 if i < 80 else 1 for i in range(100)])
    expected = float((predicted[train] == task.labels[train]).float().mean())
    assert kind is None and len(losses) == 2  # batches of 32 and 13
    assert metrics["train_acc"] == pytest.approx(expected)
    assert metrics["train_loss"] == pytest.approx((32 * losses[0] + 13 * losses[1]) / 45)


@pytest.mark.parametrize("fault,message", [
    (lambda gs: gs[3].__setattr__("y", torch.tensor([0, 1])), "graph 3: data.y must hold the graph's one integer"),
    (lambda gs: gs[4].__setattr__("y", torch.tensor([1.0])), "graph 4: data.y must hold"),
    (lambda gs: gs[5].__delattr__("y"), "graph 5: data.y must hold the graph's one integer class label; got none"),
    (lambda gs: [g.__setattr__("y", g.y * 2) for g in gs], "no graph has label 1"),  # labels 0 and 2: no 1
    (lambda gs: gs[6].x.__setitem__((0, 0), float("nan")), "graph 6: data.x contains NaN"),
    (lambda gs: gs[7].__setattr__("edge_index", torch.tensor([[0], [99]])), "graph 7: data.edge_index refers to node 99"),
    (lambda gs: gs[8].__delattr__("x"), "1 of 60 graphs have no node features"),
])
def test_bad_graphs_are_named_before_anything_trains(fault, message):
    from fathom.data import InvalidGraphError

    graphs = _dataset()
    fault(graphs)
    with pytest.raises(InvalidGraphError, match=message):
        GraphClassification(graphs)


def test_the_model_is_built_for_the_training_and_validation_graphs_only():
    task = GraphClassification(_dataset(), fold=2)
    seen = torch.cat([task.index["train"], task.index["val"]])
    assert task.model_graph.num_nodes == sum(task.graphs[i].num_nodes for i in seen.tolist())
    assert task.model_graph.num_nodes < sum(g.num_nodes for g in task.graphs)


def test_an_early_stopped_run_is_the_start_of_the_same_run_without_early_stopping():
    """What lets GIN's paper's selection rule read an early-stopped run's curve as a lower bound
    (fathom.benchmark.protocols): stopping early changes nothing before the stop, dropout's random
    draws and the learning-rate schedule included."""
    task = GraphClassification(_dataset(60), fold=0, batch_size=8, readout="sum")
    config = TrainConfig(epochs=40, lr=0.05, seed=3, lr_step=5, lr_gamma=0.5)
    histories = []
    for patience in (2, None):
        torch.manual_seed(0)
        model = DeepGNN.for_graph(ModelConfig(depth=4, width=16, dropout=0.5), task.model_graph, task.num_classes)
        histories.append(fit(model, task, config.replace(patience=patience), progress=False).history)
    stopped, whole = histories
    assert len(stopped) < len(whole) == 40  # the patience did stop it
    columns = ("train_loss", "val_acc", "test_acc")
    assert [[row[c] for c in columns] for row in stopped] == [[row[c] for c in columns] for row in whole[:len(stopped)]]


def test_every_readout_the_configuration_offers_has_a_pool():
    from fathom.config import READOUTS
    from fathom.tasks.graph import POOLS

    assert set(POOLS) == set(READOUTS)

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from fathom import AggregationOperator, ModelConfig, TrainConfig
from fathom.data import csbm, partition
from fathom.nn import DeepGNN
from fathom.tasks import NodeClassification, PartitionedNodeClassification
from fathom.train import train_node_classifier, train_partitioned


@pytest.fixture(scope="module")
def graph():
    return csbm(num_nodes=240, num_classes=3, p_in=0.08, p_out=0.008, num_features=8, seed=0)


def operator_of(config):
    return lambda part: DeepGNN.graph_operator(config, part)


def test_one_part_is_full_batch_training(graph):
    model = ModelConfig(depth=3, width=16, aggregation="sum", dropout=0.2)
    train = TrainConfig(epochs=3, device="cpu")
    full = train_node_classifier(model, train, graph, progress=False)
    parted = train_partitioned(model, train.replace(partition_method="random"), graph, progress=False)
    for a, b in zip(full.history, parted.history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-6)
        assert a["val_acc"] == b["val_acc"]
    for p, q in zip(full.model.parameters(), parted.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)


def test_each_part_trains_on_its_own_subgraph_and_operator(graph):
    config = ModelConfig(depth=2, width=8, aggregation="sum")
    parts = partition(graph, 4, "random", seed=0)
    task = PartitionedNodeClassification(graph, parts, operator_of(config))
    torch.manual_seed(0)
    model = DeepGNN(config, graph.num_features, 3, perron_root=2.0)
    for k, part in enumerate(parts):
        alone = NodeClassification(part.clone())
        torch.testing.assert_close(task.loss(model, k)[0], alone.loss(model)[0])


def test_the_model_is_initialised_for_the_largest_part_root(graph):
    model, train = ModelConfig(depth=2, width=8, aggregation="sum"), TrainConfig(epochs=1, partitions=4,
                                                                                 partition_method="random")
    result = train_partitioned(model, train, graph, progress=False)
    roots = [AggregationOperator.from_data(part, "sum", model.residual_aggregation).perron_root()
             for part in partition(graph, 4, "random", seed=0)]
    whole = AggregationOperator.from_data(graph, "sum", model.residual_aggregation).perron_root()
    assert result.model.perron_root == pytest.approx(max(roots)) and max(roots) < 0.9 * whole


def test_an_epoch_takes_every_part_once_in_a_fresh_order(graph):
    task = PartitionedNodeClassification(graph, partition(graph, 6, "random"), operator_of(ModelConfig()))
    torch.manual_seed(0)
    orders = [list(task.batches()) for _ in range(3)]
    assert all(sorted(order) == list(range(6)) for order in orders)
    assert len({tuple(order) for order in orders}) > 1


def test_part_by_part_evaluation_counts_every_node_once(graph):
    config = ModelConfig(depth=2, width=8)
    parts = partition(graph, 3, "random")
    torch.manual_seed(0)
    model = DeepGNN(config, graph.num_features, 3)
    by_part = PartitionedNodeClassification(graph, parts, operator_of(config), full_evaluation=False).evaluate(model)
    expected = {}
    for split in ("val", "test"):
        right = total = 0
        for part in parts:
            logits = model(part.x, part.edge_index).argmax(-1)
            mask = part[f"{split}_mask"]
            right, total = right + int((logits[mask] == part.y[mask]).sum()), total + int(mask.sum())
        expected[f"{split}_acc"] = right / total
    # the validation loss: one mean over every part's validation nodes, not a mean of the parts' means
    with torch.no_grad():
        logits = torch.cat([model(part.x, part.edge_index)[part.val_mask] for part in parts])
    labels = torch.cat([part.y[part.val_mask] for part in parts])
    expected["val_loss"] = float(torch.nn.functional.cross_entropy(logits, labels))
    assert by_part == pytest.approx(expected)


@pytest.mark.parametrize("evaluation", ["whole", "parts"])
def test_the_run_evaluates_where_partition_evaluation_says(graph, evaluation):
    model = ModelConfig(depth=2, width=8)
    train = TrainConfig(epochs=2, partitions=4, partition_method="random", partition_evaluation=evaluation)
    result = train_partitioned(model, train, graph, progress=False)
    parts = partition(graph, 4, "random", seed=0)
    scores = {name: PartitionedNodeClassification(graph, parts, operator_of(model), full_evaluation=name == "whole")
              .evaluate(result.model)["test_acc"] for name in ("whole", "parts")}
    assert abs(scores["whole"] - scores["parts"]) > 0.02  # else the check below could not tell them apart
    assert result.history[-1]["test_acc"] == pytest.approx(scores[evaluation])


def test_partitioned_training_learns(graph):
    result = train_partitioned(ModelConfig(depth=4, width=16), TrainConfig(epochs=30, lr=0.01, partitions=4,
                                                                          partition_method="random"),
                               graph, progress=False)
    assert result.summary["final_train_loss"] < 0.6 * result.summary["initial_train_loss"]
    assert result.summary["best_val_acc"] > 0.6  # chance is 1/3


def test_bad_partition_settings_name_the_field(graph):
    with pytest.raises(ValueError, match="partitions"):
        TrainConfig(partitions=0)
    with pytest.raises(ValueError, match="partition_method"):
        TrainConfig(partition_method="spectral")
    with pytest.raises(ValueError, match="partition_evaluation"):
        TrainConfig(partition_evaluation="sampled")
    with pytest.raises(ValueError, match="partitions=241 exceeds"):
        train_partitioned(ModelConfig(depth=2), TrainConfig(partitions=241, partition_method="random"), graph)
    with pytest.raises(ValueError, match="per-layer recording"):
        train_node_classifier(ModelConfig(depth=2), TrainConfig(partitions=2), graph, record_every=1)


WORKER = textwrap.dedent("""
    import json, os, sys
    import torch
    from fathom import ModelConfig, TrainConfig
    from fathom.data import csbm
    from fathom.nn import DeepGNN
    from fathom.tasks import PartitionedNodeClassification
    from fathom.train.distributed import init_from_environment, shared_partition, train_partitioned

    out = sys.argv[1]
    rank = int(os.environ["RANK"])
    init_from_environment(torch.device("cpu"))
    graph = csbm(num_nodes=240, num_classes=3, p_in=0.08, p_out=0.008, num_features=8, seed=0)
    model, train = ModelConfig(depth=3, width=16), TrainConfig(epochs=1, partitions=2, partition_method="random")
    try:
        train_partitioned(model, train.replace(partitions=3), graph, progress=False)
        refused = ""
    except ValueError as error:
        refused = str(error)
    parts = shared_partition(graph, train.replace(partitions=6), torch.device("cpu"))
    task = PartitionedNodeClassification(graph, parts, lambda part: DeepGNN.graph_operator(model, part))
    torch.manual_seed(rank)  # the ranks' RNGs differ, as they do once dropout has run on different parts
    taken = [list(task.batches()) for _ in range(4)]
    result = train_partitioned(model, train, graph, progress=False)
    torch.save([p.detach() for p in result.model.parameters()], f"{out}/params{rank}.pt")
    with open(f"{out}/rank{rank}.json", "w") as handle:
        json.dump({"taken": taken, "refused": refused, "history": result.history}, handle)
""")


def test_two_processes_hold_the_same_parameters_after_a_step(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               str(script), str(tmp_path)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert completed.returncode == 0, completed.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert all("times the 2 processes" in rank["refused"] for rank in ranks)
    for mine, yours in zip(ranks[0]["taken"], ranks[1]["taken"], strict=True):  # 4 epochs
        assert sorted(mine + yours) == list(range(6))  # each part on one rank
    assert ranks[0]["history"][0]["train_loss"] == ranks[1]["history"][0]["train_loss"]  # the ranks' mean
    params = [torch.load(tmp_path / f"params{r}.pt") for r in range(2)]
    torch.manual_seed(0)
    initial = list(DeepGNN(ModelConfig(depth=3, width=16), 8, 3).parameters())
    for p, q, before in zip(*params, initial, strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert any(not torch.equal(p, before) for p, before in zip(params[0], initial))  # a step was taken


def test_parts_drawn_together_keep_the_edges_between_them(graph):
    config = ModelConfig(depth=2, width=8)
    parts = partition(graph, 4, "random", seed=0)
    task = PartitionedNodeClassification(graph, parts, operator_of(config), parts_per_step=2)
    torch.manual_seed(0)
    steps = list(task.batches())
    assert len(steps) == 2 and sorted(k for step in steps for k in step) == [0, 1, 2, 3]
    model = DeepGNN(config, graph.num_features, 3)
    for step in steps:
        union = torch.cat([parts[k].node_ids for k in step]).sort().values
        keep = torch.zeros(graph.num_nodes, dtype=torch.bool)
        keep[union] = True
        alone = NodeClassification(graph.subgraph(keep))
        torch.testing.assert_close(task.loss(model, step)[0], alone.loss(model)[0])
        assert task.batch_weight(step) == int(graph.train_mask[union].sum())


def test_the_run_draws_parts_per_step_parts_a_step(graph, monkeypatch):
    steps, batches = [], PartitionedNodeClassification.batches

    def recorded(task):
        for step in batches(task):
            steps.append(step)
            yield step

    monkeypatch.setattr(PartitionedNodeClassification, "batches", recorded)
    train = TrainConfig(epochs=1, partitions=4, partition_method="random", parts_per_step=2, device="cpu")
    train_partitioned(ModelConfig(depth=2, width=8), train, graph, progress=False)
    assert len(steps) == 2 and all(isinstance(step, tuple) and len(step) == 2 for step in steps)
    assert sorted(part for step in steps for part in step) == [0, 1, 2, 3]

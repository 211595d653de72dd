"""The task of a named dataset."""

import pytest

from fathom.data import SplitError
from fathom.tasks import NodeClassification, load_task


def test_a_node_dataset_refuses_a_readout_and_keeps_its_own_task():
    assert isinstance(load_task("karate"), NodeClassification)
    with pytest.raises(ValueError, match="readout='mean' pools graphs; karate is a node-classification dataset"):
        load_task("karate", readout="mean")
    with pytest.raises(ValueError, match="batch_size=128 counts graphs; karate is a node-classification dataset"):
        load_task("karate", batch_size=128)


def test_a_graph_dataset_batches_as_many_graphs_as_asked(shared_data_root):
    task = load_task("mutag", shared_data_root, batch_size=8)
    assert task.batch_size == 8
    assert load_task("mutag", shared_data_root).batch_size == 32


def test_a_graph_datasets_split_is_its_test_fold(shared_data_root):
    assert load_task("mutag", shared_data_root).fold == 0
    assert load_task("mutag", shared_data_root, split=3).fold == 3
    assert load_task("mutag", shared_data_root, split="3").fold == 3
    for bad in (10, True, "x"):
        with pytest.raises(SplitError, match="fold number 0..9"):
            load_task("mutag", shared_data_root, split=bad)

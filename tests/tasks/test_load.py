"""The task of a named dataset."""

import pytest

from fathom.tasks import NodeClassification, load_task


def test_a_node_dataset_refuses_a_readout_and_keeps_its_own_task():
    assert isinstance(load_task("karate"), NodeClassification)
    with pytest.raises(ValueError, match="readout='mean' pools graphs; karate is a node-classification dataset"):
        load_task("karate", readout="mean")

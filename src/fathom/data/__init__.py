"""Graphs: the built-in CSBM generator and named datasets from a data root."""

from .csbm import csbm
from .datasets import (DATA_ENV, DATASETS, DatasetNotFoundError, default_data_root, describe, load_dataset,
                       locate, num_classes, validate_node_data)
from .splits import random_split_masks

__all__ = ["DATA_ENV", "DATASETS", "DatasetNotFoundError", "csbm", "default_data_root", "describe",
           "load_dataset", "locate", "num_classes", "random_split_masks", "validate_node_data"]

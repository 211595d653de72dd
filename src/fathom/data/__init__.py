"""Graphs: the built-in CSBM generator and every registered dataset, loaded by name from a data root."""

from .csbm import csbm
from .datasets import describe, is_approximate, load_dataset, locate, raw_folder
from .duplicates import duplicate_groups, duplicate_nodes
from .errors import (CorruptDatasetError, DatasetError, DatasetNotFoundError, InvalidGraphError, SplitError,
                     UnknownDatasetError)
from .partition import PARTITION_METHODS, PartitionError, part_subgraph, partition, partition_nodes
from .registry import DATASETS, SPLIT_KINDS, DatasetSpec, Sizes, get_spec
from .roots import CACHE_ENV, DATA_ENV, cache_dir, default_data_root
from .splits import random_split_masks
from .validate import check_structure, num_classes, validate_node_data

__all__ = [
    "CACHE_ENV", "DATA_ENV", "DATASETS", "PARTITION_METHODS", "SPLIT_KINDS", "CorruptDatasetError", "DatasetError",
    "DatasetNotFoundError", "DatasetSpec", "InvalidGraphError", "PartitionError", "Sizes", "SplitError", "UnknownDatasetError",
    "cache_dir", "check_structure", "csbm", "default_data_root", "describe", "duplicate_groups", "duplicate_nodes",
    "get_spec", "is_approximate", "load_dataset", "locate", "num_classes", "part_subgraph", "partition",
    "partition_nodes", "random_split_masks", "raw_folder", "validate_node_data",
]

"""Tasks: what a model is trained to do on a dataset — its batches, loss and metrics.

:func:`fathom.train.fit` trains any model on any task; a task owns its data. Node
classification on one graph's masks (:mod:`.node`), and graph classification over mini-batches of
many graphs with k-fold cross-validation (:mod:`.graph`), and node classification one part of a
partitioned graph per step (:mod:`.partitioned`, Cluster-GCN).
"""

from .graph import GraphClassification, stratified_folds
from .load import load_task
from .node import NodeClassification, accuracy
from .partitioned import PartitionedNodeClassification

__all__ = ["GraphClassification", "NodeClassification", "PartitionedNodeClassification", "accuracy", "load_task", "stratified_folds"]

"""Tasks: what a model is trained to do on a dataset — its batches, loss and metrics.

:func:`fathom.train.fit` trains any model on any task; a task owns its data. Node
classification on one graph's masks is here; graph classification is the next task.
"""

from .node import NodeClassification, accuracy

__all__ = ["NodeClassification", "accuracy"]

"""Training: ``fit(model, task, config)`` for any model and task, and the DeepGNN shortcut."""

from ..tasks.node import accuracy
from .distributed import train_partitioned
from .fit import RunResult, Task, fit, stale, summarize
from .tensorboard import TensorBoardLogger
from .trainer import METRIC_COLUMNS, layer_rows, train_node_classifier

__all__ = ["METRIC_COLUMNS", "RunResult", "Task", "TensorBoardLogger", "accuracy", "fit", "layer_rows", "stale",
           "summarize", "train_node_classifier", "train_partitioned"]

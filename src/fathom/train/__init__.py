"""Training: the full-batch node-classification trainer."""

from .trainer import METRIC_COLUMNS, RunResult, accuracy, summarize, train_node_classifier

__all__ = ["METRIC_COLUMNS", "RunResult", "accuracy", "summarize", "train_node_classifier"]

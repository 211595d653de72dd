"""Normalisation layers applied to each block's branch output.

``pairnorm`` and ``batchnorm`` are PyG's baselines (Zhao & Akoglu 2020; Ioffe & Szegedy 2015),
wrapped so every norm is called as ``norm(x)`` on a full-batch ``[N, d]`` feature matrix.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn import BatchNorm, PairNorm


class _NodeNorm(nn.Module):
    """Calls a PyG norm with the node features only (one graph, full batch)."""

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.norm = norm

    def reset_parameters(self) -> None:
        if hasattr(self.norm, "reset_parameters"):
            self.norm.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x)


def make_norm(kind: str, width: int) -> nn.Module:
    """The normalisation named by ``ModelConfig.norm`` for features of ``width`` channels."""
    if kind == "none":
        return nn.Identity()
    if kind == "pairnorm":
        return _NodeNorm(PairNorm())
    if kind == "batchnorm":
        return _NodeNorm(BatchNorm(width))
    raise ValueError(f"norm must be one of none, pairnorm, batchnorm; got {kind!r}")

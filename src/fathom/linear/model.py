"""The linearized GNN of Xu et al. (2021), with and without multiscale skip connections.

Paper (nodes as columns): ``X_(l) = B_(l) X_(l-1) S`` (``sigma(B_(l) X_(l-1) S)`` for the
nonlinear version), ``f = W X_(H)``; with skips every depth feeds the readout,
``f = sum_(l=0..H) W_(l) X_(l)``. No biases anywhere.

PyG layout (nodes as rows, ``Z_0 = data.x``): ``Z_l = S Z_(l-1) B_l^T`` and the readout
``f = Z_H W^T``, or with skips JumpingKnowledge('cat') followed by one linear map,
``f = [Z_0, ..., Z_H] W^T = sum_l Z_l W_l^T`` where ``W = [W_0, ..., W_H]`` in column blocks.

For the linear model the training-set output depends on the graph only through
``M_l = (S^l X^T)[I]``: ``f_I = sum_l M_l (W_l B_l ... B_1)^T`` (``f_I = M_H (W B_H ... B_1)^T``
without skips), because ``S`` acts on the node side and the weights on the feature side. So
:meth:`LinearizedGNN.output_from_propagated` gives exactly :meth:`LinearizedGNN.forward` on the
training rows, for a fraction of the cost: the end-to-end maps ``W_l B_l ... B_1`` have only
``m_y`` rows, and are multiplied from the readout side.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..graph import AggregationOperator, SparseFeatures
from ..init import glorot_

ACTIVATIONS = ("identity", "relu")


class LinearizedGNN(nn.Module):
    r"""``H`` bias-free layers :math:`Z_l = \sigma(S Z_{l-1} B_l^\top)`, readout ``W`` (Xu et al. 2021).

    Args:
        in_channels: ``m_x``.
        hidden_channels: width ``d`` of every layer. Theorem 1's plain ``lambda_T`` is non-zero
            only when ``d >= m_x``; its restricted version needs ``d >= rank(M_H)``.
        out_channels: ``m_y`` (classes, one-hot targets).
        depth: ``H >= 1``.
        skip: multiscale skip connections (JumpingKnowledge-cat of ``Z_0..Z_H``, one readout).
        activation: ``identity`` (the linearized GNN of Theorem 1) or ``relu`` (its nonlinear twin).

    Weights are Glorot-initialised (:func:`fathom.init.glorot_`) by :meth:`reset_parameters`.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, depth: int,
                 skip: bool = False, activation: str = "identity") -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("hidden_channels", hidden_channels),
                            ("out_channels", out_channels), ("depth", depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.depth, self.skip, self.activation = depth, bool(skip), activation
        self.layers = nn.ModuleList(
            nn.Linear(in_channels if l == 0 else hidden_channels, hidden_channels, bias=False) for l in range(depth))
        readout_in = in_channels + depth * hidden_channels if self.skip else hidden_channels
        self.readout = nn.Linear(readout_in, out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        for linear in (*self.layers, self.readout):
            glorot_(linear.weight, generator=generator)

    def readout_blocks(self) -> list[Tensor]:
        """``[W_0, ..., W_H]`` (skips: the readout's column blocks) or ``[W]`` (no skips)."""
        if not self.skip:
            return [self.readout.weight]
        sizes = [self.in_channels] + [self.hidden_channels] * self.depth
        return list(torch.split(self.readout.weight, sizes, dim=1))

    def _act(self, z: Tensor) -> Tensor:
        return F.relu(z) if self.activation == "relu" else z

    def forward(self, x: Tensor | SparseFeatures, operator: AggregationOperator) -> Tensor:
        """Outputs ``f`` for every node, ``[N, m_y]``: propagate through the whole graph.

        ``x`` may be :class:`~fathom.graph.SparseFeatures` (bag-of-words inputs: ``X B_1^T`` then
        costs ``O(nnz(X) d)``). The skip readout ``[Z_0, ..., Z_H] W^T`` is ``sum_l Z_l W_l^T``.
        """
        levels = [x]
        for layer in self.layers:
            levels.append(self._act(operator.propagate(_linear(levels[-1], layer.weight))))
        used = levels if self.skip else levels[-1:]
        return sum(_linear(z, block) for z, block in zip(used, self.readout_blocks()))

    def end_to_end_weights(self) -> list[Tensor]:
        """``[W_l B_l ... B_1 for l = 0..H]`` (skips) or ``[W B_H ... B_1]``: ``m_y x m_x`` each.

        Horner-style from the readout side: the rows of every level still below its depth are
        stacked and multiplied by ``B_k`` once per ``k`` (``H`` thin products instead of ``H^2/2``).
        """
        blocks = self.readout_blocks()
        if not self.skip:
            product = blocks[0]
            for layer in reversed(self.layers):
                product = product @ layer.weight
            return [product]
        rows = blocks[self.depth]  # levels k..H stacked, highest level first
        for k in range(self.depth, 1, -1):
            rows = torch.cat([rows @ self.layers[k - 1].weight, blocks[k - 1]])
        rows = rows @ self.layers[0].weight
        by_level = torch.split(rows, self.out_channels)  # level H first, level 1 last
        return [blocks[0], *reversed(by_level)]

    def output_from_propagated(self, features: Sequence[Tensor]) -> Tensor:
        """Training-set outputs ``f_I`` from ``features = [M_0, ..., M_H]`` (linear model only).

        ``f_I = M_H (W B_H ... B_1)^T``, or ``sum_l M_l (W_l B_l ... B_1)^T`` with skips: equal to
        ``forward(x, S)[I]`` (the module docstring says why).
        """
        if self.activation != "identity":
            raise ValueError("output_from_propagated holds for the linear model only (activation='identity')")
        if len(features) < self.depth + 1:
            raise ValueError(f"need features M_0..M_{self.depth}; got {len(features)}")
        levels = range(self.depth + 1) if self.skip else [self.depth]
        return sum(features[l] @ weight.t() for l, weight in zip(levels, self.end_to_end_weights()))

    def chain(self, rows: Tensor, depth: int | None = None) -> Tensor:
        """``rows B_1^T ... B_l^T`` (``l = depth``, default ``H``): the layers without propagation.

        With ``rows = V^T`` this is ``(B_l ... B_1 V)^T``, used for Theorem 1's ``lambda``.
        """
        depth = self.depth if depth is None else depth
        for layer in self.layers[:depth]:
            rows = layer(rows)
        return rows

    def __repr__(self) -> str:
        return (f"LinearizedGNN({self.in_channels} -> {self.hidden_channels} x {self.depth} layers -> "
                f"{self.out_channels}, skip={self.skip}, activation={self.activation})")


def _linear(x: Tensor | SparseFeatures, weight: Tensor) -> Tensor:
    """``x W^T`` for dense or sparse features."""
    return x.linear(weight) if isinstance(x, SparseFeatures) else x @ weight.t()

"""Dropout whose mask is cheap to draw on CPUs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..graph import SparseFeatures


def dropout(x: Tensor | SparseFeatures, p: float, training: bool = True) -> Tensor | SparseFeatures:
    r"""Inverted dropout, :math:`x \odot m / (1-p)` with :math:`m_i \sim \mathrm{Bernoulli}(1-p)`,
    exactly ``torch.nn.functional.dropout``'s distribution; on :class:`~fathom.graph.SparseFeatures`
    it drops stored entries (:meth:`~fathom.graph.SparseFeatures.dropout`).

    On CPUs the mask is drawn as ``uniform >= p``, about 2.5x faster than the ``bernoulli_`` that
    ``F.dropout`` draws (measured at 2708 x 64: 1.3 ms against 3.4 ms; dropout was a quarter of a
    32-block training step on Cora). Elsewhere it is ``F.dropout``.
    """
    if not training or p == 0.0:
        return x
    if isinstance(x, SparseFeatures):
        return x.dropout(p, training)
    if x.device.type != "cpu":
        return F.dropout(x, p, True)
    if p == 1.0:
        return x * 0.0
    return x * (torch.rand_like(x) >= p) * (1.0 / (1.0 - p))


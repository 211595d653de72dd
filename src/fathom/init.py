"""Weight initializers, PyTorch-style: each fills a ``[fan_out, fan_in]`` weight in place.

The GNN generalisation of He initialisation (DeZoort & Hanin 2023, derived in
``shared/papers/dezoort2023.md``): for ``Z' = A relu(Z) W`` the node Gram matrix grows by
``C_W lambda_1(A)^2 / 2`` per layer once features are correlated, so the scale stays of order
one exactly when ``Var(W_ij) = 2 / (fan_in * lambda_1(A)^2)``, with ``lambda_1`` the Perron root
(spectral radius, not the operator norm) of the aggregation operator. The 2 is ReLU's gain;
a linearized GNN (identity activation) needs 1.
"""

from __future__ import annotations

import math
import torch
from torch import Tensor

def _fans(weight: Tensor) -> tuple[int, int]:
    if weight.dim() != 2:
        raise ValueError(f"expected a 2-d weight [fan_out, fan_in], got shape {list(weight.shape)}")
    return weight.size(1), weight.size(0)


@torch.no_grad()
def gnn_he_(weight: Tensor, perron_root: float = 1.0, gain: float = 2.0,
            generator: torch.Generator | None = None) -> Tensor:
    """``W_ij ~ N(0, gain / (fan_in * lambda_1(A)^2))``: He initialisation for a GNN with operator ``A``.

    ``perron_root`` is ``lambda_1`` of the operator the layer aggregates with (for the residual
    operator ``A_a``: ``(1 - a) lambda_1(A) + a``). ``gain`` is 2 for ReLU (it halves the second
    moment) and 1 for the identity of a linearized GNN. ``gcn`` and ``mean`` have
    ``lambda_1 = 1``, where this is exactly He (:func:`kaiming_`) for ReLU.
    """
    if not (perron_root > 0 and math.isfinite(perron_root)):
        raise ValueError(f"perron_root must be a positive finite number; got {perron_root}")
    if not (gain > 0 and math.isfinite(gain)):
        raise ValueError(f"gain must be a positive finite number; got {gain}")
    fan_in, _ = _fans(weight)
    return weight.normal_(0.0, math.sqrt(gain / fan_in) / perron_root, generator=generator)


@torch.no_grad()
def kaiming_(weight: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """He (Kaiming) normal initialisation for ReLU: ``W_ij ~ N(0, 2 / fan_in)``."""
    fan_in, _ = _fans(weight)
    return weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=generator)


@torch.no_grad()
def glorot_(weight: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Glorot (Xavier) uniform, PyG's ``GCNConv`` default: ``U(-b, b)``, ``b = sqrt(6 / (fan_in + fan_out))``.

    Its variance is ``2 / (fan_in + fan_out)``.
    """
    fan_in, fan_out = _fans(weight)
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return weight.uniform_(-bound, bound, generator=generator)

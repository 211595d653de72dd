"""Residual aggregation for PyG's own layers: propagate with ``A_a = (1 - a) A + a I`` instead of ``A``.

DeZoort & Hanin (2023) show that mixing the aggregation operator with the identity slows
oversmoothing at depth; PyG issue #7985 asks for it on ``GCNConv``. Here ``A`` is the operator the
layer applies to the features it propagates (``GCNConv``: ``D^-1/2 (Adj + I) D^-1/2`` acting on
``x W``; ``GraphConv``/``SAGEConv``: the neighbour sum or mean acting on ``x`` before ``W_rel``, the
root term untouched; ``GINConv``: ``(1 + eps) I + Adj`` before its MLP; ``GATConv``: the attention
matrix of each head acting on ``x W``).

Mechanism: a propagate-forward hook (PyG's extension point after ``propagate`` aggregates) replaces
the aggregated ``P x`` by ``(1 - a) P x + a (1 - s) x``, where ``s x`` is the self term the layer
adds after propagating (``s = 1 + eps`` for ``GINConv``, ``0`` otherwise), so the layer's operator
``s I + P`` becomes ``(1 - a)(s I + P) + a I``. Nothing is recomputed, gradients flow through both
terms, and the layer stays the same module (its state dict, ``reset_parameters`` and type are
unchanged). :func:`fathom.init.principled_` reads the layer's ``residual_aggregation`` and uses
``lambda_1(A_a) = (1 - a) lambda_1(A) + a``.

PyG skips propagate hooks under ``torch.compile`` and TorchScript, so there the layer propagates
with plain ``A``: apply this to eager modules.
"""

from __future__ import annotations

from torch import Tensor
from torch_geometric.nn import GATConv, GCNConv, GINConv, GraphConv, MessagePassing, SAGEConv

RESIDUAL_LAYERS = (GCNConv, GraphConv, SAGEConv, GINConv, GATConv)


def residual_aggregation(conv: MessagePassing, a: float) -> MessagePassing:
    """Make ``conv`` propagate with ``(1 - a) A + a I`` (in place); returns ``conv``.

    ``a`` in ``[0, 1]``: ``0`` is the layer as PyG defines it, ``1`` drops the graph. Calling it
    again changes ``a``. Supported: ``GCNConv``, ``GraphConv``, ``SAGEConv`` (without ``project``),
    ``GINConv``, ``GATConv``; ``FathomConv`` has the option built in (``residual_aggregation=a``).
    """
    a = float(a)
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"residual aggregation a must lie in [0, 1]; got {a}")
    kind = type(conv)
    if kind.__name__ == "FathomConv":
        raise ValueError("FathomConv has residual aggregation built in: construct it with residual_aggregation=a")
    if kind not in RESIDUAL_LAYERS:
        raise ValueError(f"residual_aggregation cannot wrap {kind.__qualname__}: supported layers are "
                         f"{', '.join(layer.__name__ for layer in RESIDUAL_LAYERS)}")
    if kind is SAGEConv and conv.project:
        raise ValueError("residual_aggregation cannot wrap SAGEConv(project=True): it propagates projected "
                         "features, so the identity term would mix in unprojected ones")
    conv.residual_aggregation = a
    if _mix_identity not in conv._propagate_forward_hooks.values():
        conv.register_propagate_forward_hook(_mix_identity)
    return conv


def _mix_identity(conv: MessagePassing, inputs: tuple, out: Tensor) -> Tensor | None:
    """``P x -> (1 - a) P x + a (1 - s) x`` for the target nodes' features ``x`` (see the module notes)."""
    a = conv.residual_aggregation
    if a == 0.0:
        return None
    x = inputs[-1]["x"]
    target = x[1] if isinstance(x, (tuple, list)) else x
    if target is None or target.shape != out.shape:
        raise ValueError(f"residual aggregation in {type(conv).__name__} needs the target nodes' features with "
                         f"the aggregated shape {list(out.shape)}; got "
                         f"{None if target is None else list(target.shape)}")
    if isinstance(conv, GINConv):  # GIN adds (1 + eps) x itself: a (1 - (1 + eps)) = -a eps
        return (1.0 - a) * out - a * conv.eps * target
    return (1.0 - a) * out + a * target

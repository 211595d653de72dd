"""Independent numpy references for the blocks' activations and GAT's attention."""

from __future__ import annotations

import numpy as np
import pytest


def _numpy_activation(name: str, z: np.ndarray, slope: float = 0.8) -> np.ndarray:
    """Written from the definitions: GELU z Phi(z) with Phi from scipy's erf."""
    from scipy.special import erf

    return {"relu": lambda: np.maximum(z, 0.0), "identity": lambda: z,
            "gelu": lambda: z * 0.5 * (1.0 + erf(z / np.sqrt(2.0))),
            "leaky_relu": lambda: np.where(z > 0, z, slope * z)}[name]()


def _gat_by_hand(conv, x: np.ndarray, edge_index: torch.Tensor, a: float) -> np.ndarray:
    """(1/H) sum_h ((1-a) P_h + a I) X W_h, with P_h the softmax over j in N(i) + {i} of
    leaky_relu_0.2(att_dst_h . (W_h x_i) + att_src_h . (W_h x_j)), written out with numpy loops."""
    n, heads, width = x.shape[0], conv.heads, conv.out_channels
    weight = conv.lin.weight.detach().numpy().reshape(heads, width, -1)
    att_src = conv.att_src.detach().numpy().reshape(heads, width)
    att_dst = conv.att_dst.detach().numpy().reshape(heads, width)
    neighbours = {i: {i} for i in range(n)}
    for j, i in edge_index.t().tolist():
        neighbours[i].add(j)
    out = np.zeros((n, width))
    for h in range(heads):
        projected = x @ weight[h].T
        attention = np.zeros((n, n))
        for i in range(n):
            js = sorted(neighbours[i])
            logits = np.array([att_dst[h] @ projected[i] + att_src[h] @ projected[j] for j in js])
            logits = np.where(logits > 0, logits, 0.2 * logits)
            attention[i, js] = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        out += ((1 - a) * attention + a * np.eye(n)) @ projected / heads
    return out


@pytest.fixture(scope="session")
def numpy_activation():
    """``numpy_activation(name, z, slope=0.8)``: relu, identity, gelu (z Phi(z), scipy's erf), leaky_relu."""
    return _numpy_activation


@pytest.fixture(scope="session")
def gat_by_hand():
    """``gat_by_hand(conv, x, edge_index, a)``: an OperatorGATConv's output written out with numpy loops."""
    return _gat_by_hand

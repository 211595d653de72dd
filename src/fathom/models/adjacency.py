"""The GCN operator ``D^-1/2 (A + I) D^-1/2`` of a graph, computed once and handed to PyG convolutions.

PyG's convolutions normalise ``edge_index`` on every call unless built with ``cached=True``, and
then propagate by gather/scatter over the edges. For a deep stack on a large graph both costs
repeat at every layer. :class:`GCNAdjacency` normalises once per graph (``gcn_norm``, the same
function ``GCNConv`` calls) and returns either a ``torch.sparse`` CSR ``adj_t`` (propagation is one
sparse-dense product) or the normalised ``(edge_index, edge_weight)``; the convolutions it feeds are
built with ``normalize=False``.

Why not ``cached=True``: a cached conv keeps the first graph's normalisation for ever, so a model
later called on another graph (a different split's subgraph, another dataset) silently uses the
wrong operator. Here the cache belongs to the model and is keyed on the ``edge_index`` tensor
itself (identity, in-place version, node count, dtype, device): another graph recomputes it.
"""

from __future__ import annotations

import warnings
import weakref
from typing import Any

import torch
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_torch_csr_tensor


class GCNAdjacency:
    """``adjacency(edge_index, num_nodes, dtype)`` -> the arguments after ``x`` of a PyG conv.

    ``sparse=True``: ``(adj_t, None)``, ``adj_t[i, j]`` the weight of the edge ``j -> i`` of
    ``D^-1/2 (A + I) D^-1/2`` (self-loops added where missing, as in ``GCNConv``) as a CSR tensor.
    ``sparse=False``: ``(edge_index, edge_weight)`` of the same operator, for the edge_index path.
    The last result is kept until a different graph (or layout) is asked for.
    """

    def __init__(self, sparse: bool = True) -> None:
        self.sparse = sparse
        self._graph: weakref.ref | None = None
        self._key: tuple[Any, ...] | None = None
        self._value: tuple[Tensor, Tensor | None] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles (``copy.deepcopy(model)``, ``torch.save(model)``) drop the cache."""
        return {"sparse": self.sparse}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["sparse"])  # type: ignore[misc]

    def __call__(self, edge_index: Tensor, num_nodes: int, dtype: torch.dtype = torch.float32
                 ) -> tuple[Tensor, Tensor | None]:
        key = (edge_index._version, tuple(edge_index.shape), edge_index.device, num_nodes, dtype, self.sparse)
        if self._value is not None and self._graph is not None and self._graph() is edge_index and self._key == key:
            return self._value
        with torch.no_grad():
            index, weight = gcn_norm(edge_index, None, num_nodes, add_self_loops=True, dtype=dtype)
            if self.sparse:
                # adj_t is indexed [target, source]: row = edge_index[1], column = edge_index[0].
                with warnings.catch_warnings():  # torch's "sparse CSR support is in beta" notices
                    warnings.filterwarnings("ignore", message=".*[Ss]parse.*", category=UserWarning)
                    adj_t = to_torch_csr_tensor(index.flip(0), weight, size=(num_nodes, num_nodes))
                value = (adj_t, None)
            else:
                value = (index, weight)
        self._graph, self._key, self._value = weakref.ref(edge_index), key, value
        return value

"""Shared fixtures: seeded random graphs, a tiny hand-made graph, an independent dense reference,
the real-dataset root (tests that need it skip cleanly without it) and a simulated offline network.

The dense reference builds the aggregation operator from scratch in numpy (it never calls
``fathom``), so tests can compare Fathom's sparse operator against it.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import settings

# Property tests (the *_properties.py files): the same examples on every run, no example database,
# no per-example deadline (the first call of a model pays for imports and kernels).
# ``pytest --hypothesis-profile thorough`` searches wider (minutes), with fresh random examples.
settings.register_profile("fathom", deadline=None, max_examples=60, derandomize=True, database=None)
settings.register_profile("thorough", deadline=None, max_examples=1000, database=None)
settings.load_profile("fathom")


def _erdos_renyi(num_nodes: int, p: float, seed: int, directed: bool = False) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    mask = rng.random((num_nodes, num_nodes)) < p
    if directed:
        np.fill_diagonal(mask, False)
        src, dst = np.nonzero(mask)
    else:
        upper_i, upper_j = np.nonzero(np.triu(mask, k=1))
        src, dst = np.concatenate([upper_i, upper_j]), np.concatenate([upper_j, upper_i])
    return torch.from_numpy(np.stack([src, dst]).astype(np.int64))


def _dense_operator(edge_index, num_nodes: int, kind: str, a: float = 0.0) -> np.ndarray:
    """``A_a = (1 - a) A + a I`` in float64, built with plain numpy loops over the edge list.

    ``Adj[i, j] = 1`` when an edge ``j -> i`` exists (row 0 of ``edge_index`` is the source),
    input self-loops dropped, duplicates counted once; ``D`` = row sums of ``Adj + I``.
    """
    edges = np.asarray(edge_index)
    adj = np.zeros((num_nodes, num_nodes))
    for j, i in zip(edges[0].tolist(), edges[1].tolist()):
        if i != j:
            adj[i, j] = 1.0
    adj_loops = adj + np.eye(num_nodes)
    degree = adj_loops.sum(axis=1)
    if kind == "gcn":
        inv_sqrt = np.diag(1.0 / np.sqrt(degree))
        base = inv_sqrt @ adj_loops @ inv_sqrt
    elif kind == "mean":
        base = np.diag(1.0 / degree) @ adj_loops
    elif kind == "sum":
        base = adj_loops
    else:
        raise ValueError(kind)
    return (1.0 - a) * base + a * np.eye(num_nodes)


@pytest.fixture(scope="session")
def make_er():
    """``make_er(num_nodes, p, seed, directed=False)`` -> ``[2, E]`` long edge_index.

    Undirected graphs list every edge in both directions; neither kind has self-loops.
    """
    return _erdos_renyi


@pytest.fixture(scope="session")
def dense_operator():
    """``dense_operator(edge_index, num_nodes, kind, a=0.0)`` -> float64 numpy ``A_a``."""
    return _dense_operator


@pytest.fixture
def tiny_graph():
    """Five nodes: triangle 0-1-2, edge 2-3, node 4 isolated; one duplicate edge, one self-loop.

    ``adjacency`` is written out by hand (no self-loops, duplicates once): ``adjacency[i, j] = 1``
    when ``j -> i``.
    """
    edge_index = torch.tensor([
        [0, 1, 1, 2, 0, 2, 2, 3, 1, 3],
        [1, 0, 2, 1, 2, 0, 3, 2, 0, 3],
    ])  # the ninth column repeats 1 -> 0; the tenth is the self-loop 3 -> 3
    adjacency = np.array([
        [0, 1, 1, 0, 0],
        [1, 0, 1, 0, 0],
        [1, 1, 0, 1, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0],
    ], dtype=float)
    return SimpleNamespace(edge_index=edge_index, num_nodes=5, adjacency=adjacency)


SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_data_root() -> Path:
    """A data root holding planetoid/Cora/raw: ``$FATHOM_DATA`` or ``../shared/datasets``, else skip."""
    for candidate in (os.environ.get("FATHOM_DATA"), SHARED_DATASETS):
        if candidate and (Path(candidate) / "planetoid" / "Cora" / "raw").is_dir():
            return Path(candidate)
    pytest.skip("real datasets absent (set FATHOM_DATA to a folder holding planetoid/Cora/raw)")


@pytest.fixture
def offline_downloads(monkeypatch):
    """Make every Planetoid download fail as it does on a machine without internet."""
    from torch_geometric.datasets import Planetoid

    def offline(self):
        raise OSError("network is unreachable")

    monkeypatch.setattr(Planetoid, "download", offline)


def _without(data, key: str):
    delattr(data, key)


BROKEN_GRAPHS = {  # case: (its one fault in a 30-node, 3-class CSBM graph, what the error must say)
    "label 99": (lambda d: d.y.__setitem__(0, 99),
                 r"data\.y holds class label 99 but there are 3 classes \(data\.num_classes: labels must be 0\.\.2\)"),
    "label 99, count not declared": (lambda d: (d.y.__setitem__(0, 99), _without(d, "num_classes")),
                                     r"data\.y holds class label 99 but no node has label 3\.\.98"),
    "label -1": (lambda d: d.y.__setitem__(0, -1), r"data\.y holds a negative class label \(-1\)"),
    "float labels": (lambda d: setattr(d, "y", d.y.float()), r"data\.y must hold integer class labels; got dtype "
                                                              r"torch\.float32"),
    "integer features": (lambda d: setattr(d, "x", (10 * d.x).long()), r"data\.x must be floating point; got dtype "
                                                                        r"torch\.int64"),
    "0/1 int64 train mask": (lambda d: setattr(d, "train_mask", d.train_mask.long()),
                             r"data\.train_mask must be a boolean mask of length 30; got dtype torch\.int64"),
    "train mask one short": (lambda d: setattr(d, "train_mask", d.train_mask[:-1]),
                             r"data\.train_mask must have shape \[30\]; got \[29\]"),
    "no y": (lambda d: _without(d, "y"), r"data\.y is missing"),
}


def _broken_graph(case: str):
    from fathom.data import csbm

    data = csbm(num_nodes=30, num_classes=3, seed=0)
    BROKEN_GRAPHS[case][0](data)
    return data


@pytest.fixture(scope="session")
def broken_graph():
    """``broken_graph(case)`` -> a 30-node, 3-class CSBM graph (``num_classes`` declared) with the
    one fault ``case`` names: a key of :data:`BROKEN_GRAPHS`."""
    return _broken_graph


@pytest.fixture(params=list(BROKEN_GRAPHS))
def broken_graph_case(request):
    """``(case, graph, message)`` for every case of :data:`BROKEN_GRAPHS`: a graph with one fault and
    the pattern the error naming it must match."""
    return request.param, _broken_graph(request.param), BROKEN_GRAPHS[request.param][1]

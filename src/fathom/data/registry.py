"""The dataset registry: one :class:`DatasetSpec` per name, each with its own small loader.

Adding a dataset means adding one entry to :data:`DATASETS`. A file-backed spec says which
*family folder* holds it (``planetoid``, ``webkb``, ...), where its ``raw/`` folder sits inside
that family (``Cora``, ``chameleon/geom_gcn``, or the family folder itself for Actor) and which
PyG class reads it; :func:`fathom.data.load_dataset` finds the folder and calls the loader.

Each spec records whether its standard protocol row-normalises the features
(``normalize_features``; ``load_dataset(..., normalize="protocol")`` applies it):

- Planetoid: row-normalised (``NormalizeFeatures``), as GCN (Kipf & Welling 2017) and GCNII
  (Chen et al. 2020) do.
- WebKB, Chameleon/Squirrel, Actor: row-normalised, as Geom-GCN (Pei et al. 2020) and GCNII's
  full-supervised experiments preprocess them.
- Amazon and Coauthor: raw bag-of-words, as in Shchur et al. 2018 ("Pitfalls of GNN
  evaluation"), whose benchmark leaves ``normalize_features`` off.
- CSBM (Gaussian features, may be negative), karate (one-hot identity) and the TU graphs
  (one-hot node labels): left as they are.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable, Literal

from torch_geometric.data import Data

from .csbm import csbm
from .errors import UnknownDatasetError

Task = Literal["node", "graph"]
SplitKind = Literal["public", "geom-gcn", "random", "builtin", "folds"]
SPLIT_KINDS: dict[str, str] = {
    "public": "the fixed Planetoid split (Yang et al. 2016)",
    "geom-gcn": "10 fixed 60/20/20 splits of Geom-GCN (Pei et al. 2020), one chosen by index",
    "random": "a random 60/20/20 split seeded by the seed",
    "builtin": "the split shipped with the graph (CSBM: its own seeded random split)",
    "folds": "graph classification: folds are drawn by the graph task, not by the loader",
}


@dataclass(frozen=True)
class Sizes:
    """Documented sizes, checked by the tests and shown for datasets that are not on disk.

    For graph datasets ``nodes`` and ``edges`` are totals over all ``graphs``; ``edges`` counts
    directed edges as PyG stores them (an undirected edge twice).
    """

    nodes: int
    edges: int
    features: int
    classes: int
    graphs: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """One registered dataset.

    Attributes:
        name: the registry key (lowercase).
        description: one line for listings.
        task: ``"node"`` (one graph, node labels and masks) or ``"graph"`` (many labelled graphs).
        split_kind: the standard split (see :data:`SPLIT_KINDS`).
        num_splits: fixed splits in the files (geom-gcn: 10; public, builtin: 1); 0 when splits are
            drawn from a seed (random) or by the task (folds).
        normalize_features: whether the standard protocol row-normalises the features.
        sizes: documented sizes.
        family: folder under a root of families holding the dataset (``None``: no files needed).
        folder: path from the family folder to the folder holding ``raw/`` (``""``: the family
            folder itself, as PyG's ``Actor`` expects).
        pyg_class, pyg_name: the PyG dataset class and the name passed to it (for listings).
        loader: file-backed datasets: ``loader(family_folder, pyg_name)`` returns the PyG dataset.
        builtin: datasets without files: ``builtin(seed, **options)`` returns the graph.
        also_in: further family folders searched after ``family``.
        approximate: a known copy (the project's shared one) is a reconstruction, not the original.
        original: ``(raw file, sha256)`` of the published original; a copy whose file differs is
            approximate (:func:`fathom.data.is_approximate`), and its results must be labelled so.
    """

    name: str
    description: str
    task: Task
    split_kind: SplitKind
    num_splits: int
    normalize_features: bool
    sizes: Sizes
    family: str | None = None
    folder: str = ""
    pyg_class: str | None = None
    pyg_name: str | None = None
    loader: Callable[[str, str | None], Any] | None = None
    builtin: Callable[..., Data] | None = None
    approximate: bool = False
    takes_options: bool = False
    also_in: tuple[str, ...] = ()
    original: tuple[str, str] | None = None

    @property
    def file_backed(self) -> bool:
        return self.loader is not None

    @property
    def families(self) -> tuple[str, ...]:
        return (self.family, *self.also_in) if self.family else ()


# --- loaders: one small function per family --------------------------------------------------

def _csbm(seed: int, **options) -> Data:
    return csbm(seed=seed, **options)


def _karate(seed: int) -> Data:
    from torch_geometric.datasets import KarateClub

    data = KarateClub()[0]  # 4 labelled nodes, one per community
    data.val_mask = ~data.train_mask
    data.test_mask = ~data.train_mask
    return data


def _planetoid(root: str, name: str | None):
    from torch_geometric.datasets import Planetoid

    return Planetoid(root, name)


def _webkb(root: str, name: str | None):
    from torch_geometric.datasets import WebKB

    return WebKB(root, name)


def _actor(root: str, name: str | None):
    from torch_geometric.datasets import Actor

    return Actor(root)


def _wikipedia_network(root: str, name: str | None):
    from torch_geometric.datasets import WikipediaNetwork

    return WikipediaNetwork(root, name, geom_gcn_preprocess=True)


def _amazon(root: str, name: str | None):
    from torch_geometric.datasets import Amazon

    return Amazon(root, name)


def _coauthor(root: str, name: str | None):
    from torch_geometric.datasets import Coauthor

    return Coauthor(root, name)


def _tu_dataset(root: str, name: str | None):
    from torch_geometric.datasets import TUDataset

    return TUDataset(root, name)


# --- the registry ----------------------------------------------------------------------------

def _planetoid_spec(name, pyg_name, sizes, **approximate):
    return DatasetSpec(name, f"Planetoid {pyg_name} citation graph", task="node", split_kind="public",
                       num_splits=1, normalize_features=True, sizes=sizes, family="planetoid", folder=pyg_name,
                       pyg_class="Planetoid", pyg_name=pyg_name, loader=_planetoid, **approximate)


def _geom_gcn_spec(name, description, sizes, family, folder, pyg_class, pyg_name, loader):
    return DatasetSpec(name, description, task="node", split_kind="geom-gcn", num_splits=10,
                       normalize_features=True, sizes=sizes, family=family, folder=folder, pyg_class=pyg_class,
                       pyg_name=pyg_name, loader=loader)


def _random_split_spec(name, description, sizes, family, pyg_class, pyg_name, loader):
    return DatasetSpec(name, description, task="node", split_kind="random", num_splits=0,
                       normalize_features=False, sizes=sizes, family=family, folder=pyg_name,
                       pyg_class=pyg_class, pyg_name=pyg_name, loader=loader)


def _tu_spec(name, pyg_name, description, sizes):
    return DatasetSpec(name, description, task="graph", split_kind="folds", num_splits=0,
                       normalize_features=False, sizes=sizes, family="tu_dataset", folder=pyg_name,
                       pyg_class="TUDataset", pyg_name=pyg_name, loader=_tu_dataset)


DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    DatasetSpec("csbm", "built-in contextual stochastic block model, no files", task="node", split_kind="builtin",
                num_splits=1, normalize_features=False, sizes=Sizes(1000, 6482, 32, 4), builtin=_csbm,
                takes_options=True),
    DatasetSpec("karate", "Zachary's karate club, shipped inside PyG", task="node", split_kind="builtin",
                num_splits=1, normalize_features=False, sizes=Sizes(34, 156, 34, 4), builtin=_karate),
    _planetoid_spec("cora", "Cora", Sizes(2708, 10556, 1433, 7)),
    _planetoid_spec("citeseer", "CiteSeer", Sizes(3327, 9104, 3703, 6)),
    # The shared copy's ind.pubmed.allx is a reconstruction (values within 5e-6 relative, see its NOTE.md).
    _planetoid_spec("pubmed", "PubMed", Sizes(19717, 88648, 500, 3), also_in=("planetoid_approx",),
                    approximate=True, original=("ind.pubmed.allx",
                                                "508e538e2abdccdd54c4d3e9f49d638b4af7107d85845f66ddea5a5152658b7e")),
    _random_split_spec("photo", "Amazon Photo co-purchase graph", Sizes(7650, 238162, 745, 8),
                       "amazon", "Amazon", "Photo", _amazon),
    _random_split_spec("computers", "Amazon Computers co-purchase graph", Sizes(13752, 491722, 767, 10),
                       "amazon", "Amazon", "Computers", _amazon),
    _random_split_spec("cs", "Coauthor CS co-authorship graph", Sizes(18333, 163788, 6805, 15),
                       "coauthor", "Coauthor", "CS", _coauthor),
    _random_split_spec("physics", "Coauthor Physics co-authorship graph", Sizes(34493, 495924, 8415, 5),
                       "coauthor", "Coauthor", "Physics", _coauthor),
    _geom_gcn_spec("chameleon", "Wikipedia chameleon pages, heterophilic (has duplicate nodes)",
                   Sizes(2277, 36101, 2325, 5), "wikipedia_network", "chameleon/geom_gcn", "WikipediaNetwork",
                   "chameleon", _wikipedia_network),
    _geom_gcn_spec("squirrel", "Wikipedia squirrel pages, heterophilic (has duplicate nodes)",
                   Sizes(5201, 217073, 2089, 5), "wikipedia_network", "squirrel/geom_gcn", "WikipediaNetwork",
                   "squirrel", _wikipedia_network),
    _geom_gcn_spec("actor", "actor co-occurrence on Wikipedia (Geom-GCN 'film'), heterophilic",
                   Sizes(7600, 30019, 932, 5), "actor", "", "Actor", None, _actor),
    _geom_gcn_spec("cornell", "WebKB Cornell web pages, heterophilic", Sizes(183, 298, 1703, 5),
                   "webkb", "cornell", "WebKB", "Cornell", _webkb),
    _geom_gcn_spec("texas", "WebKB Texas web pages, heterophilic", Sizes(183, 325, 1703, 5),
                   "webkb", "texas", "WebKB", "Texas", _webkb),
    _geom_gcn_spec("wisconsin", "WebKB Wisconsin web pages, heterophilic", Sizes(251, 515, 1703, 5),
                   "webkb", "wisconsin", "WebKB", "Wisconsin", _webkb),
    _tu_spec("mutag", "MUTAG", "TU MUTAG mutagenic molecules", Sizes(3371, 7442, 7, 2, graphs=188)),
    _tu_spec("proteins", "PROTEINS", "TU PROTEINS enzymes vs non-enzymes", Sizes(43471, 162088, 3, 2, graphs=1113)),
    _tu_spec("imdb-binary", "IMDB-BINARY", "TU IMDB-BINARY movie collaboration ego-networks",
             Sizes(19773, 193062, 0, 2, graphs=1000)),
    _tu_spec("nci1", "NCI1", "TU NCI1 anti-cancer screens", Sizes(122747, 265506, 37, 2, graphs=4110)),
)}


def get_spec(name: str) -> DatasetSpec:
    """The spec registered under ``name`` (case-insensitive), or an error listing the names."""
    key = name.lower()
    if key in DATASETS:
        return DATASETS[key]
    close = difflib.get_close_matches(key, DATASETS, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise UnknownDatasetError(f"unknown dataset {name!r}: {hint}the registered datasets are {', '.join(DATASETS)}")

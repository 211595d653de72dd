"""Measured statistics of a dataset (sizes, edge homophily, duplicate nodes), cached on disk.

Measuring means loading, which for the largest graphs takes seconds, so the result is kept as
JSON under ``<cache>/stats/``, keyed by the raw folder's path and the names, sizes and
modification times of its files: a second listing is instant, and a changed file is re-measured.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from torch_geometric.utils import homophily

from ..runs import write_json
from .datasets import load_dataset, raw_folder
from .duplicates import duplicate_nodes
from .registry import get_spec
from .roots import cache_dir, signature


def measure(name: str, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """Load ``name`` and measure it: nodes, edges, features, classes and, per task, either
    edge homophily (Zhu et al. 2020) and duplicate nodes, or the number of graphs."""
    spec = get_spec(name)
    loaded = load_dataset(name, root, normalize=False)
    if spec.task == "graph":
        return {"nodes": sum(graph.num_nodes for graph in loaded), "edges": int(loaded._data.edge_index.size(1)),
                "features": loaded.num_features, "classes": loaded.num_classes, "graphs": len(loaded)}
    return {"nodes": loaded.num_nodes, "edges": loaded.num_edges, "features": loaded.num_features,
            "classes": int(loaded.y.max()) + 1,
            "homophily": float(homophily(loaded.edge_index, loaded.y, method="edge")),
            "duplicates": duplicate_nodes(loaded)}


def dataset_stats(name: str, root: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """:func:`measure` of a dataset found under ``root`` (cached), of a built-in graph, or ``None`` if absent."""
    spec = get_spec(name)
    if not spec.file_backed:
        return measure(name, root)
    raw = raw_folder(name, root)
    if raw is None:
        return None
    key = hashlib.sha1(str(raw.resolve()).encode()).hexdigest()[:12]
    path = cache_dir() / "stats" / f"{spec.name}-{key}.json"
    stamp = signature(raw)
    try:
        cached = json.loads(path.read_text())
        if cached.get("signature") == stamp:
            return cached["stats"]
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    stats = measure(name, root)
    write_json(path, {"raw": str(raw), "signature": stamp, "stats": stats})
    return stats

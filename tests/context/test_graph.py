"""The file graph: incremental updates equal a rebuild; ranking follows references."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amigo.context.index import RepoIndex
from amigo.context.rank import FileGraph, graph_for

from context_helpers import SHOP


def _edges(graph: FileGraph) -> dict[tuple[str, str], float]:
    out = {}
    for fid, (dst, w) in enumerate(graph.out_edges):
        for d, weight in zip(dst.tolist(), w.tolist()):
            out[(graph.paths[fid], graph.paths[d])] = round(weight, 9)
    return out


def test_incremental_sync_equals_full_rebuild(make_repo, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(FileGraph, "REBUILD_DEAD_FRACTION", 10.0)  # always patch, never compact
    root = make_repo(SHOP)
    index = RepoIndex(root, tmp_path / "c")
    index.refresh(parallel=False)
    graph = graph_for(index)
    assert ("shop/checkout.py", "shop/pricing.py") in _edges(graph)
    graph.arrays()  # built now, so the changes below are patched into it
    # change the set of defined names, add a file, delete one
    (root / "shop/pricing.py").write_text("def format_price(cents):\n    return str(cents)\n")
    (root / "shop/extra.py").write_text("from shop.checkout import receipt\nreceipt(None)\n")
    (root / "shop/unrelated.py").unlink()
    report = index.refresh(parallel=False)
    graph_for(index, report.changed, report.removed)
    fresh = FileGraph()
    fresh.sync(index)
    assert _edges(graph) == _edges(fresh)
    assert ("shop/extra.py", "shop/checkout.py") in _edges(graph)
    assert ("shop/checkout.py", "shop/pricing.py") in _edges(graph)  # format_price still there
    graph.arrays()
    assert graph._dead > 0  # the arrays were patched, not rebuilt
    assert _ranking(graph) == _ranking(fresh)  # and rank exactly like rebuilt ones


def _ranking(graph: FileGraph) -> tuple[dict[str, float], dict[tuple[str, int], float]]:
    fid = graph.file_ids["shop/checkout.py"]
    ranked = graph.rank({fid: 1.0}, {graph.name_ids["format_price"]: 5.0}, fid)
    files = {graph.paths[i]: round(float(r), 9) for i, r in enumerate(ranked.file_rank) if graph.alive[i]}
    defs: dict[tuple[str, int], float] = {}
    for f, i, score in zip(ranked.def_file.tolist(), ranked.def_index.tolist(), ranked.def_score.tolist()):
        if score > 0:
            defs[(graph.paths[f], i)] = round(score, 9)
    return files, defs


def test_personalisation_moves_rank(make_repo, tmp_path: Path) -> None:
    root = make_repo(SHOP)
    index = RepoIndex(root, tmp_path / "c")
    index.refresh(parallel=False)
    graph = graph_for(index)
    checkout = graph.file_ids["shop/checkout.py"]
    ranked = graph.rank({checkout: 1.0}, {}, checkout)
    rank = {graph.paths[i]: float(r) for i, r in enumerate(ranked.file_rank)}
    assert rank["shop/pricing.py"] > rank["shop/unrelated.py"]
    assert rank["shop/models.py"] > rank["shop/unrelated.py"]
    assert np.isclose(ranked.file_rank.sum(), 1.0)
    # the edited file's own definitions are never offered back
    assert not np.any(ranked.def_score[ranked.def_file == checkout] > 0)

"""Personalized PageRank over the file graph (reference -> definition).

A file that uses a name points at the files that define it. The graph is kept
per index and updated incrementally: a changed file recomputes its own
out-edges, and only when its set of defined names changes do the files that
reference those names recompute theirs. Ranking is vectorised with numpy, so a
request over a tree of a million lines stays within tens of milliseconds.
"""

from __future__ import annotations

import builtins
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from amigo.context.index import RepoIndex
from amigo.context.tags import Definition, FileTags

WEAK_USE = 0.1  # obj.name, name=..., parameters: weak evidence of which definition is meant
MAX_DEFINING_FILES = 24  # a name defined in more files than this says nothing about which one
DAMPING = 0.85
ITERATIONS = 30
TOLERANCE = 1e-5
DENSE_MAX_FILES = 400  # up to this many files PageRank steps use a dense matrix (1.3 MB)
_EMPTY_I = np.zeros(0, dtype=np.int32)
_EMPTY_F = np.zeros(0, dtype=np.float64)
FAMILIES = ("edges", "refs", "defs", "targets")
COLUMN_TYPES = {"edges": (np.int32, np.float64), "refs": (np.int32, np.float64),
                "defs": (np.int32, np.int32, np.float64), "targets": (np.int32,)}


# Names every file uses that a repository merely shadows (builtins, common keywords).
COMMON_NAMES = frozenset(dir(builtins)) | frozenset({
    "self", "cls", "args", "kwargs", "this", "console", "Object", "Array", "String", "Number",
    "Promise", "Error", "Map", "Set", "JSON", "Math", "window", "document", "require", "module",
    "exports", "undefined", "null", "string", "error", "make", "append", "len", "nil", "fmt",
    "std", "String", "Vec", "Option", "Some", "None", "Ok", "Err", "Result", "Box", "new",
    "size_t", "NULL", "printf", "malloc", "free", "main", "get", "set", "value", "name", "type",
    "data", "key", "id", "i", "j", "k", "x", "y", "e", "f", "t", "v", "n", "s",
})
# Definition kinds that do not become graph targets (too generic), though they render.
NON_TARGET_KINDS = frozenset({"field"})
# How much a definition of each kind is worth in the repo map.
KIND_WEIGHT = {"field": 0.3, "constant": 0.6, "module": 0.5}


@lru_cache(maxsize=1 << 17)
def name_weight(name: str) -> float:
    """Private, very short and builtin names say little about what a file needs
    (remembered: the same names recur in every file of a repository)."""
    if name in COMMON_NAMES:
        return 0.0
    weight = 1.0
    if name.startswith("_"):
        weight *= 0.1
    if len(name) <= 2:
        weight *= 0.3
    return weight


@dataclass
class Ranked:
    """Ranks of files and scores of definitions for one request."""

    file_rank: np.ndarray
    def_file: np.ndarray
    def_index: np.ndarray
    def_score: np.ndarray


class FileGraph:
    """Names, definitions and reference edges of one :class:`RepoIndex`."""

    PATCH_MAX_FILES = 16  # more changed files than this (or 5%): rebuild the arrays
    REBUILD_DEAD_FRACTION = 0.3  # retired entries beyond this share: compact by rebuilding

    def __init__(self) -> None:
        self.generation = -1
        self.name_ids: dict[str, int] = {}
        self.names: list[str] = []
        self.file_ids: dict[str, int] = {}
        self.paths: list[str] = []
        self.alive: list[bool] = []
        self.tags: list[FileTags | None] = []
        self.defs_by_name: dict[int, set[int]] = {}
        self.refs_by_name: dict[int, set[int]] = {}
        self.file_def_names: list[frozenset[int]] = []
        self.file_refs: list[tuple[np.ndarray, np.ndarray]] = []
        self.file_defs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # names, indexes, weights
        self.out_edges: list[tuple[np.ndarray, np.ndarray]] = []
        self.file_targets: list[np.ndarray] = []  # names each file defines (graph targets)
        self._arrays: tuple[np.ndarray, ...] | None = None
        self._dense: np.ndarray | None = None  # DAMPING * transition matrix, small graphs only
        self._raw: dict[str, list[np.ndarray]] = {}
        self._segments: dict[str, list[tuple[int, int]]] = {}
        self._dirty: set[int] = set()
        self._dead = 0
        self._lower: dict[str, list[int]] | None = None
        self._alive_count: int | None = None
        self._stems: dict[str, list[int]] | None = None
        self._named: dict[int, dict[str, list[Definition]]] = {}  # fid -> name -> its definitions

    # ---- building ---------------------------------------------------------------
    def _intern(self, name: str) -> int:
        nid = self.name_ids.get(name)
        if nid is None:
            nid = self.name_ids[name] = len(self.names)
            self.names.append(name)
            if self._lower is not None:
                self._lower.setdefault(name.lower(), []).append(nid)
        return nid

    def _file_id(self, path: str) -> int:
        fid = self.file_ids.get(path)
        if fid is None:
            fid = self.file_ids[path] = len(self.paths)
            self.paths.append(path)
            self.alive.append(False)
            self.tags.append(None)
            self.file_def_names.append(frozenset())
            self.file_refs.append((_EMPTY_I, _EMPTY_F))
            self.file_defs.append((_EMPTY_I, _EMPTY_I, _EMPTY_F))
            self.out_edges.append((_EMPTY_I, _EMPTY_F))
            self.file_targets.append(_EMPTY_I)
        return fid

    def definitions_named(self, fid: int, name: str) -> list[Definition]:
        """The definitions of ``name`` in file ``fid``, in source order (indexed on first
        ask: go-to-definition asks about hundreds of names per request)."""
        named = self._named.get(fid)
        if named is None:
            named = {}
            tags = self.tags[fid]
            for definition in tags.definitions if tags is not None else ():
                named.setdefault(definition.name, []).append(definition)
            self._named[fid] = named
        return named.get(name, [])

    def _set_file(self, fid: int, tags: FileTags | None) -> set[int]:
        """Replace one file's tags; return the names whose defining files changed."""
        self._named.pop(fid, None)
        intern = self._intern
        name_ids = self.name_ids
        refs_by_name = self.refs_by_name
        sqrt = math.sqrt
        for nid in self.file_refs[fid][0].tolist():
            refs_by_name.get(nid, set()).discard(fid)
        old_names = self.file_def_names[fid]
        if tags is None:
            self.alive[fid] = False
            self.tags[fid] = None
            new_names: frozenset[int] = frozenset()
            self.file_refs[fid] = (_EMPTY_I, _EMPTY_F)
            self.file_defs[fid] = (_EMPTY_I, _EMPTY_I, _EMPTY_F)
        else:
            self.alive[fid] = True
            self.tags[fid] = tags
            def_ids = [intern(d.name) for d in tags.definitions]
            new_names = frozenset(nid for nid, d in zip(def_ids, tags.definitions)
                                  if d.kind not in NON_TARGET_KINDS)
            ref_ids, ref_w = [], []
            weak = tags.weak_references
            uses = dict.fromkeys(weak, 0)
            uses.update(tags.references)
            for name, count in uses.items():
                if name in COMMON_NAMES:
                    continue
                nid = name_ids.get(name)
                if nid is None:
                    nid = intern(name)
                ref_ids.append(nid)
                strength = count + WEAK_USE * weak.get(name, 0)
                ref_w.append(sqrt(strength) * name_weight(name) * (0.2 if nid in new_names else 1.0))
                users = refs_by_name.get(nid)
                if users is None:
                    users = refs_by_name[nid] = set()
                users.add(fid)
            self.file_refs[fid] = (np.array(ref_ids, dtype=np.int32), np.array(ref_w, dtype=np.float64))
            self.file_defs[fid] = (np.array(def_ids, dtype=np.int32),
                                   np.arange(len(def_ids), dtype=np.int32),
                                   np.array([KIND_WEIGHT.get(d.kind, 1.0) * (0.3 if d.name.startswith("_") else 1.0)
                                             for d in tags.definitions], dtype=np.float64))
        for nid in old_names - new_names:
            self.defs_by_name.get(nid, set()).discard(fid)
        for nid in new_names - old_names:
            self.defs_by_name.setdefault(nid, set()).add(fid)
        self.file_def_names[fid] = new_names
        self.file_targets[fid] = np.fromiter(new_names, dtype=np.int32, count=len(new_names))
        self._dirty.add(fid)
        return set(old_names ^ new_names)

    def _compute_out(self, fid: int) -> None:
        ref_ids, ref_w = self.file_refs[fid]
        acc: dict[int, float] = {}
        defs_by_name = self.defs_by_name
        refs_by_name = self.refs_by_name
        total = 1.0 + (self._alive_count or 0)
        log = math.log
        for nid, weight in zip(ref_ids.tolist(), ref_w.tolist()):
            targets = defs_by_name.get(nid)
            if not targets:
                continue
            n = len(targets) - (1 if fid in targets else 0)
            if n <= 0 or n > MAX_DEFINING_FILES:
                continue
            share = weight * log(1.0 + total / (1 + len(refs_by_name.get(nid, ())))) / n
            for target in targets:
                if target != fid:
                    acc[target] = acc.get(target, 0.0) + share
        self.out_edges[fid] = (np.fromiter(acc.keys(), dtype=np.int32, count=len(acc)),
                               np.fromiter(acc.values(), dtype=np.float64, count=len(acc)))
        self._dirty.add(fid)

    def sync(self, index: RepoIndex, changed: list[str] | None = None,
             removed: list[str] | None = None) -> None:
        """Catch up with ``index`` (everything on first use, else the given paths)."""
        if self.generation == index.generation:
            return
        if self.generation < 0 or changed is None:
            paths = list(index.entries)
            for path in list(self.file_ids):
                if path not in index.entries:
                    self._set_file(self.file_ids[path], None)
            for path in paths:
                entry = index.entries[path]
                self._set_file(self._file_id(path), entry.tags)
            self._alive_count = sum(self.alive)
            for fid in range(len(self.paths)):
                self._compute_out(fid) if self.alive[fid] else None
        else:
            touched_names: set[int] = set()
            touched_files: set[int] = set()
            for path in removed or ():
                if path in self.file_ids:
                    fid = self.file_ids[path]
                    touched_names |= self._set_file(fid, None)
                    self.out_edges[fid] = (_EMPTY_I, _EMPTY_F)
                    self._dirty.add(fid)
            for path in changed:
                entry = index.entries.get(path)
                fid = self._file_id(path)
                touched_names |= self._set_file(fid, entry.tags if entry else None)
                touched_files.add(fid)
            self._alive_count = sum(self.alive)
            for nid in touched_names:
                touched_files |= self.refs_by_name.get(nid, set())
            for fid in touched_files:
                if self.alive[fid]:
                    self._compute_out(fid)
                else:
                    self.out_edges[fid] = (_EMPTY_I, _EMPTY_F)
                    self._dirty.add(fid)
        self.generation = index.generation
        self._arrays = None
        self._stems = None

    # ---- ranking ------------------------------------------------------------------
    def _family(self, name: str, fid: int) -> tuple[np.ndarray, ...]:
        """One file's segment of a concatenated family of arrays."""
        if name == "edges":
            return self.out_edges[fid]
        if name == "refs":
            return self.file_refs[fid]
        if name == "defs":
            return self.file_defs[fid]
        return (self.file_targets[fid],)

    def _build_raw(self) -> None:
        """Concatenate every file's arrays, remembering where each file's segment lies."""
        n = len(self.paths)
        self._raw = {}
        self._segments = {}
        for family in FAMILIES:
            parts = [self._family(family, fid) for fid in range(n)]
            sizes = np.array([len(p[0]) for p in parts], dtype=np.int64)
            ends = np.cumsum(sizes)
            self._segments[family] = [(int(e - z), int(e)) for e, z in zip(ends, sizes)]
            columns = [np.repeat(np.arange(n, dtype=np.int32), sizes)]
            for k, dtype in enumerate(COLUMN_TYPES[family]):
                columns.append(np.concatenate([p[k] for p in parts]).astype(dtype, copy=False)
                               if n else np.zeros(0, dtype=dtype))
            columns.append(np.ones(int(sizes.sum()), dtype=np.float64))  # 1 live, 0 dead
            self._raw[family] = columns
        self._dead = 0
        self._dirty.clear()

    def _patch_raw(self) -> None:
        """Retire the old segments of changed files and append their new ones."""
        for family in FAMILIES:
            columns = self._raw[family]
            segments = self._segments[family]
            live = columns[-1]
            additions: list[list[np.ndarray]] = [[] for _ in columns]
            length = len(live)
            for fid in sorted(self._dirty):
                if fid < len(segments):
                    start, end = segments[fid]
                    live[start:end] = 0.0
                    self._dead += end - start
                part = self._family(family, fid)
                size = len(part[0])
                additions[0].append(np.full(size, fid, dtype=np.int32))
                for k, array in enumerate(part):
                    additions[k + 1].append(array)
                additions[-1].append(np.ones(size, dtype=np.float64))
                while len(segments) <= fid:
                    segments.append((0, 0))
                segments[fid] = (length, length + size)
                length += size
            self._raw[family] = [np.concatenate([col, *extra]) if extra else col
                                 for col, extra in zip(columns, additions)]
        self._dirty.clear()

    def arrays(self) -> tuple[np.ndarray, ...]:
        """Edge, reference and definition arrays for ranking (patched, not rebuilt, after
        a few files change, so a request after an edit stays fast)."""
        if self._arrays is not None:
            return self._arrays
        total = sum(len(cols[-1]) for cols in self._raw.values()) if self._raw else 0
        if (not self._raw or self._dead > self.REBUILD_DEAD_FRACTION * max(total, 1)
                or len(self._dirty) > max(self.PATCH_MAX_FILES, 0.05 * len(self.paths))):
            self._build_raw()
        elif self._dirty:
            self._patch_raw()
        n = len(self.paths)
        n_names = len(self.names)
        src, dst, w, e_live = self._raw["edges"]
        r_file, r_name, r_w, r_live = self._raw["refs"]
        d_file, d_name, d_idx, d_weight, d_live = self._raw["defs"]
        _, t_name, t_live = self._raw["targets"]
        w = w * e_live
        out_sum = np.bincount(src, weights=w, minlength=n)
        ndefs = np.bincount(t_name, weights=t_live, minlength=n_names)
        users = np.bincount(r_name, weights=r_live, minlength=n_names)  # names unique per file
        alive = np.array(self.alive, dtype=bool)
        idf = np.log(1.0 + (1.0 + alive.sum()) / (1.0 + users))
        r_w = r_w * r_live * idf[r_name]
        safe = np.where(out_sum > 0, out_sum, 1.0)
        norm_w = w / safe[src]
        flow_w = r_w / safe[r_file]
        valid = (ndefs[r_name] > 0) & (ndefs[r_name] <= MAX_DEFINING_FILES)
        flow_w = np.where(valid, flow_w, 0.0)
        self._arrays = (src, dst, norm_w, out_sum <= 0, r_file, r_name, flow_w,
                        d_file, d_name, d_idx.astype(np.int64), ndefs, alive, d_weight * d_live)
        self._dense = None
        if n <= DENSE_MAX_FILES:
            dense = np.zeros((n, n), dtype=np.float64)
            np.add.at(dense, (src, dst), DAMPING * norm_w)
            self._dense = dense
        return self._arrays

    def files_named(self, stem: str) -> list[int]:
        """Live files whose name without extension is ``stem`` (case-insensitive)."""
        if self._stems is None:
            stems: dict[str, list[int]] = {}
            for fid, path in enumerate(self.paths):
                if self.alive[fid]:
                    name = path.rsplit("/", 1)[-1]
                    stems.setdefault(name.split(".", 1)[0].lower(), []).append(fid)
            self._stems = stems
        return self._stems.get(stem.lower(), [])

    def names_like(self, word: str) -> list[int]:
        """Name ids equal to ``word`` ignoring case (instruction words are often lower case)."""
        if self._lower is None:
            lower: dict[str, list[int]] = {}
            for nid, name in enumerate(self.names):
                lower.setdefault(name.lower(), []).append(nid)
            self._lower = lower
        return self._lower.get(word.lower(), [])

    def rank(self, personal: dict[int, float], boost_names: dict[int, float],
             exclude_file: int | None) -> Ranked:
        """Rank files toward ``personal`` and score every definition."""
        (src, dst, norm_w, dangling, r_file, r_name, flow_w, d_file, d_name, d_idx, ndefs,
         alive, d_weight) = self.arrays()
        n = len(self.paths)
        p = np.zeros(n, dtype=np.float64)
        for fid, value in personal.items():
            p[fid] += value
        if p.sum() <= 0:
            p[alive] = 1.0
        p /= max(p.sum(), 1e-12)
        r = p.copy()
        dense = self._dense
        if dense is not None:  # a small repository: a matrix product per step is cheapest
            stuck = dangling.astype(np.float64) * DAMPING
            for _ in range(ITERATIONS):
                new = r @ dense + (r @ stuck + (1 - DAMPING)) * p
                done = np.abs(new - r).sum() < TOLERANCE
                r = new
                if done:
                    break
        else:
            for _ in range(ITERATIONS):
                spread = np.bincount(dst, weights=r[src] * norm_w, minlength=n)
                new = DAMPING * (spread + r[dangling].sum() * p) + (1 - DAMPING) * p
                done = np.abs(new - r).sum() < TOLERANCE
                r = new
                if done:
                    break
        # rank flows from each file to the names it uses, then to their definitions
        name_mass = np.bincount(r_name, weights=r[r_file] * flow_w, minlength=len(self.names))
        boost = np.ones(len(self.names), dtype=np.float64)
        if boost_names:  # one vector operation: a file uses a thousand names
            nids = np.fromiter(boost_names.keys(), dtype=np.int64, count=len(boost_names))
            factors = np.fromiter(boost_names.values(), dtype=np.float64, count=len(boost_names))
            boost[nids] = np.maximum(factors, 1.0)
        score = name_mass[d_name] / np.maximum(ndefs[d_name], 1.0) + 1e-3 * r[d_file]
        score = score * boost[d_name] * d_weight
        too_common = (ndefs[d_name] > MAX_DEFINING_FILES) & (boost[d_name] <= 1.0)
        score = np.where(too_common, 0.0, score)
        if exclude_file is not None:
            score = np.where(d_file == exclude_file, 0.0, score)
        return Ranked(r, d_file, d_idx, score)


def graph_for(index: RepoIndex, changed: list[str] | None = None,
              removed: list[str] | None = None) -> FileGraph:
    """The index's graph, synced (incrementally when ``changed`` is given)."""
    graph = index.derived.get("graph")
    if not isinstance(graph, FileGraph):
        graph = FileGraph()
        index.derived["graph"] = graph
        changed = None
    graph.sync(index, changed, removed)
    return graph

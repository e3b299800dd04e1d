"""``build_context``: the repository context of one edit request, inside a token budget.

Sections, in priority order: the selection's enclosing scope, the file's
imports (large files only: a small file is read whole anyway), definitions of
the identifiers the selection uses (a cheap go-to-definition), the ranked
repo map, and the work not yet committed. Each gets a share of the budget;
what one leaves unused goes to the repo map.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator

from amigo.context import files as filelist
from amigo.context.budget import TokenCounter, estimate_tokens, fit_lines
from amigo.context.index import Refresh, RepoIndex, index_for
from amigo.context.memo import remembered
from amigo.context.pool import digest_of
from amigo.context.languages import tag_language
from amigo.context.rank import COMMON_NAMES, MAX_DEFINING_FILES, FileGraph, Ranked, graph_for
from amigo.context.render import entry_lines, members_of, render_groups, signature_lines
from amigo.context.tags import CONTAINER_KINDS, Definition, FileTags, extract, plain_references
from amigo.filetypes import looks_binary
from amigo.paths import repo_relpath
from amigo.prompt import ContextSection

LARGE_FILE_LINES = 200
MAX_SCOPE_BODY_LINES = 120
SHARES = {"scope": 0.2, "imports": 0.1, "definitions": 0.55, "uncommitted": 0.15}
MAX_CANDIDATES_PER_NAME = 2
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words of instructions that name no code ("add a function that ...").
INSTRUCTION_STOPWORDS = frozenset("""
a an and are as at be but by can do does for from has have how if in into is it its
make makes made add adds added remove removes removed fix fixes fixed use uses used
change changes changed update updates updated rename renames renamed refactor create
creates delete deletes move moves support supports allow allows new old the this that
these those then than there their them they to too of on or not no so with without
when where which while should would could function functions method methods class
classes file files code test tests bug bugs error errors value values return returns
instead also more less only all any each some other same into onto via per about
""".split())


@dataclass
class ContextResult:
    """What :func:`build_context` hands the prompt module, plus notes and timings."""

    sections: tuple[ContextSection, ...]
    notes: tuple[str, ...]
    timings: dict[str, float] = field(default_factory=dict)
    tokens: int = 0
    root: Path | None = None  # the repository root actually indexed (None: none)
    path: str = ""  # the edited file relative to ``root`` (forward slashes)
    shown: tuple[tuple[str, str, int], ...] = ()  # (path, name, line) of each definition shown


def _resolve_root(repo_root: Path | None, path: str, notes: list[str]) -> Path | None:
    if repo_root is not None:
        root = Path(repo_root).resolve()
        if not root.is_dir():
            notes.append(f"repository root {root} is not a folder: context has only this file")
            return None
        top = filelist.git_toplevel(root)
        if top is None:
            notes.append(f"{root} is not a git repository: files were listed by walking the "
                         "folder (.gitignore honoured)")
        return root
    base = Path(path).parent if Path(path).is_absolute() else Path.cwd()
    top = filelist.git_toplevel(base)
    if top is None:
        notes.append("no repository root given and not inside a git repository: "
                     "context has only this file (pass --repo DIR to index a folder)")
        return None
    notes.append(f"no repository root given: using the git work tree {top}")
    return top


def _relative(root: Path | None, path: str) -> str:
    """The edited file's path relative to ``root``; what Amigo may not read is refused (RefusedError)."""
    if root is not None:
        return repo_relpath(root, path)
    return PurePosixPath(path.replace("\\", "/")).as_posix()


def _buffer_tags(text: str, rel: str, notes: list[str]) -> FileTags:
    """Tags of the editor buffer; what parsing it noticed goes to ``notes``."""
    tags, own = _buffer_tags_and_notes(text, rel)
    notes.extend(own)
    return tags


@remembered(maxsize=8)
def _buffer_tags_and_notes(text: str, rel: str) -> tuple[FileTags, tuple[str, ...]]:
    """The buffer's tags and the notes parsing it made (remembered: the same text is
    asked about repeatedly)."""
    own: list[str] = []
    return _parse_buffer(text, rel, own), tuple(own)


@remembered(maxsize=8)
def _text_digest(text: str) -> str:
    """The buffer's content digest (remembered: hashing the text again is cheaper)."""
    return digest_of(text.encode("utf-8", "surrogatepass"))


def _parse_buffer(text: str, rel: str, notes: list[str]) -> FileTags:
    data = text.encode("utf-8", "surrogatepass")
    if looks_binary(data):
        notes.append(f"{rel} looks binary: no structure taken from it")
        return FileTags(None, text.count("\n") + 1, (), {}, ())
    if len(data) > filelist.MAX_FILE_BYTES or filelist.looks_minified(data):
        notes.append(f"{rel} is very large or minified: only its words were used")
        return FileTags(None, text.count("\n") + 1, (), plain_references(data[:filelist.MAX_FILE_BYTES]), ())
    tags = extract(data, tag_language(rel))
    if tags.syntax_errors:
        notes.append(f"{rel} has syntax errors: used the partial tree tree-sitter recovered")
    return tags


def _selected_text(text: str, selection: tuple[int, int] | None) -> str:
    if selection is None:
        return text
    lines = text.splitlines(keepends=True)
    start, end = selection
    return "".join(lines[max(0, start - 1):max(0, end)])


# ---- sections --------------------------------------------------------------------------
def scope_section(tags: FileTags, text: str, selection: tuple[int, int] | None,
                  budget: int, count: TokenCounter) -> str:
    """Enclosing definitions of the selection; the innermost body too when the file is large."""
    if selection is None:
        return ""
    start, end = selection
    chain = [d for d in tags.definitions
             if d.first_line <= start and d.last_line >= end and (d.first_line, d.last_line) != (start, end)]
    if not chain:
        return ""
    chain.sort(key=lambda d: (d.first_line, -d.last_line))
    lines = [f"lines {d.first_line}-{d.last_line}: {d.signature.splitlines()[0].strip()}" for d in chain]
    inner = chain[-1]
    if tags.lines > LARGE_FILE_LINES and inner.last_line - inner.first_line < MAX_SCOPE_BODY_LINES:
        body = text.splitlines()[inner.first_line - 1:inner.last_line]
        lines.append("")
        lines.extend(body)
    return "\n".join(fit_lines(lines, budget, count))


def imports_section(tags: FileTags, text: str, budget: int, count: TokenCounter) -> str:
    """The file's import statements, for files too long to read at a glance."""
    if tags.lines <= LARGE_FILE_LINES or not tags.imports:
        return ""
    return "\n".join(fit_lines(_import_text(tags, text).split("\n"), budget, count))


def _import_text(tags: FileTags, text: str) -> str:
    return _import_lines(text, tags.imports)


@remembered(maxsize=64)
def _import_lines(text: str, imports: tuple[tuple[int, int], ...]) -> str:
    # remembered: splitting a long file into lines costs more than the rest of a
    # request, and the same buffer is asked about again and again
    source = text.splitlines()
    return "\n".join("\n".join(source[s - 1:e]) for s, e in imports)


def _module_hint(path: str) -> tuple[str, str]:
    """Ways an import might name ``path``: dotted module tail and file stem."""
    stem = PurePosixPath(path).with_suffix("").as_posix()
    parts = [p for p in stem.split("/") if p not in ("__init__", "index", "mod", "src", "lib")]
    dotted = ".".join(parts[-2:]) if parts else ""
    return dotted, parts[-1] if parts else ""


@remembered(maxsize=1 << 15)
def _imported(path: str, import_text: str) -> bool:
    """Whether ``import_text`` seems to import ``path`` (remembered: a file's imports and
    the repository's paths are the same on every request)."""
    dotted, last = _module_hint(path)
    if not last:
        return False
    if dotted and dotted in import_text:
        return True
    return re.search(rf"[./\"'<]{re.escape(last)}\b", import_text) is not None


@dataclass
class _Entry:
    fid: int
    definition: Definition
    lines: list[tuple[int, str]]
    tokens: int


MAX_MISSES = 24


def _fit_entries(entries: Iterable[_Entry], budget: int, graph: FileGraph,
                 count: TokenCounter) -> tuple[str, list[_Entry]]:
    """Greedily keep entries (best first, built lazily) while the text fits ``budget``."""
    kept: list[_Entry] = []
    used = 0
    misses = 0
    header_seen: set[int] = set()
    if budget <= 0:
        return "", kept
    for entry in entries:
        cost = entry.tokens + (0 if entry.fid in header_seen else estimate_tokens(graph.paths[entry.fid]) + 2)
        if used + cost > budget:
            misses += 1
            if misses >= MAX_MISSES:
                break
            continue
        kept.append(entry)
        used += cost
        header_seen.add(entry.fid)
        if budget - used < 8:
            break
    text = _render(kept, graph)
    while kept and count(text) > budget:  # per-entry sums can miss joins: check the whole
        kept.pop()
        text = _render(kept, graph)
    return text, kept


def _render(entries: list[_Entry], graph: FileGraph) -> str:
    groups: dict[int, list[tuple[int, str]]] = {}
    for entry in entries:
        groups.setdefault(entry.fid, []).extend(entry.lines)
    return render_groups([(graph.paths[fid], pairs) for fid, pairs in groups.items()])


def _entry(graph: FileGraph, fid: int, definition: Definition, members: bool,
           count: TokenCounter) -> _Entry:
    tags = graph.tags[fid]
    assert tags is not None
    lines = entry_lines(tags, definition, members)
    return _Entry(fid, definition, lines, count("\n".join(t for _, t in lines)) + 1)


MEMBER_KINDS = frozenset({"method", "field"})


def _member_entries(graph: FileGraph, classes: list[tuple[int, Definition]], tags: FileTags,
                    count: TokenCounter, full: frozenset = frozenset()) -> Iterator[_Entry]:
    """One entry per member of each class in ``classes``: members the file already calls
    as attributes first, then public ones in source order (private ones never). Classes
    in ``full`` are rendered with their first members already: those are skipped."""
    used = tags.weak_references
    for fid, definition in classes:
        owner = graph.tags[fid]
        if owner is None or definition.kind not in CONTAINER_KINDS:
            continue
        members = [m for m in members_of(owner, definition, limit=64)
                   if not m.name.startswith("_") or m.name == "__init__"]
        if (fid, definition) in full:  # its first members are shown with it already
            members = [m for m in members if m not in members_of(owner, definition)]
        members.sort(key=lambda m: (m.name not in used, m.first_line))
        header = signature_lines(definition)
        for member in members:
            lines = header + signature_lines(member)
            yield _Entry(fid, member, lines, count("\n".join(t for _, t in signature_lines(member))) + 1)


def definitions_for(graph: FileGraph, names: list[str], import_text: str, exclude: int | None,
                    file_rank, attributes: frozenset[str] = frozenset(),
                    per_name: int = MAX_CANDIDATES_PER_NAME) -> list[tuple[int, Definition]]:
    """Where each name is defined (best candidates first), skipping the edited file.

    Names only ever used as attributes (``obj.name``) resolve to class members
    only, and only when few files define them: ``x.update`` could be anything.
    """
    out: list[tuple[int, Definition]] = []
    seen: set[tuple[int, int]] = set()
    ranks = file_rank.tolist() if file_rank is not None else None
    alive = graph.alive
    paths = graph.paths
    for name in names:
        nid = graph.name_ids.get(name)
        if nid is None:
            continue
        candidates = [f for f in graph.defs_by_name.get(nid, ()) if f != exclude and alive[f]]
        if not candidates:
            continue
        attribute = name in attributes
        imported = [f for f in candidates if _imported(paths[f], import_text)]
        if imported:
            candidates = imported
        elif len(candidates) > (3 if attribute else MAX_DEFINING_FILES):
            continue
        if ranks is not None and len(candidates) > 1:
            candidates.sort(key=lambda f: -ranks[f])
        for fid in candidates[:per_name]:
            for definition in graph.definitions_named(fid, name):
                if attribute and definition.kind not in MEMBER_KINDS:
                    continue
                if (fid, definition.first_line) not in seen:
                    seen.add((fid, definition.first_line))
                    out.append((fid, definition))
                    break
    return out


def _ordered_names(selected: str, tags: FileTags, import_text: str) -> tuple[list[str], frozenset[str]]:
    """Identifiers of the selection (imported ones first, then by first use; local ones
    dropped) and those of them only ever used as attributes."""
    local = {d.name for d in tags.definitions}
    seen: dict[str, int] = {}
    bare: set[str] = set()
    for match in _WORD.finditer(selected):
        word = match.group()
        if word in local or word in COMMON_NAMES:
            continue
        if word not in seen:
            seen[word] = len(seen)
        if match.start() == 0 or selected[match.start() - 1] != ".":
            bare.add(word)
    imported = set(_WORD.findall(import_text))
    ordered = sorted(seen, key=lambda w: (w not in imported, w not in bare, seen[w]))
    return ordered, frozenset(w for w in seen if w not in bare)


DIFF_TTL_S = 5.0


def _git_stamp(root: Path) -> tuple[int, ...]:
    stamps = []
    for name in ("index", "HEAD"):
        try:
            stamps.append(os.stat(root / ".git" / name).st_mtime_ns)
        except OSError:
            stamps.append(-1)
    return tuple(stamps)


def _diff_lines(root: Path, rel: str, generation: int) -> list[str]:
    """``git diff HEAD`` lines of the other files, remembered for a few seconds while no
    source file, the git index or HEAD changed (so warm requests spawn no git); none
    when git cannot be run."""
    try:
        return _git_diff_lines(str(root), rel, (generation, *_git_stamp(root)))
    except (OSError, subprocess.SubprocessError):
        return []


@remembered(maxsize=32, ttl_s=DIFF_TTL_S)
def _git_diff_lines(root: str, rel: str, stamp: tuple[int, ...]) -> list[str]:
    """The diff (``stamp``, the index generation and git's file times, keys it: when they
    change it is asked again).

    Asked through the plumbing ``git diff-index -p HEAD``: the porcelain ``git diff``
    rewrites .git/index whenever a file's content matches but its stat data does not
    (an edit undone, say; git 2.39 does so even with ``--no-optional-locks``), and
    a write to the index makes the file watch ask git for the file list again.
    """
    cmd = ["git", "--no-optional-locks", "-C", root, "diff-index", "-p", "--no-color", "--no-ext-diff", "-U1", "HEAD",
           "--", ".", f":(exclude){rel}"]
    out = subprocess.run(cmd, capture_output=True, timeout=10)
    if out.returncode != 0:
        return []
    return [line for line in out.stdout.decode("utf-8", "replace").splitlines()
            if not line.startswith(("index ", "--- ", "+++ "))]


def uncommitted_section(root: Path, rel: str, budget: int, count: TokenCounter,
                        generation: int = -1) -> str:
    """``git diff HEAD`` of the other files (the edited one is in the prompt already)."""
    if budget <= 0:
        return ""
    lines = _diff_lines(root, rel, generation)
    if not lines:
        return ""
    kept = fit_lines(lines, budget, count)
    if len(kept) < len(lines):
        kept.append(f"... ({len(lines) - len(kept)} more diff lines not shown)")
    return "\n".join(kept)


def _skip_notes(index_skipped: dict[str, list[str]], refresh: Refresh) -> list[str]:
    notes = []
    for reason, paths in sorted(index_skipped.items()):
        shown = ", ".join(sorted(paths)[:3]) + (", ..." if len(paths) > 3 else "")
        notes.append(f"skipped {len(paths)} file{'s' if len(paths) != 1 else ''} ({reason}): {shown}")
    vendored = refresh.listing_skipped.get("vendored or generated", [])
    if vendored:
        notes.append(f"left out {len(vendored)} vendored or generated files")
    for reason, paths in refresh.listing_skipped.items():
        if reason != "vendored or generated":
            notes.append(f"skipped {len(paths)} ({reason}): {', '.join(paths[:3])}")
    return notes


@dataclass
class _Indexed:
    """What the repository index gives one request."""

    root: Path
    index: RepoIndex
    refresh: Refresh
    graph: FileGraph
    tags: FileTags  # the edited buffer's
    fid: int | None  # the edited file in the graph (None: not on disk, or not indexed)
    ranked: Ranked


class _Sections:
    """A context's sections, added in priority order, each within its share of the budget."""

    def __init__(self, budget: int, count: TokenCounter) -> None:
        self.budget = budget
        self.count = count
        self.added: list[ContextSection] = []
        self.used = 0

    def cost(self, title: str, body: str) -> int:
        """Tokens a section costs, its heading counted."""
        return self.count(f"### {title}\n") + 2 + self.count(body)

    def room(self, title: str, share: float | None) -> int:
        """Tokens a section titled ``title`` may use for its body (``share`` of the budget,
        or all that is left when None)."""
        left = self.budget - self.used - self.count(f"### {title}\n") - 2
        return max(0, min(left, int(self.budget * share)) if share is not None else left)

    def add(self, kind: str, title: str, body: str) -> None:
        if body.strip():
            self.added.append(ContextSection(kind, title, body))
            self.used += self.cost(title, body)


SECTION_ORDER = {"scope": 0, "imports": 1, "definitions": 2, "repo_map": 3, "uncommitted": 4}


def build_context(repo_root: Path | None, path: str, text: str,
                  selection: tuple[int, int] | None, instruction: str,
                  budget_tokens: int = 2048,
                  count_tokens: Callable[[str], int] | None = None,
                  cache_dir: Path | None = None) -> ContextResult:
    """Build the ranked, budgeted repository context for one edit request.

    ``path`` must be a file Amigo may read (:func:`amigo.paths.repo_relpath`):
    outside the repository, in ``.git/`` or through a symlink that leaves it,
    it is refused with :class:`~amigo.errors.RefusedError`.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    notes: list[str] = []
    count = count_tokens or estimate_tokens
    root = _resolve_root(repo_root, path, notes)
    rel = _relative(root, path)
    indexed = None
    if root is not None:
        indexed = _index_request(root, rel, text, selection, instruction, cache_dir, notes, timings)
    tags = indexed.tags if indexed is not None else _edited_tags(None, rel, text, notes, timings)

    t = time.perf_counter()
    out = _Sections(max(0, int(budget_tokens)), count)
    title = f"Enclosing scope of the selection in {rel}"
    out.add("scope", title, scope_section(tags, text, selection, out.room(title, SHARES["scope"]), count))
    title = f"Imports of {rel}"
    out.add("imports", title, imports_section(tags, text, out.room(title, SHARES["imports"]), count))
    listed: list[tuple[str, Definition]] = []
    if indexed is not None:
        listed = _repository_sections(out, indexed, rel, text, selection, timings)
    timings["render"] = time.perf_counter() - t - timings.get("git diff", 0.0)
    sections = sorted(out.added, key=lambda s: SECTION_ORDER.get(s.kind, 9))
    timings["total"] = time.perf_counter() - started
    shown = tuple((where, d.name, d.first_line) for where, d in listed)
    return ContextResult(tuple(sections), tuple(notes), timings, out.used, root, rel, shown)


def _index_request(root: Path, rel: str, text: str, selection: tuple[int, int] | None,
                   instruction: str, cache_dir: Path | None, notes: list[str],
                   timings: dict[str, float]) -> _Indexed:
    """Refresh the index, sync the graph and rank it toward this request."""
    index = index_for(root, cache_dir)
    with index.lock:
        refresh = index.refresh()
        timings.update(refresh.timings)
        t = time.perf_counter()
        graph = graph_for(index, refresh.changed, refresh.removed)
        timings["graph"] = time.perf_counter() - t
        tags = _edited_tags(index, rel, text, notes, timings)
        notes.extend(index.cache_notes)
        notes.extend(_skip_notes(index.skipped(), refresh))
        broken = sum(1 for p, e in index.entries.items() if e.tags and e.tags.syntax_errors and p != rel)
        if broken:
            notes.append(f"{broken} other file{'s' if broken != 1 else ''} had syntax errors "
                         "(partial trees used)")
        fid = graph.file_ids.get(rel)
        t = time.perf_counter()
        personal, boost = _personalise(graph, fid, tags, text, selection, instruction)
        ranked = graph.rank(personal, boost, fid)
        timings["rank"] = time.perf_counter() - t
    return _Indexed(root, index, refresh, graph, tags, fid, ranked)


def _edited_tags(index: RepoIndex | None, rel: str, text: str, notes: list[str],
                 timings: dict[str, float]) -> FileTags:
    """Tags of the edited buffer: the index's when the buffer is what is saved, else parsed."""
    on_disk = index.entries.get(rel) if index is not None else None
    if on_disk is not None and on_disk.tags is not None and on_disk.digest == _text_digest(text):
        if on_disk.tags.syntax_errors:
            notes.append(f"{rel} has syntax errors: used the partial tree tree-sitter recovered")
        return on_disk.tags
    t = time.perf_counter()
    tags = _buffer_tags(text, rel, notes)
    timings["parse file"] = time.perf_counter() - t
    return tags


def _repository_sections(out: _Sections, indexed: _Indexed, rel: str, text: str,
                         selection: tuple[int, int] | None,
                         timings: dict[str, float]) -> list[tuple[str, Definition]]:
    """Add the definitions, the repo map and the uncommitted changes; return the
    (path, definition) pairs shown. The diff is measured first so that the repo map,
    which takes whatever is left, leaves room for it."""
    graph = indexed.graph
    kept = _definitions_section(out, indexed, text, selection)
    t = time.perf_counter()
    diff_title = "Uncommitted changes in other files"
    uncommitted = ""
    if indexed.refresh.is_git:
        uncommitted = uncommitted_section(indexed.root, rel, out.room(diff_title, SHARES["uncommitted"]),
                                          out.count, indexed.index.generation)
    timings["git diff"] = time.perf_counter() - t
    reserved = out.cost(diff_title, uncommitted) if uncommitted else 0
    title = "Repository map (most relevant definitions)"
    shown = {(e.fid, e.definition.first_line) for e in kept}
    map_text, map_kept = _repo_map(graph, indexed.ranked, shown, out.room(title, None) - reserved, out.count)
    out.add("repo_map", title, map_text)
    out.add("uncommitted", diff_title, uncommitted)
    return [(graph.paths[e.fid], e.definition) for e in kept + map_kept]


def _definitions_section(out: _Sections, indexed: _Indexed, text: str,
                         selection: tuple[int, int] | None) -> list[_Entry]:
    """Add where the names the selection (then the rest of the file) uses are defined;
    return the entries shown."""
    graph, tags, count = indexed.graph, indexed.tags, out.count
    import_text = _import_text(tags, text)
    # the selection's names first, then the rest of the file's (imported, most used first)
    names, attributes = ([], frozenset()) if selection is None else _ordered_names(
        _selected_text(text, selection), tags, import_text)
    imported_words = set(_WORD.findall(import_text))
    local = {d.name for d in tags.definitions}
    chosen = set(names)
    names = names + sorted((n for n in tags.references if n not in local and n not in COMMON_NAMES
                            and n not in chosen),
                           key=lambda n: (n not in imported_words, -tags.references[n]))
    file_rank = indexed.ranked.file_rank
    found = definitions_for(graph, names[:len(chosen)], import_text, indexed.fid, file_rank, attributes)
    rest = definitions_for(graph, names[len(chosen):], import_text, indexed.fid, file_rank, per_name=1)
    # the selection's names in full (a class with its members), the rest one line each,
    # then the members of the classes the file uses (``obj.method`` needs them)
    entries = itertools.chain((_entry(graph, f, d, True, count) for f, d in found),
                              (_entry(graph, f, d, False, count) for f, d in rest),
                              _member_entries(graph, found + rest, tags, count, frozenset(found)))
    title = ("Definitions of names the selection uses" if selection
             else "Definitions of names this file uses")
    def_text, kept = _fit_entries(entries, out.room(title, SHARES["definitions"]), graph, count)
    out.add("definitions", title, def_text)
    return kept


def warm_index(repo_root: Path, cache_dir: Path | None = None) -> None:
    """Index ``repo_root`` now (call from a background thread when a session opens), so
    the first request does not wait for a cold parse of the whole repository."""
    root = Path(repo_root).resolve()
    index = index_for(root, cache_dir)
    with index.lock:
        refresh = index.refresh()
        graph = graph_for(index, refresh.changed, refresh.removed)
        graph.arrays()


def _personalise(graph: FileGraph, fid: int | None, tags: FileTags, text: str,
                 selection: tuple[int, int] | None, instruction: str) -> tuple[dict[int, float], dict[int, float]]:
    """Teleport weights toward the edited file and the files defining what the request mentions."""
    personal: dict[int, float] = {}
    boost: dict[int, float] = {}
    if fid is not None:
        personal[fid] = 1.0

    def toward(nid: int, weight: float) -> None:
        files = graph.defs_by_name.get(nid, ())
        if 0 < len(files) <= MAX_DEFINING_FILES:
            for f in files:
                if f != fid:
                    personal[f] = personal.get(f, 0.0) + weight / len(files)

    imported = set(_WORD.findall(_import_text(tags, text)))
    for name in tags.references:  # what the buffer (maybe unsaved) uses
        nid = graph.name_ids.get(name)
        if nid is None:
            continue
        boost[nid] = 2.0
        if name in imported:
            toward(nid, 0.2)
            boost[nid] = 4.0
    if selection is not None:
        for name in dict.fromkeys(_WORD.findall(_selected_text(text, selection))):
            if name in tags.weak_references and name not in tags.references:
                continue  # a local variable or attribute: names nothing elsewhere
            nid = graph.name_ids.get(name)
            if nid is not None:
                toward(nid, 0.3)
                boost[nid] = max(boost.get(nid, 1.0), 5.0)
    # (in order of appearance, not a set's: string hashes differ from process to
    # process, and the order of these additions decides ties in the ranking)
    for word in dict.fromkeys(_WORD.findall(instruction)):
        if len(word) < 3 or word.lower() in INSTRUCTION_STOPWORDS:
            continue
        code_like = not word.islower() or "_" in word or any(c.isdigit() for c in word)
        exact = graph.name_ids.get(word)
        for nid in graph.names_like(word):
            strong = code_like and nid == exact
            toward(nid, 0.5 if strong else 0.2)
            boost[nid] = max(boost.get(nid, 1.0), 10.0 if strong else 3.0)
        for f in graph.files_named(word):
            personal[f] = personal.get(f, 0.0) + 0.5
    return personal, boost


def _repo_map(graph: FileGraph, ranked, shown: set[tuple[int, int]], budget: int,
              count: TokenCounter) -> tuple[str, list[_Entry]]:
    """Best-scored definitions not shown yet, as many as fit ``budget``."""
    import numpy as np

    if budget <= 16 or not len(ranked.def_score):
        return "", []
    positive = int((ranked.def_score > 0).sum())
    k = min(positive, max(64, budget // 4))
    if k <= 0:
        return "", []
    top = np.argpartition(-ranked.def_score, k - 1)[:k]
    top = top[np.argsort(-ranked.def_score[top], kind="stable")]
    def entries() -> Iterator[_Entry]:
        for i in top.tolist():
            fid = int(ranked.def_file[i])
            tags = graph.tags[fid]
            if tags is None:
                continue
            definition = tags.definitions[int(ranked.def_index[i])]
            if (fid, definition.first_line) not in shown:
                yield _entry(graph, fid, definition, False, count)

    return _fit_entries(entries(), budget, graph, count)

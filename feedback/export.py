"""Export the store as Hugging Face datasets in TRL's conversational formats.

* ``dpo``: ``prompt`` (the exact stored messages), ``chosen`` and ``rejected``
  (one assistant message each), ``automatic`` (true when the engine itself
  turned the rejected answer down: it failed to apply or its checks, and the
  repair loop or another candidate gave the answer shown). Pairs come from
  (a) a proposal that was retried or rejected, by the person or automatically,
  and whose retry was accepted: chosen = the accepted
  answer, rejected = the earlier answer, prompt = the earlier request's; and
  (b) a rejected proposal the person corrected by hand: chosen = their
  correction rendered as SEARCH/REPLACE blocks by ``amigo.prompt.render_answer``
  / ``amigo.edits.render``, rejected = the model's answer.
* ``sft``: ``prompt`` / ``completion`` from accepted edits whose measured
  retention is at least ``min_retention`` (not undone); with
  ``corrections=True`` also the person's own corrections (the chosen side of
  the correction pairs), which the nightly run learns from directly.
* ``sft-completions``: inline completions the person accepted (the part they
  took, for a partial accept); ``dpo-completions``: suggestions the person
  typed over, chosen = what they wrote at that place, rejected = the
  suggestion. The prompt is the chat prompt of ``amigo.complete`` (the one
  renderer): stored as sent for chat-route suggestions, rendered from the
  stored prefix and suffix for FIM ones (whose raw FIM prompt stays in the
  store), so one dataset has one shape.
* ``requests``: every edit request as the person asked it (the first
  proposal of each request): ``prompt``, and ``path``, ``file_text``,
  ``edit_format``, ``instruction``, ``selection_start``/``selection_end``, so
  that a model's answer to it can be applied and checked without the
  repository. Its test split is what the nightly gate replays through the
  promoted model and the candidate.

A partial (per-hunk) accept contributes what was really written, rendered as
blocks, rather than the whole answer. Rows are deduplicated by prompt (a
correction wins over a retry, then the newest); the split is stable and by
request: ``sha256`` of the id of the request's first proposal decides test vs
train, so a request's repair attempts, candidates and retries (each a pair with
the same accepted answer) all land on one side and none teaches the answer a
held-out pair is scored on. Output layout::

    DIR/jsonl/{train,test}.jsonl      always (stdlib only)
    DIR/parquet/{train,test}.parquet  when pyarrow is installed (the train extra)
    DIR/manifest.json                 counts, date range, schema version, models
    DIR/README.md                     the dataset card (Hub metadata: splits, files, license)

A split with no rows gets no file (``datasets`` cannot read an empty Parquet
file); the manifest still counts it. ``test`` is the held-out split (the name
``datasets`` and TRL's scripts expect).

Load with ``datasets.load_dataset("parquet", data_dir=DIR/"parquet")`` or
``load_dataset("json", data_dir=DIR/"jsonl")``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Literal

from amigo import install_hint
from amigo.errors import InputError
from amigo.prompt import EditRequest, render_answer
from feedback.store import Reader

Format = Literal["dpo", "sft", "dpo-completions", "sft-completions", "requests"]
FORMATS = ("dpo", "sft", "dpo-completions", "sft-completions", "requests")
# How far before a "ready" window its examples' proposals may have been made: past a retention's
# delay (a day by default) and a correction's window, with room for a machine that was off.
READY_LOOKBACK_S = 30 * 86400
REQUEST_COLUMNS = ("request_id", "path", "file_text", "edit_format", "instruction", "selection_start", "selection_end")
SPLIT_RULE = ("test when int(sha256(id)[:8], 16) / 2**32 < test_fraction, where id is the request's first "
              "proposal (retries and repairs follow it) or the inline suggestion")


@dataclass
class Example:
    request_id: str
    prompt: list[dict[str, str]]
    created_at: float
    model: str
    source: str  # retry | repair | correction | accepted
    chosen: str = ""
    rejected: str = ""
    priority: int = 1
    automatic: bool = False  # the rejected answer was turned down by the engine's checks, not a person
    request: dict[str, Any] | None = None  # the ``requests`` format's columns beyond the prompt
    ready_at: float = 0.0  # when its evidence was complete: the accept that chose, the follow-up that measured

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.prompt, sort_keys=True).encode()).hexdigest()


@dataclass
class ExportResult:
    out: Path
    manifest: dict[str, Any] = field(default_factory=dict)


def is_test(request_id: str, test_fraction: float) -> bool:
    """The stable split: the same request always lands on the same side."""
    return int(hashlib.sha256(request_id.encode()).hexdigest()[:8], 16) / 2**32 < test_fraction


def request_roots(store: Reader) -> dict[str, str]:
    """Proposal id -> the id of its request's first proposal, for every proposal linked to another:
    by ``parent_id`` (repairs, retries) or by a ``retried`` event (a person's retry; an automatic
    rejection points at the answer shown instead, so every failed candidate of a round is linked
    too). A request is a connected group of such links. Its first proposal is the engine's first
    answer: the round-1 candidates have no parent and carry the request id, the first plainly and
    the others with a ``.k`` suffix, so it is the shortest parentless id (then the oldest); a group
    with no parentless proposal is named by its oldest. Proposals linked to none are their own
    request and are not listed."""
    link: dict[str, str] = {}

    def find(pid: str) -> str:
        while link.get(pid, pid) != pid:
            pid = link[pid] = link.get(link[pid], link[pid])
        return pid

    rows = {r["id"]: r for r in store.query("SELECT id, parent_id, created_at FROM proposals")}
    pairs = [(pid, r["parent_id"]) for pid, r in rows.items() if r["parent_id"]]
    pairs += [(r["proposal_id"], json.loads(r["data"]).get("new_proposal_id"))
              for r in store.query("SELECT proposal_id, data FROM events WHERE kind = 'retried'")]
    linked: set[str] = set()
    for a, b in pairs:
        if a and b and a != b:
            linked.update((a, b))
            if find(a) != find(b):
                link[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for pid in linked:
        groups.setdefault(find(pid), []).append(pid)

    def first(members: list[str]) -> str:
        known = [m for m in members if m in rows]
        heads = [m for m in known if not rows[m]["parent_id"]]
        if heads:
            return min(heads, key=lambda m: (len(m), rows[m]["created_at"], m))
        return min(known or members, key=lambda m: (rows[m]["created_at"] if m in rows else float("inf"), m))

    return {pid: name for members in groups.values() for name in [first(members)] for pid in members}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


class _Proposals:
    """Lazily loaded proposal rows (only what the export reads)."""

    def __init__(self, store: Reader, since: float, until: float | None) -> None:
        sql = ("SELECT id, created_at, path, edit_format, selection_start, selection_end, instruction, "
               "file_text, messages, answer, changes, model, adapter FROM proposals WHERE created_at >= ?")
        params: list[Any] = [since]
        if until is not None:
            sql += " AND created_at < ?"
            params.append(until)
        self.rows = {r["id"]: r for r in store.query(sql, tuple(params))}

    def get(self, pid: str | None) -> sqlite3.Row | None:
        return self.rows.get(pid) if pid else None


def _old_texts(row: sqlite3.Row) -> dict[str, str]:
    out = {}
    for change in json.loads(row["changes"]):
        out[change["path"]] = row["file_text"] if change["old_text"] is None else change["old_text"]
    return out


def render_texts(row: sqlite3.Row, texts: dict[str, str]) -> str:
    """The ideal answer that turns the proposal's files into ``texts`` (the one renderer)."""
    from amigo import edits

    olds = _old_texts(row)
    olds.setdefault(row["path"], row["file_text"])
    selection = (row["selection_start"], row["selection_end"]) if row["selection_start"] else None
    request = EditRequest(instruction=row["instruction"], path=row["path"], file_text=row["file_text"],
                          selection=selection, edit_format=row["edit_format"])
    parts = []
    for path, new in sorted(texts.items(), key=lambda kv: kv[0] != row["path"]):
        old = olds.get(path, "")
        if path == row["path"] and row["edit_format"] != "blocks" and len(texts) == 1:
            try:
                parts.append(render_answer(request, new))
                continue
            except ValueError:
                pass  # reaches outside the selection: blocks can still say it
        parts.append(edits.render(old, new, path))
    return "".join(parts)


def _model(row: sqlite3.Row) -> str:
    return row["model"] + (f"@{row['adapter']}" if row["adapter"] else "")


def _example(row: sqlite3.Row, source: str, priority: int, ready_at: float | None = None) -> Example:
    return Example(row["id"], json.loads(row["messages"]), row["created_at"], _model(row), source,
                   priority=priority, ready_at=row["created_at"] if ready_at is None else ready_at)


def _accepts(store: Reader) -> dict[str, dict]:
    """proposal id -> data of its latest accept that no later undo cancelled (its time as ``at``)."""
    undone = {r[0]: r[1] for r in store.query(
        "SELECT proposal_id, MAX(at) FROM events WHERE kind = 'undone' AND proposal_id IS NOT NULL "
        "GROUP BY proposal_id")}
    out: dict[str, dict] = {}
    for r in store.query("SELECT proposal_id, at, data FROM events WHERE kind = 'accepted' ORDER BY at, id"):
        if r["proposal_id"] in undone and undone[r["proposal_id"]] >= r["at"]:
            out.pop(r["proposal_id"], None)
            continue
        out[r["proposal_id"]] = {**json.loads(r["data"]), "at": r["at"]}
    return out


def _accepted_answer(row: sqlite3.Row, accept: dict) -> str:
    """What the person took, as an answer to the row's prompt that says it when read plainly:
    the model's own answer, unless the engine read it otherwise (a fenced rewrite for a blocks
    request, a whole-file answer holding only the definitions it changed); then its change is
    rendered in the prompt's format."""
    if accept.get("hunks") is not None and accept.get("final_texts"):
        return render_texts(row, accept["final_texts"])
    texts = {c["path"]: c["new_text"] for c in json.loads(row["changes"])}
    return row["answer"] if _reads_plainly(row, texts) else render_texts(row, texts)


def _reads_plainly(row: sqlite3.Row, texts: dict[str, str]) -> bool:
    """Whether the row's answer, applied in its request's format, gives ``texts``."""
    from amigo import edits

    files: dict[str, str | None] = {row["path"]: row["file_text"]}
    files.update({path: old for path, old in _old_texts(row).items() if path not in files})
    selection = (row["selection_start"], row["selection_end"]) if row["selection_start"] else None
    applied = edits.apply_answer(row["answer"], files, row["path"], row["edit_format"], selection=selection)
    return not applied.errors and applied.new_texts == texts


def _chosen_for(row: sqlite3.Row, winner: sqlite3.Row, accept: dict) -> str:
    """The accepted answer, in the format ``row``'s prompt asked for: a repair that switched
    format (a fenced rewrite for a blocks request, asked again in the whole format) is rendered
    back into blocks, so the pair answers one prompt in one format."""
    if winner["edit_format"] == row["edit_format"]:
        return _accepted_answer(winner, accept)
    texts = accept.get("final_texts") or {c["path"]: c["new_text"] for c in json.loads(winner["changes"])}
    return render_texts(row, texts)


def dpo_examples(store: Reader, since: float, until: float | None = None) -> list[Example]:
    """Every preference pair the store holds for proposals made since ``since``."""
    proposals = _Proposals(store, since, until)
    accepts = _accepts(store)
    successor: dict[str, str] = {}
    for r in store.query("SELECT id, parent_id FROM proposals WHERE parent_id IS NOT NULL"):
        successor.setdefault(r["parent_id"], r["id"])
    automatic: set[str] = set()
    for r in store.query("SELECT proposal_id, data FROM events WHERE kind = 'retried'"):
        data = json.loads(r["data"])
        successor[r["proposal_id"]] = data.get("new_proposal_id")
        if data.get("automatic"):
            automatic.add(r["proposal_id"])
    out: list[Example] = []
    # (a) retried/rejected proposals whose retry chain ends in an accept
    for pid in successor:
        row = proposals.get(pid)
        if row is None:
            continue
        seen, nxt = {pid}, successor.get(pid)
        while nxt and nxt not in accepts and nxt in successor and nxt not in seen:
            seen.add(nxt)
            nxt = successor[nxt]
        winner = proposals.get(nxt) if nxt in accepts else None
        if winner is None:
            continue
        ex = _example(row, "repair" if pid in automatic else "retry", priority=1, ready_at=accepts[nxt]["at"])
        ex.chosen, ex.rejected = _chosen_for(row, winner, accepts[nxt]), row["answer"]
        ex.automatic = pid in automatic
        out.append(ex)
    # (b) rejected proposals the person corrected by hand
    for r in store.query("SELECT proposal_id, correction_texts, checked_at FROM followups "
                         "WHERE kind = 'correction' AND status = 'done' AND correction_texts IS NOT NULL"):
        row = proposals.get(r["proposal_id"])
        if row is None:
            continue
        ex = _example(row, "correction", priority=0, ready_at=r["checked_at"])
        ex.chosen, ex.rejected = render_texts(row, json.loads(r["correction_texts"])), row["answer"]
        out.append(ex)
    return [ex for ex in out if ex.chosen.strip() and ex.chosen != ex.rejected]


def sft_examples(store: Reader, since: float, until: float | None = None,
                 min_retention: float = 0.5) -> list[Example]:
    """Accepted edits whose retention was measured at ``min_retention`` or more."""
    proposals = _Proposals(store, since, until)
    accepts = _accepts(store)
    out = []
    for r in store.query("SELECT proposal_id, retention, checked_at FROM followups WHERE kind = 'retention' "
                         "AND status = 'done' AND retention >= ?", (min_retention,)):
        row = proposals.get(r["proposal_id"])
        if row is None or r["proposal_id"] not in accepts:
            continue
        ex = _example(row, "accepted", priority=0, ready_at=r["checked_at"])
        ex.chosen = _accepted_answer(row, accepts[r["proposal_id"]])
        out.append(ex)
    return [ex for ex in out if ex.chosen.strip()]


def _completion_prompt(row: sqlite3.Row) -> list[dict[str, str]]:
    """The conversational prompt of a stored suggestion (see the module docstring)."""
    from amigo.complete import Shape, chat_messages

    if row["route"] == "chat":
        return json.loads(row["prompt"])
    return chat_messages(row["path"], row["prefix"], row["suffix"], Shape(row["mode"]))


def _completion_rows(store: Reader, kind: str, since: float, until: float | None) -> list[tuple[sqlite3.Row, dict]]:
    """(completion row, event data) for the latest ``kind`` event of each suggestion in [since, until)."""
    sql = ("SELECT c.*, e.data AS event_data FROM completions c JOIN completion_events e ON e.completion_id = c.id "
           "WHERE e.kind = ? AND c.created_at >= ?")
    params: list[Any] = [kind, since]
    if until is not None:
        sql += " AND c.created_at < ?"
        params.append(until)
    latest: dict[str, tuple[sqlite3.Row, dict]] = {}
    for r in store.query(sql + " ORDER BY e.at, e.id", tuple(params)):
        latest[r["id"]] = (r, json.loads(r["event_data"]))
    return list(latest.values())


def _completion_example(row: sqlite3.Row, source: str) -> Example:
    return Example(row["id"], _completion_prompt(row), row["created_at"], _model(row), source, priority=0,
                   ready_at=row["created_at"])


def completion_sft_examples(store: Reader, since: float, until: float | None = None) -> list[Example]:
    """Accepted inline completions: the prompt and what the person took."""
    out = []
    for row, data in _completion_rows(store, "accepted", since, until):
        ex = _completion_example(row, "completion-accepted")
        ex.chosen = data.get("accepted") or row["suggestion"]
        out.append(ex)
    return [ex for ex in out if ex.chosen.strip()]


def completion_dpo_examples(store: Reader, since: float, until: float | None = None) -> list[Example]:
    """Suggestions the person typed over: chosen = what they wrote there, rejected = the suggestion."""
    out = []
    for row, data in _completion_rows(store, "rejected", since, until):
        typed = data.get("typed")
        if not typed or not typed.strip():
            continue
        ex = _completion_example(row, "completion-typed")
        ex.chosen, ex.rejected = typed, row["suggestion"]
        out.append(ex)
    return [ex for ex in out if ex.chosen.strip() != ex.rejected.strip()]


def correction_examples(store: Reader, since: float, until: float | None = None) -> list[Example]:
    """A person's corrections as SFT targets: the chosen side of every correction pair."""
    return [ex for ex in dpo_examples(store, since, until) if ex.source == "correction"]


def request_examples(store: Reader, since: float, until: float | None = None) -> list[Example]:
    """The first proposal of every edit request made in [since, until): what was asked, of which file."""
    proposals = _Proposals(store, since, until)
    roots = request_roots(store)
    out = []
    for pid, row in proposals.rows.items():
        if roots.get(pid, pid) != pid:
            continue  # a repair, candidate or retry: its request is the group's first proposal
        ex = _example(row, "request", priority=0)
        ex.request = {"request_id": pid, "path": row["path"], "file_text": row["file_text"],
                      "edit_format": row["edit_format"], "instruction": row["instruction"],
                      "selection_start": row["selection_start"], "selection_end": row["selection_end"]}
        out.append(ex)
    return out


def dedup(examples: Iterable[Example]) -> tuple[list[Example], int]:
    """One example per prompt: the best source first, then the newest. Returns (kept, dropped)."""
    best: dict[str, Example] = {}
    count = 0
    for ex in examples:
        count += 1
        key = ex.key()
        old = best.get(key)
        if old is None or (ex.priority, -ex.created_at) < (old.priority, -old.created_at):
            best[key] = ex
    kept = sorted(best.values(), key=lambda e: (e.created_at, e.request_id))
    return kept, count - len(kept)


def _record(fmt: str, ex: Example) -> dict[str, Any]:
    if fmt == "requests":
        return {"prompt": ex.prompt, **(ex.request or {})}
    if fmt.startswith("dpo"):
        return {"prompt": ex.prompt, "chosen": [{"role": "assistant", "content": ex.chosen}],
                "rejected": [{"role": "assistant", "content": ex.rejected}], "automatic": ex.automatic}
    return {"prompt": ex.prompt, "completion": [{"role": "assistant", "content": ex.chosen}]}


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _write_parquet(path: Path, fmt: str, records: list[dict[str, Any]]) -> bool:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    names = _message_columns(fmt)
    columns = [(n, pa.list_(message)) for n in names]
    if fmt == "dpo":
        columns.append(("automatic", pa.bool_()))
    if fmt == "requests":
        columns += [(n, pa.int64() if n.startswith("selection") else pa.string()) for n in REQUEST_COLUMNS]
    schema = pa.schema(columns)
    table = pa.Table.from_pylist(records, schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return True


def _message_columns(fmt: str) -> tuple[str, ...]:
    if fmt.startswith("dpo"):
        return ("prompt", "chosen", "rejected")
    return ("prompt",) if fmt == "requests" else ("prompt", "completion")


def export(store: Reader, fmt: str, out: Path, since: float = 0.0, until: float | None = None,
           test_fraction: float = 0.1, min_retention: float = 0.5, license: str = "other",
           corrections: bool = False, window: Literal["created", "ready"] = "created") -> ExportResult:
    """Write the ``fmt`` dataset of [since, until) to ``out``, with its card (``corrections``: SFT
    also learns the person's corrections).

    ``window="created"`` takes the proposals made in the window. ``"ready"`` takes the examples
    whose evidence was completed in it (``Example.ready_at``: the accept that chose a retry, the
    follow-up that measured a retention or captured a correction), for proposals made up to
    ``READY_LOOKBACK_S`` before it: what consecutive nightly windows need, since an accept's
    retention is measured a day later, after the night that saw the proposal made."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    if not 0.0 <= test_fraction < 1.0:
        raise InputError(f"test fraction {test_fraction} is out of range: give a number in [0, 1)")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file: give a folder for the export")
    if window not in ("created", "ready"):
        raise InputError(f"unknown export window {window!r}: use created or ready")
    made_since = max(0.0, since - READY_LOOKBACK_S) if window == "ready" else since
    finders = {"dpo": lambda: dpo_examples(store, made_since, until),
               "sft": lambda: sft_examples(store, made_since, until, min_retention),
               "dpo-completions": lambda: completion_dpo_examples(store, made_since, until),
               "sft-completions": lambda: completion_sft_examples(store, made_since, until),
               "requests": lambda: request_examples(store, made_since, until)}
    found = finders[fmt]()
    if fmt == "sft" and corrections:
        found += correction_examples(store, made_since, until)
    if window == "ready":
        found = [ex for ex in found if since <= ex.ready_at and (until is None or ex.ready_at < until)]
    kept, dropped = dedup(found)
    roots = request_roots(store) if not fmt.endswith("completions") else {}
    splits: dict[str, list[Example]] = {"train": [], "test": []}
    for ex in kept:
        splits["test" if is_test(roots.get(ex.request_id, ex.request_id), test_fraction) else "train"].append(ex)
    files, parquet = [], True
    for split, examples in splits.items():
        for stale in (out / "jsonl" / f"{split}.jsonl", out / "parquet" / f"{split}.parquet"):
            stale.unlink(missing_ok=True)  # a re-export into the same folder must not mix runs
        if not examples:
            continue
        records = [_record(fmt, ex) for ex in examples]
        _write_jsonl(out / "jsonl" / f"{split}.jsonl", records)
        files.append(f"jsonl/{split}.jsonl")
        if _write_parquet(out / "parquet" / f"{split}.parquet", fmt, records):
            files.append(f"parquet/{split}.parquet")
        else:
            parquet = False
    models: dict[str, int] = {}
    sources: dict[str, int] = {}
    for ex in kept:
        models[ex.model] = models.get(ex.model, 0) + 1
        sources[ex.source] = sources.get(ex.source, 0) + 1
    manifest = {
        "format": fmt,
        "trl_format": ("conversational preference" if fmt.startswith("dpo") else
                       "conversational prompt-only" if fmt == "requests" else "conversational prompt-completion"),
        "columns": (list(_message_columns(fmt)) + (["automatic"] if fmt == "dpo" else [])
                    + (list(REQUEST_COLUMNS) if fmt == "requests" else [])),
        "schema_version": store.version,
        "created_at": _iso(time.time()),
        "since": _iso(since) if since else None,
        "until": _iso(until) if until else None,
        "window": window,
        "counts": {"train": len(splits["train"]), "test": len(splits["test"]), "total": len(kept),
                   "duplicates_dropped": dropped, "by_source": sources},
        "date_range": {"first": _iso(kept[0].created_at), "last": _iso(kept[-1].created_at)} if kept else None,
        "models": models,
        "split": {"rule": SPLIT_RULE, "test_fraction": test_fraction},
        "min_retention": min_retention if fmt == "sft" else None,
        "files": files,
        "parquet": parquet if parquet else f"not written: pyarrow is missing ({install_hint('train')})",
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    (out / "README.md").write_text(dataset_card(manifest, license), encoding="utf-8")
    return ExportResult(out, manifest)


def _size_category(n: int) -> str:
    """The Hub's size_categories bucket for ``n`` rows."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "n>1M"


def dataset_card(manifest: dict[str, Any], license: str = "other") -> str:
    """README.md for the Hub: YAML metadata (license, splits and their files, TRL format) and
    what the rows are. The YAML is written as JSON values (valid YAML), so no YAML library is needed."""
    fmt = manifest["format"]
    kind = "parquet" if manifest["parquet"] is True else "jsonl"
    splits = [s for s in ("train", "test") if f"{kind}/{s}.{kind}" in manifest["files"]]
    data_files = "".join(f"\n      - split: {s}\n        path: {kind}/{s}.{kind}" for s in splits)
    counts = manifest["counts"]
    rows = (f"`prompt` (the exact messages Amigo sent), `chosen` and `rejected` (one assistant message each)"
            if fmt.startswith("dpo") else
            "`prompt` (the exact messages Amigo sent) and the request: `path`, `file_text` (the file as it was), "
            "`edit_format`, `instruction`, `selection_start`/`selection_end`" if fmt == "requests" else
            "`prompt` (the exact messages Amigo sent) and `completion` (the accepted answer)")
    return f"""---
license: {json.dumps(license)}
pretty_name: {json.dumps(f"Amigo {fmt.upper()} preferences")}
task_categories:
  - text-generation
tags: ["amigo", "code", "code-edits", "{fmt}", "trl"]
size_categories:
  - {json.dumps(_size_category(counts["total"]))}
configs:
  - config_name: default
    data_files:{data_files}
---

# Amigo {fmt.upper()} data

Preference data recorded by Amigo while people accepted, rejected, retried and
corrected its proposed edits, exported by `amigo feedback export --format {fmt}`
in TRL's {manifest["trl_format"]} format: {rows}.

- Rows: {counts["total"]} ({counts["train"]} train, {counts["test"]} test; {counts["duplicates_dropped"]} duplicate prompts dropped).
- {"Examples completed (accepted, measured, corrected)" if manifest.get("window") == "ready" else "Proposals made"} {manifest["since"] or "from the start"} to {manifest["until"] or "the export"}; models: {", ".join(manifest["models"]) or "none"}.
- Split: {manifest["split"]["rule"]} (test fraction {manifest["split"]["test_fraction"]}).
- Secrets were redacted before anything was stored; the code is the recording team's own:
  check that you may share it before making this dataset public.

```python
from datasets import load_dataset
data = load_dataset("ORG/NAME")   # this repository
```
"""

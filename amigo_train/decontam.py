"""Decontamination: drop training examples that share long n-grams with evaluation problems.

Evaluation sets (HumanEval, MBPP, HumanEvalFix, QuixBugs, DebugBench) are read from a
data directory (a path argument or ``AMIGO_DATA_DIR``) in the layout of the shared copies.
Tokens are identifiers, numbers and single punctuation marks, so whitespace and
formatting changes do not hide an overlap. N-grams found in many problems
(boilerplate such as ``from typing import List``) are ignored.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from amigo import progress

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]")
TEXT_FIELDS = ("prompt", "canonical_solution", "buggy_solution", "text", "code", "buggy_program",
               "solution", "buggy_code", "oracle_code", "content", "description", "declaration")
COMMON_LIMIT = 4  # an n-gram in more problems than this is boilerplate


def tokens(text: str) -> list[str]:
    """Code-aware tokens (case kept: identifiers are case-sensitive)."""
    return _TOKEN.findall(text)


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    toks = tokens(text)
    return {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        for line in fh:
            if line.strip():
                yield json.loads(line)


BENCHMARK_FILES: dict[str, tuple[str, ...]] = {
    "humaneval": ("humaneval/HumanEval.jsonl.gz",),
    "mbpp": ("mbpp/mbpp.jsonl",),
    "humanevalfix": ("humanevalpack/python.jsonl", "humanevalpack/js.jsonl", "humanevalpack/java.jsonl",
                     "humanevalpack/go.jsonl", "humanevalpack/cpp.jsonl", "humanevalpack/rust.jsonl"),
    "quixbugs": ("quixbugs/quixbugs_python.jsonl",),
    "debugbench": ("debugbench/benchmark/*.json",),
}


def data_dir(explicit: str | Path | None = None) -> Path | None:
    """The evaluation data directory: the argument, else ``AMIGO_DATA_DIR``, else None."""
    value = explicit or os.environ.get("AMIGO_DATA_DIR")
    return Path(value) if value else None


def load_problems(root: Path, benchmarks: Iterable[str]) -> dict[str, list[str]]:
    """benchmark id -> [problem text, ...] (one string per problem, all its text fields joined)."""
    out: dict[str, list[str]] = {}
    for bench in benchmarks:
        texts: list[str] = []
        for pattern in BENCHMARK_FILES[bench]:
            for path in sorted(root.glob(pattern)):
                records: Iterable[dict[str, Any]]
                if path.suffix == ".json":
                    loaded = json.loads(path.read_text(encoding="utf-8"))
                    records = loaded if isinstance(loaded, list) else [loaded]
                else:
                    records = _jsonl(path)
                for i, rec in enumerate(records):
                    parts = [str(rec[k]) for k in TEXT_FIELDS if isinstance(rec.get(k), str)]
                    texts.append("\n".join(parts))
        out[bench] = texts
    return out


@dataclass
class Decontaminator:
    """An index of evaluation n-grams; ``hits(text)`` says which benchmark problems overlap."""

    n: int
    index: dict[tuple[str, ...], set[str]] = field(default_factory=dict)

    @classmethod
    def from_problems(cls, problems: dict[str, list[str]], n: int = 13) -> "Decontaminator":
        index: dict[tuple[str, ...], set[str]] = {}
        for bench, texts in problems.items():
            for i, text in enumerate(texts):
                for gram in ngrams(text, n):
                    index.setdefault(gram, set()).add(f"{bench}/{i}")
        common = [g for g, ids in index.items() if len(ids) > COMMON_LIMIT]
        for gram in common:
            del index[gram]
        return cls(n, index)

    def hits(self, text: str) -> set[str]:
        """The ids (``bench/index``) of the problems sharing an n-gram with ``text``."""
        found: set[str] = set()
        toks = tokens(text)
        for i in range(len(toks) - self.n + 1):
            ids = self.index.get(tuple(toks[i : i + self.n]))
            if ids:
                found |= ids
        return found


def example_text(example: dict[str, Any]) -> str:
    """Everything a model sees or learns in an example (prompt and answers)."""
    parts = []
    for key in ("prompt", "completion", "chosen", "rejected"):
        for message in example.get(key) or ():
            parts.append(str(message.get("content", "")))
    return "\n".join(parts)


def decontaminate(examples: list[dict[str, Any]], index: Decontaminator) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(kept examples, report rows of dropped ones: example id, source, overlapping problems)."""
    kept, dropped = [], []
    for ex in progress.track(examples, "decontaminating", unit="examples"):
        hits = index.hits(example_text(ex))
        if hits:
            dropped.append({"id": ex.get("id"), "source": ex.get("source"), "problems": sorted(hits)[:10]})
        else:
            kept.append(ex)
    return kept, dropped

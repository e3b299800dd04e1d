"""What every benchmark provides: problems, the prompt, and a way to score an answer."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from amigo_train.eval.sandbox import ExecResult, Job, Limits, Sandbox


@dataclass(frozen=True)
class Problem:
    """One benchmark item; ``data`` is the record as the data set ships it."""

    id: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    """The score of one answer: ``status`` passed/failed/timeout/error plus optional metrics."""

    passed: bool
    status: str
    detail: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)


class Task(ABC):
    """A benchmark. Answers are the model's raw text; tasks extract what they need."""

    name: str = ""
    #: how the prompt is laid out, shown in reports because scores depend on it
    prompt_format: str = ""
    wall_s: float = 10.0
    memory_mb: int | None = 1024
    #: whether scoring runs model-written code (then the runner starts a Sandbox)
    needs_sandbox: bool = True
    #: score only problems whose reference passes and buggy answer fails (checked once, cached)
    calibrate: bool = False

    @abstractmethod
    def load(self, data_dir: str | Path | None = None, download: bool = False) -> list[Problem]:
        """All problems, in the data set's order."""

    @abstractmethod
    def messages(self, problem: Problem) -> list[dict[str, str]]:
        """The chat messages sent to the model."""

    @abstractmethod
    def reference(self, problem: Problem) -> str:
        """An answer, as a model would write it, built from the reference solution."""

    def buggy(self, problem: Problem) -> str | None:
        """An answer built from the data set's known-wrong code, where it has one."""
        return None

    def job(self, problem: Problem, answer: str) -> Job | None:
        """The program that checks ``answer`` (None for tasks scored without running code)."""
        return None

    def score(self, problem: Problem, answer: str, sandbox: Sandbox | None) -> Outcome:
        """Score one answer; the default runs :meth:`job` in the sandbox."""
        job = self.job(problem, answer)
        if job is None:
            raise NotImplementedError(f"{self.name} must override score() or job()")
        if sandbox is None:
            raise ValueError(f"{self.name} runs model-written code: it needs a Sandbox")
        return outcome_of(sandbox.run(job))

    def limits(self) -> Limits:
        return Limits(wall_s=self.wall_s, memory_mb=self.memory_mb)


def outcome_of(result: ExecResult) -> Outcome:
    return Outcome(result.passed, result.status, result.output[-1500:])


_FENCE = re.compile(r"^(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.S | re.M)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Fenced code blocks in ``text`` as (language tag, body)."""
    return [(m.group(2).lower(), m.group(3)) for m in _FENCE.finditer(text)]


def extract_code(text: str, languages: tuple[str, ...] = ("python", "py", "python3"),
                 must_contain: str | None = None) -> str:
    """The code in a model answer: the best fenced block, else the whole text.

    Prefers blocks tagged with one of ``languages`` (or untagged) that contain
    ``must_contain`` (e.g. ``def entry_point``), then the longest such block.
    An unterminated final fence (a truncated answer) still yields its code.
    """
    blocks = code_blocks(text)
    if not blocks:
        opened = re.search(r"^(`{3,})[^\n]*\n", text, re.M)
        return text[opened.end():] if opened else text
    tagged = [b for lang, b in blocks if lang in languages or lang == ""] or [b for _, b in blocks]
    if must_contain:
        containing = [b for b in tagged if must_contain in b]
        if containing:
            tagged = containing
    return max(tagged, key=len)


def fenced(code: str, language: str = "python") -> str:
    """``code`` in a Markdown fence, the way chat models answer."""
    return f"```{language}\n{code.rstrip()}\n```\n"


def python_imports(prompt: str) -> str:
    """Top-level import lines of a prompt, so a model's standalone function still has them."""
    return "".join(line + "\n" for line in prompt.splitlines() if re.match(r"^(import|from)\s+\w", line))

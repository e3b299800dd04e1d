"""Inline completion: what goes at the cursor, suggested as the person types.

One request is the text before and after the cursor plus a small budget of
repository context. Models that know fill-in-the-middle get their own FIM
layout (a template per model family, sent to ``/v1/completions``, or llama.cpp's
``/infill`` which lays out the model's tokens itself); the embedded SmolLM2,
whose tokenizer has no FIM tokens, continues the text before the cursor left to
right (the ``prefix`` route); other models without a known template get a chat
prompt with a cursor marker.

Every prompt is laid out for the model server's prefix cache (llama.cpp keeps
what it evaluated for the last request and skips the beginning the next one
shares): what stays put while the person types comes first (repository
context, built once per file; the window's first line, which moves
in steps of :data:`WINDOW_STEP` lines), then the text up to the cursor, and
only then what changes at each keystroke. Typing one more character then costs
the model a token or two instead of the whole prompt.

The syntax tree decides the shape of a suggestion before the model is asked:
a single line when the cursor is inside a line (an expression, a call), the
rest of the block when it stands on an empty line or after a colon or an
opening brace, and nothing inside strings and comments unless asked. The same
shape then cuts the streamed answer, so the stream is closed (and the server
stops) as soon as the suggestion is complete.

Front ends own timing (debounce, cancelling on typing); this module owns the
prompt, the stop rules, the prefix-keyed cache and the events: it publishes
``CompletionShownEvent`` / ``CompletionAcceptedEvent`` / ``CompletionRejectedEvent``
on the session's bus, where the feedback recorder listens.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from amigo.client import Cancelled, ChatClient, StreamStats
from amigo.config import CompletionSettings, Config
from amigo.context.budget import estimate_tokens
from amigo.events import (
    CompletionAcceptedEvent, CompletionRejectedEvent, CompletionShownEvent, EventBus, Suggestion,
)
from amigo.filetypes import language_of
from amigo.prompt import fence_for

log = logging.getLogger(__name__)

CURSOR = "<|cursor|>"
CACHE_SIZE = 64
# Characters of new text before the cursor that still count as typing on at the same place
# (a few keystrokes, a pasted word): the model server has the rest of the prompt evaluated.
TYPING_CHARS = 64


@dataclass(frozen=True)
class FimTemplate:
    """How one model family spells fill-in-the-middle (prefix-suffix-middle order)."""

    name: str
    prefix: str
    suffix: str
    middle: str
    file_sep: str | None  # marks a file of repository context, when the family has one
    stops: tuple[str, ...]


FIM_TEMPLATES: dict[str, FimTemplate] = {
    "qwen": FimTemplate("qwen", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>",
                        ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>")),
    "starcoder": FimTemplate("starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>",
                             ("<|endoftext|>", "<file_sep>", "<fim_pad>")),
    "codellama": FimTemplate("codellama", "<PRE> ", " <SUF>", " <MID>", None, (" <EOT>", "<EOT>")),
}

# model-name fragments -> template, for ``fim = "auto"``
_FAMILIES: tuple[tuple[str, str], ...] = (
    ("qwen2.5-coder", "qwen"), ("qwen2-5-coder", "qwen"), ("qwen3-coder", "qwen"),
    ("starcoder", "starcoder"), ("santacoder", "starcoder"), ("refact", "starcoder"),
    ("codellama", "codellama"), ("code-llama", "codellama"),
    # no FIM tokens in its tokenizer; continuing the text before the cursor beat the chat prompt
    # on held-out code, in accuracy and in latency (benchmarks/RESULTS.md, "Inline completion")
    ("smollm", "prefix"),
)

CHAT_SYSTEM = """You are Amigo's code completion. You are shown a file with the marker <|cursor|>.
Answer with only the code that belongs at the marker: no explanation, no code fence,
and nothing that is already written before or after the marker."""

# tree-sitter node types (any grammar) inside which nothing is suggested unless asked
_STRING_TYPES = ("string", "template_string", "raw_string_literal", "interpreted_string_literal",
                 "char_literal", "character_literal", "string_literal", "string_content")
_COMMENT_TYPES = ("comment", "line_comment", "block_comment")
_OPENERS = (":", "{")


@dataclass(frozen=True)
class Shape:
    """What kind of suggestion fits at the cursor.

    ``mode``: ``line`` (finish this line), ``block`` (the rest of a block, each
    line indented at least ``indent``), or ``none`` (inside a string or a comment).
    """

    mode: str
    indent: int = 0
    line_suffix: str = ""
    why: str = ""
    opens: bool = False  # the suggestion starts on a new line (the cursor ends a block's header)
    after_space: bool = False  # the cursor follows whitespace: a suggestion must not add more


@dataclass(frozen=True)
class Route:
    """Where a completion request goes: ``fim`` (/completions + template), ``infill``, ``prefix``
    (/completions with the text before the cursor only: left to right, for models without FIM) or ``chat``."""

    kind: str
    template: FimTemplate | None = None

    @property
    def label(self) -> str:
        return f"fim:{self.template.name}" if self.template else self.kind


def route_for(settings: CompletionSettings, model: str) -> Route:
    """The route ``completion.fim`` asks for; ``auto`` picks a template from the model's name."""
    choice = settings.fim
    if choice == "auto":
        low = model.lower()
        choice = next((name for fragment, name in _FAMILIES if fragment in low), "none")
    if choice == "none":
        return Route("chat")
    if choice in ("infill", "prefix"):
        return Route(choice)
    return Route("fim", FIM_TEMPLATES[choice])


# -- the shape of a suggestion, from the syntax tree ------------------------------------


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _inside(text: str, offset: int, path: str) -> str | None:
    """``"string"`` or ``"comment"`` when the cursor is inside one (tree-sitter), else None."""
    from amigo.context.languages import parser, tag_language

    name = tag_language(path)
    ts = parser(name) if name else None
    if ts is None:
        return None
    data = text.encode("utf-8", "surrogatepass")
    at = len(text[:offset].encode("utf-8", "surrogatepass"))
    node = ts.parse(data).root_node.descendant_for_byte_range(max(at - 1, 0), at)
    while node is not None:
        if node.type in _COMMENT_TYPES and node.start_byte < at <= node.end_byte:
            return "comment"
        if node.type in _STRING_TYPES and node.start_byte < at < node.end_byte:
            return "string"
        node = node.parent
    return None


def analyse(text: str, offset: int, path: str, in_strings: bool = False) -> Shape:
    """The shape of the suggestion that fits at ``offset`` of ``text`` (a file at ``path``)."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_prefix = text[line_start:offset]
    line_suffix = text[offset:line_end if line_end >= 0 else len(text)]
    if not in_strings:
        inside = _inside(text, offset, path)
        if inside:
            return Shape("none", why=f"inside a {inside}")
    if not line_prefix.strip():
        return Shape("block", indent=len(line_prefix.expandtabs(4)), line_suffix=line_suffix,
                     why="an empty line: the rest of the block", after_space=True)
    if not line_suffix.strip() and line_prefix.rstrip().endswith(_OPENERS):
        return Shape("block", indent=_indent_of(line_prefix.expandtabs(4)) + 1, line_suffix=line_suffix,
                     why="after an opener: the block it opens", opens=True)
    return Shape("line", line_suffix=line_suffix, why="inside a line: finish it",
                 after_space=line_prefix[-1:].isspace())


def cut(answer: str, shape: Shape, next_line: str = "", max_lines: int = 12) -> tuple[str, bool]:
    """The part of ``answer`` the shape allows, and whether the suggestion is complete.

    Line mode stops at the first line break. Block mode keeps lines indented at
    least ``shape.indent`` (the first line continues the cursor's line), stops
    before a line that leaves the block, before a line the file already has next
    (``next_line``: the model repeating what follows), after two blank lines,
    or after ``max_lines``.
    """
    if shape.mode == "line":
        head, sep, _ = answer.partition("\n")
        return head, bool(sep)
    lines = answer.split("\n")
    complete = len(lines) - 1  # the last piece may still grow
    kept: list[str] = [lines[0]]
    blanks = 0
    for i, line in enumerate(lines[1:], start=1):
        whole = i < complete
        if not line.strip():
            blanks += 1
            if blanks >= 2:
                return _tidy(kept), True
            kept.append(line)
            continue
        blanks = 0
        if _indent_of(line.expandtabs(4)) < shape.indent:
            return _tidy(kept), True
        if next_line.strip() and line.strip() == next_line.strip() and whole:
            return _tidy(kept), True
        kept.append(line)
        if len(kept) >= max_lines and whole:
            return _tidy(kept), True
    return "\n".join(kept), False


def whole_lines(answer: str) -> tuple[str, bool]:
    """A block answer cut back to its complete lines (the last piece may still grow), and whether
    that is a suggestion: not when no line with text is complete yet.

    Used once a request has spent its latency budget: the suggestion shown now
    is worth more than the rest of the block later.
    """
    complete, sep, _ = answer.rpartition("\n")
    if not sep or not complete.strip():
        return answer, False
    return _tidy(complete.split("\n")), True


def words_ready(answer: str) -> str:
    """The part of an answer still being written that can be shown now: up to the end of its last
    whole word. The name being written is left out ("return self._val" shows "return self."):
    greedy decoding only extends what is there, so what is shown is always the start of the
    whole suggestion, never half a name that grows into another one."""
    return re.sub(r"\w+\Z", "", answer)


def _tidy(lines: list[str]) -> str:
    while lines and not lines[-1].strip() and len(lines) > 1:
        lines.pop()
    return "\n".join(lines)


def finish(text: str, shape: Shape) -> str:
    """Final touches: no trailing blank lines; no second indentation after the cursor's (models
    tokenise "    return" as one piece and repeat the space); a line suggestion that retypes the
    rest of the line drops it."""
    text = _tidy(text.split("\n")) if shape.mode == "block" else text
    if shape.after_space:
        text = text.lstrip(" \t")
    rest = shape.line_suffix.strip()
    if shape.mode == "line" and rest and text.rstrip().endswith(rest):
        text = text.rstrip()[: -len(rest)]
    return text.rstrip() if shape.mode == "line" else text


def clean_chat_answer(answer: str, line_prefix: str, opens: bool = False) -> str:
    """A chat model's answer as insertable text: no fence, no cursor marker, no echo of the line.

    After a block's header (``opens``) the answer is the block's lines, which
    start on a new line whether or not the model wrote the line break.
    """
    text = answer.replace(CURSOR, "")
    if text.lstrip().startswith("`") and "\n" not in text.lstrip():
        return ""  # a fence still arriving: nothing to show yet
    fenced = re.match(r"\s*(`{3,})[^\n]*\n(.*?)(?:\n\1|\Z)", text, re.S)
    if fenced:
        text = fenced.group(2)
    typed = line_prefix.strip()
    stripped = text.lstrip()
    if typed and stripped.startswith(typed):
        text = stripped[len(typed):]
        if line_prefix[-1:].isspace():
            text = text.lstrip(" \t")
    if opens and text.strip() and not text.startswith("\n"):
        text = "\n" + text
    return text


# -- prompts ----------------------------------------------------------------------------


# lines: the window's first line moves in steps this big, so typing keeps the model's cache; small, as the
# window is short (a window of N lines holds N - WINDOW_STEP to N of them)
WINDOW_STEP = 8


def window(text: str, offset: int, prefix_tokens: int, suffix_tokens: int,
           count: Callable[[str], int] = estimate_tokens) -> tuple[str, str]:
    """The text before and after the cursor the model sees: whole lines, within token budgets.

    The text before the cursor starts at a line that is a multiple of
    :data:`WINDOW_STEP` (the earliest such line whose text up to the cursor fits
    ``prefix_tokens``), so consecutive keystrokes send the same beginning and the
    model server reuses what it evaluated for the last one: the start moves only
    once every few lines of typing. When not even the cursor's line fits, the
    window starts inside it. The text after the cursor is the rest of its line
    plus the next whole lines that fit ``suffix_tokens``.
    """
    line_start = text.rfind("\n", 0, offset) + 1
    starts = [line_start]  # starts of the lines before the cursor, nearest first
    used = count(text[line_start:offset])
    while starts[-1] > 0 and used <= prefix_tokens:
        previous = text.rfind("\n", 0, starts[-1] - 1) + 1
        used += count(text[previous:starts[-1]])
        if used > prefix_tokens:
            break
        starts.append(previous)
    first_line = text.count("\n", 0, starts[-1])
    aligned = -(-first_line // WINDOW_STEP) * WINDOW_STEP  # the next multiple of the step, at or after it
    cursor_line = first_line + len(starts) - 1
    if count(text[line_start:offset]) > prefix_tokens:
        start = _tail_within(text, line_start, offset, prefix_tokens, count)
    else:
        start = starts[cursor_line - aligned] if aligned <= cursor_line else line_start
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end + 1
    used = 0
    while end < len(text):
        following = text.find("\n", end)
        following = len(text) if following < 0 else following + 1
        used += count(text[end:following])
        if used > suffix_tokens:
            break
        end = following
    return text[start:offset], text[offset:end]


def _tail_within(text: str, start: int, offset: int, tokens: int, count: Callable[[str], int]) -> int:
    """Where the end of one very long line (up to ``offset``) that fits ``tokens`` starts."""
    low, high = start, offset
    while low < high:
        middle = (low + high) // 2
        if count(text[middle:offset]) > tokens:
            low = middle + 1
        else:
            high = middle
    return low


def render_fim(template: FimTemplate, path: str, prefix: str, suffix: str, context: str = "") -> str:
    """The FIM prompt of ``template``; repository context goes first as its own "file"."""
    head = ""
    if template.file_sep is not None:
        if context.strip():
            head = f"{template.file_sep}repository context\n{context.rstrip()}\n"
        head += f"{template.file_sep}{path}\n"
    return f"{head}{template.prefix}{prefix}{template.suffix}{suffix}{template.middle}"


def render_prefix(prefix: str, context: str = "") -> str:
    """The prompt of the ``prefix`` route: repository context, then the file up to the cursor, continued
    left to right (the context reads as earlier code; nothing follows the cursor, so typing only appends)."""
    return f"{context.rstrip()}\n\n{prefix}" if context.strip() else prefix


def chat_messages(path: str, prefix: str, suffix: str, shape: Shape, context: str = "") -> list[dict[str, str]]:
    """The chat fallback: the file with a cursor marker, and what kind of answer fits.

    The parts that stay the same while the person types come first (context,
    the text after the cursor), then the file up to the cursor, then the short
    request: consecutive keystrokes share everything up to the cursor, which the
    model server has already evaluated.
    """
    fence = fence_for(prefix + suffix)
    want = "the rest of this line" if shape.mode == "line" else "the next lines of this block"
    parts = []
    if context.strip():
        parts.append(f"## Repository context\n{context.rstrip()}")
    if suffix.strip():
        parts.append(f"## The file after {CURSOR}\n{fence}{language_of(path)}\n{CURSOR}{suffix}\n{fence}")
    parts.append(f"## File: {path}\n{fence}{language_of(path)}\n{prefix}{CURSOR}\n{fence}")
    parts.append(f"Write {want} at {CURSOR}.")
    return [{"role": "system", "content": CHAT_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


# -- the cache --------------------------------------------------------------------------


@dataclass
class _Cached:
    suggestion: Suggestion
    full_prefix: str


class SuggestionCache:
    """Recent suggestions keyed by the text before the cursor.

    A request whose prefix is a cached prefix plus the start of that
    suggestion (the person is typing what was suggested) gets the rest of the
    suggestion without asking the model again. Thread-safe, LRU, small.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, path: str, full_prefix: str, suffix_line: str, suggestion: Suggestion) -> None:
        with self._lock:
            self._items[(path, full_prefix)] = _Cached(suggestion, full_prefix)
            self._items.move_to_end((path, full_prefix))
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, path: str, full_prefix: str) -> tuple[Suggestion, str] | None:
        """(suggestion, what is left of it) when ``full_prefix`` types into a cached suggestion."""
        with self._lock:
            for key in reversed(self._items):
                if key[0] != path:
                    continue
                item = self._items[key]
                if not full_prefix.startswith(item.full_prefix):
                    continue
                typed = full_prefix[len(item.full_prefix):]
                text = item.suggestion.text
                if text.startswith(typed) and len(typed) < len(text):
                    self._items.move_to_end(key)
                    return item.suggestion, text[len(typed):]
        return None


# -- the engine side ----------------------------------------------------------------------


@dataclass
class Timing:
    """How long the parts of the last request took (seconds), for benchmarks and logs."""

    context_s: float = 0.0
    first_token_s: float | None = None
    first_line_s: float | None = None
    shown_s: float | None = None  # when the words ready were handed over early (None: not early)
    total_s: float = 0.0
    cached: bool = False
    tokens: int = 0


@dataclass
class Completer:
    """Inline completions for one repository, with one model client and one event bus."""

    config: Config
    client: ChatClient
    events: EventBus
    repo_root: Path | None = None
    cache: SuggestionCache = field(default_factory=SuggestionCache)
    # (path, budget) -> repository context, oldest first
    _contexts: dict[tuple[str, int], str] = field(default_factory=dict, repr=False)
    _contexts_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _last_window: tuple[str, str] | None = field(default=None, repr=False)  # (path, text before the cursor) last asked
    # (path, text before the cursor, the words shown) of a suggestion shown early whose rest is being generated
    _pending: tuple[str, str, str] | None = field(default=None, repr=False)

    @property
    def settings(self) -> CompletionSettings:
        return self.config.completion

    @property
    def route(self) -> Route:
        return route_for(self.settings, self.config.adapter or self.config.model)

    def complete(self, path: str, text: str, offset: int, cancel: threading.Event | None = None,
                 explicit: bool = False, timing: Timing | None = None,
                 route: Route | None = None, early: Callable[[Suggestion], None] | None = None,
                 asked_at: float | None = None) -> Suggestion | None:
        """A suggestion for the cursor at ``offset`` of ``text`` (the buffer of ``path``,
        relative to the repository), or None when nothing fits there.

        ``explicit`` (the person asked) also completes inside strings and comments.
        ``early``: a caller that can show a suggestion before it is complete (an
        editor that asks again for the rest) is handed the words ready once
        ``completion.latency_ms`` has passed since ``asked_at`` (the keystroke,
        ``time.monotonic()``; default now); generation then goes on, and the whole
        suggestion (same id) is returned and cached, so the next request at that
        place, or one typing into it, gets the rest without asking the model. Without
        ``early``, a block suggestion ends at its last whole line once the budget is spent.
        Raises :class:`~amigo.client.Cancelled` when ``cancel`` is set mid-stream,
        ModelServerError when the server fails.
        """
        timing = timing if timing is not None else Timing()
        started = time.monotonic()
        asked_at = started if asked_at is None else asked_at
        offset = max(0, min(offset, len(text)))
        shape = analyse(text, offset, path, in_strings=self.settings.in_strings or explicit)
        if shape.mode == "none":
            return None
        full_prefix = text[:offset]
        hit = self.cache.get(path, full_prefix)
        if hit is not None:
            timing.cached, timing.total_s = True, time.monotonic() - started
            return hit[0] if hit[1] == hit[0].text else _rest(hit[0], hit[1])
        prefix, suffix = window(text, offset, self.settings.prefix_tokens, self.settings.suffix_tokens)
        self._last_window = (path, prefix)
        route = route or self.route
        context = self._context(path, text, offset, timing)
        next_line = next((ln for ln in text[offset:].split("\n")[1:] if ln.strip()), "")
        line_prefix = full_prefix[full_prefix.rfind("\n") + 1:]
        sid = uuid.uuid4().hex[:12]

        def suggestion_of(answer: str, prompt: str) -> Suggestion:
            return Suggestion(
                id=sid, path=path, language=language_of(path), prefix=prefix, suffix=suffix,
                text=finish(answer, shape), mode=shape.mode, route=route.label, prompt=prompt,
                model=self.client.model, adapter=self.config.adapter, first_token_s=timing.first_token_s,
                latency_s=time.monotonic() - started)

        show_now: Callable[[str, str], bool] | None = None
        if early is not None:
            def show_now(words: str, prompt: str) -> bool:
                partial = suggestion_of(words, prompt)
                if not partial.text.strip():
                    return False
                timing.shown_s = time.monotonic() - started
                self._pending = (path, full_prefix, partial.text)
                early(partial)
                return True

        try:
            answer, prompt = self._generate(route, path, prefix, suffix, shape, context, next_line, line_prefix,
                                            cancel, timing, started, asked_at, show_now)
        finally:
            self._pending = None
        suggestion = suggestion_of(answer, prompt)
        timing.total_s = suggestion.latency_s
        if not suggestion.text.strip():
            return None
        self.cache.put(path, full_prefix, shape.line_suffix, suggestion)
        return suggestion

    def needs_no_model(self, path: str, text: str, offset: int) -> bool:
        """Whether a request at ``offset`` is answered from the cache, or by the generation under
        way for a suggestion shown early: no reason to wait (debounce) before it."""
        return self.types_into_pending(path, text, offset) or self.cache.get(path, text[:offset]) is not None

    def types_into_pending(self, path: str, text: str, offset: int) -> bool:
        """Whether a request at ``offset`` is at the place of the suggestion shown early whose
        rest is being generated, and typed only what it shows: then that generation is worth
        waiting for (the rest comes from the cache), not cancelling."""
        pending = self._pending
        if pending is None or pending[0] != path:
            return False
        full_prefix = text[:offset]
        if not full_prefix.startswith(pending[1]):
            return False
        return pending[2].startswith(full_prefix[len(pending[1]):])

    def continues_last(self, path: str, text: str, offset: int) -> bool:
        """Whether a request at ``offset`` continues the last one asked (the person typing on at the
        same place): its window differs from the last one's only in its last :data:`TYPING_CHARS`
        characters, which the model server evaluates in a moment. A request that does not (a new
        place, another file) starts a prompt the server has not seen, which is worth starting at once.
        """
        last = self._last_window
        if last is None or last[0] != path:
            return False
        prefix, _ = window(text, offset, self.settings.prefix_tokens, self.settings.suffix_tokens)
        return len(prefix) - len(os.path.commonprefix([prefix, last[1]])) <= TYPING_CHARS

    def _context(self, path: str, text: str, offset: int, timing: Timing) -> str:
        """A small budget of repository context (best effort: failures cost only the context).

        Built once per file, for the whole file (the definitions of what it
        imports and uses; the text around the cursor is the window), then reused:
        the context comes first in the prompt, so every completion in the file
        starts with what the model server has already evaluated; a context that
        changed with the cursor's place would make it evaluate all of it again,
        which on a CPU costs more than the context is worth.
        """
        if self.settings.context_budget <= 0 or self.repo_root is None:
            return ""
        key = (path, self.settings.context_budget)
        with self._contexts_lock:
            known = self._contexts.get(key)
        if known is not None:
            return known
        started = time.monotonic()
        try:
            from amigo.context import build_context

            # no selection: the context of the whole file (what it imports and uses), not of one place
            result = build_context(self.repo_root, path, text, None, "", budget_tokens=self.settings.context_budget)
        except Exception:  # noqa: BLE001 - see docstring
            log.exception("completion context failed; asking without it")
            return ""
        finally:
            timing.context_s = time.monotonic() - started
        context = "\n\n".join(f"# {s.title}\n{s.text.rstrip()}" for s in result.sections if s.text.strip())
        with self._contexts_lock:
            self._contexts[key] = context
            while len(self._contexts) > CACHE_SIZE:
                self._contexts.pop(next(iter(self._contexts)))
        return context

    def _generate(self, route: Route, path: str, prefix: str, suffix: str, shape: Shape, context: str,
                  next_line: str, line_prefix: str, cancel: threading.Event | None, timing: Timing,
                  started: float, asked_at: float,
                  show_now: Callable[[str, str], bool] | None = None) -> tuple[str, str]:
        """Stream the answer, cutting it by ``shape``; returns (the cut answer, the prompt as sent).

        A chat answer is cleaned (fence, echo of the line) before each cut, so a
        fenced answer also stops as soon as the suggestion is complete. Once the
        latency budget is spent, ``show_now`` is offered the words ready (until it
        takes some) and the stream goes on; without it a block ends at its last whole line.
        """
        params: dict = {"max_tokens": self.settings.max_tokens, "temperature": 0.0}
        if self.config.seed is not None:
            params["seed"] = self.config.seed
        stats = StreamStats()
        stream: Iterator[str]
        if route.kind == "fim" and route.template is not None:
            prompt = render_fim(route.template, path, prefix, suffix, context)
            stops = list(route.template.stops) + (["\n"] if shape.mode == "line" else [])
            stream = self.client.stream_text(prompt, cancel=cancel, stats=stats, stop=stops, **params)
        elif route.kind == "prefix":
            prompt = render_prefix(prefix, context)
            stops = ["\n"] if shape.mode == "line" else []
            stream = self.client.stream_text(prompt, cancel=cancel, stats=stats, stop=stops, **params)
        elif route.kind == "infill":
            prompt = json.dumps({"input_prefix": prefix, "input_suffix": suffix})
            extra = [{"filename": "repository context", "text": context}] if context.strip() else []
            n_predict = params.pop("max_tokens")
            stream = self.client.stream_infill(prefix, suffix, extra, cancel=cancel, stats=stats,
                                               n_predict=n_predict, **params)
        else:
            messages = chat_messages(path, prefix, suffix, shape, context)
            prompt = json.dumps(messages, ensure_ascii=False)
            stream = self.client.stream(messages, cancel=cancel, stats=stats, **params)
        raw = answer = ""
        shown = False
        budget_s = self.settings.latency_ms / 1000 if self.settings.latency_ms else float("inf")
        try:
            for piece in stream:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("completion cancelled")
                raw += piece
                timing.tokens += 1
                if timing.first_token_s is None:
                    timing.first_token_s = time.monotonic() - started
                visible = clean_chat_answer(raw, line_prefix, shape.opens) if route.kind == "chat" else raw
                if timing.first_line_s is None and "\n" in visible.lstrip("\n"):
                    timing.first_line_s = time.monotonic() - started
                answer, done = cut(visible, shape, next_line, self.settings.max_lines)
                if not done and not shown and time.monotonic() - asked_at > budget_s:
                    if show_now is not None:
                        shown = show_now(words_ready(answer), prompt)
                    elif shape.mode == "block":
                        answer, done = whole_lines(answer)
                if done:
                    break  # closing the stream makes the server stop generating
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        if timing.first_line_s is None:
            timing.first_line_s = time.monotonic() - started
        return answer, prompt

    # -- verdicts (events for whoever listens: the feedback recorder) -----------------

    def shown(self, suggestion: Suggestion) -> None:
        self.events.publish(CompletionShownEvent(suggestion))

    def accepted(self, suggestion: Suggestion, accepted: str | None = None) -> None:
        """The person took the suggestion (``accepted``: only that much of it, for a partial accept)."""
        taken = suggestion.text if accepted is None else accepted
        self.events.publish(CompletionAcceptedEvent(suggestion, taken))

    def rejected(self, suggestion: Suggestion, reason: str, typed: str | None = None) -> None:
        self.events.publish(CompletionRejectedEvent(suggestion, reason, typed))


def _rest(suggestion: Suggestion, remaining: str) -> Suggestion:
    """The cached suggestion, as the part not typed yet (same id: it is the same suggestion)."""
    return replace(suggestion, text=remaining)

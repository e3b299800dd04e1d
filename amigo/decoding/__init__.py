"""Constrained decoding: the model server may only produce answers that apply.

``blocks_grammar`` / ``whole_grammar`` build GBNF grammars per request,
``blocks_json_schema`` is the JSON-schema variant, ``probe_backend`` finds
out what the configured server honours, and ``constraint_params`` turns a
request into the extra body fields to send. The answer is always validated
by ``amigo.edits`` afterwards: constrained, never trusted.
"""

from amigo.config import DECODING_MODES
from amigo.decoding.backend import (
    Backend, clear_probe_cache, constraint_body, json_schema_body, probe_backend,
)
from amigo.decoding.gbnf import blocks_grammar, literal, whole_grammar
from amigo.decoding.jsonschema import blocks_from_json, blocks_json_schema, search_choices
from amigo.decoding.params import (
    DEFAULT_CAP_LINES, VLLM_CAP_LINES, Constraint, answer_text, constraint_params, default_cap_lines, plan_constraint,
)
from amigo.decoding.runs import Window, scope_for, unique_run_ends

__all__ = [
    "DECODING_MODES", "DEFAULT_CAP_LINES", "VLLM_CAP_LINES", "Backend", "Constraint", "Window", "answer_text",
    "blocks_from_json", "blocks_grammar", "blocks_json_schema", "clear_probe_cache", "constraint_body",
    "constraint_params", "default_cap_lines", "json_schema_body", "literal", "plan_constraint", "probe_backend", "scope_for", "search_choices",
    "unique_run_ends", "whole_grammar",
]

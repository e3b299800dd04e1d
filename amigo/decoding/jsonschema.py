"""The JSON-schema variant, for servers that constrain JSON but take no grammar.

JSON schema cannot say "a contiguous run of lines" cheaply, so SEARCH is an
``enum`` of the runs themselves: from every start line, the shortest unique
run and a few longer ones, up to a budget. The model picks one; the answer
is turned back into SEARCH/REPLACE text (``blocks_from_json``) so that
``amigo.edits`` parses and validates it like any other answer.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from amigo.decoding.runs import Window, unique_run_ends
from amigo.edits.contract import DIVIDER, REPLACE_MARK, SEARCH_MARK
from amigo.edits.lines import keys_of

# Per file: how many extra lines past the shortest unique run an entry may
# have, and how much the enum may hold in all.
EXTRA_RUN_LINES = 8
MAX_ENUM_ENTRIES = 4000
MAX_ENUM_CHARS = 400_000


def search_choices(text: str, window: Window | None = None) -> list[str]:
    """SEARCH texts a JSON answer may pick for ``text``: unique runs, LF-ended."""
    lines = keys_of(text)
    if not lines:
        return [""]
    window = window or Window(0, len(lines))
    choices: list[str] = []
    chars = 0
    for start, end in sorted(unique_run_ends(lines, window).items()):
        for stop in range(end, min(window.hi, end + EXTRA_RUN_LINES) + 1):
            run = "".join(line + "\n" for line in lines[start:stop])
            if len(choices) >= MAX_ENUM_ENTRIES or chars + len(run) > MAX_ENUM_CHARS:
                return choices
            choices.append(run)
            chars += len(run)
    return choices


def blocks_json_schema(
    files: Mapping[str, str], windows: Mapping[str, Window] | None = None, max_blocks: int = 8,
) -> dict[str, Any]:
    """A JSON schema for ``{"blocks": [{"path", "search", "replace"}, ...]}``.

    ``path`` is one of ``files``; ``search`` is one of that file's unique runs.
    """
    if not files:
        raise ValueError("blocks_json_schema needs at least one file")
    variants = []
    for path, text in files.items():
        variants.append({
            "type": "object",
            "properties": {
                "path": {"type": "string", "enum": [path]},
                "search": {"type": "string", "enum": search_choices(text, (windows or {}).get(path))},
                "replace": {"type": "string"},
            },
            "required": ["path", "search", "replace"],
            "additionalProperties": False,
        })
    item = variants[0] if len(variants) == 1 else {"anyOf": variants}
    return {
        "type": "object",
        "properties": {
            "blocks": {"type": "array", "items": item, "minItems": 1, "maxItems": max_blocks},
        },
        "required": ["blocks"],
        "additionalProperties": False,
    }


def blocks_from_json(obj: Any) -> str:
    """SEARCH/REPLACE text for a JSON answer (a dict, or the JSON text of one).

    Raises ValueError naming what is wrong when the answer does not have the
    schema's shape; the text it returns still goes through ``amigo.edits``.
    """
    if isinstance(obj, (str, bytes)):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as err:
            raise ValueError(f"the model's JSON answer does not parse ({err.msg} at {err.pos})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("blocks"), list):
        raise ValueError('the model\'s JSON answer has no "blocks" list')
    parts = []
    for number, block in enumerate(obj["blocks"], 1):
        if not isinstance(block, dict):
            raise ValueError(f"block {number} of the JSON answer is not an object")
        fields = {}
        for key in ("path", "search", "replace"):
            value = block.get(key)
            if not isinstance(value, str):
                raise ValueError(f'block {number} of the JSON answer has no string "{key}"')
            fields[key] = value
        if not fields["path"].strip() or "\n" in fields["path"]:
            raise ValueError(f"block {number} of the JSON answer has a bad path {fields['path']!r}")
        search, replace = fields["search"], fields["replace"]
        if search and not search.endswith("\n"):
            search += "\n"
        if replace and not replace.endswith("\n"):
            replace += "\n"
        parts.append(f"{fields['path']}\n{SEARCH_MARK}\n{search}{DIVIDER}\n{replace}{REPLACE_MARK}\n")
    return "\n".join(parts)

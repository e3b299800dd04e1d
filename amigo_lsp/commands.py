"""Argument checking for the ``amigo.*`` commands (pure; raises InvalidParams on bad input).

Clients send one object (``{"uri": ..., "range": ..., "instruction": ...}``)
or the same values positionally; both are accepted, anything else is a
JSON-RPC "invalid params" error that says what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from pygls.exceptions import JsonRpcInvalidParams

from amigo.prompt import FIX_INSTRUCTION, Diagnostic

EDIT = "amigo.edit"
FIX = "amigo.fix"
ACCEPT = "amigo.accept"
REJECT = "amigo.reject"
RETRY = "amigo.retry"
UNDO = "amigo.undo"
ALL = (EDIT, FIX, ACCEPT, REJECT, RETRY, UNDO)

_SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}


@dataclass(frozen=True)
class LspRange:
    start_line: int
    start_char: int
    end_line: int
    end_char: int

    def to_json(self) -> dict[str, Any]:
        return {"start": {"line": self.start_line, "character": self.start_char},
                "end": {"line": self.end_line, "character": self.end_char}}


@dataclass(frozen=True)
class EditArgs:
    uri: str
    range: LspRange | None
    instruction: str | None
    diagnostics: tuple[Diagnostic, ...] = ()


def bad(message: str) -> JsonRpcInvalidParams:
    return JsonRpcInvalidParams(message=f"invalid params: {message}")


def _one_object(command: str, args: Sequence[Any], names: Sequence[str]) -> Mapping[str, Any]:
    if len(args) == 1 and isinstance(args[0], Mapping):
        return args[0]
    if 0 < len(args) <= len(names) and not isinstance(args[0], Mapping):
        return dict(zip(names, args))
    shape = "{" + ", ".join(names) + "}"
    raise bad(f"{command} takes one object {shape}")


def _int(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    raise bad(f"{what} must be a non-negative integer, got {value!r}")


def _position(value: Any, what: str) -> tuple[int, int]:
    if not isinstance(value, Mapping):
        raise bad(f"{what} must be a position {{line, character}}")
    return _int(value.get("line"), f"{what}.line"), _int(value.get("character"), f"{what}.character")


def parse_range(value: Any, what: str = "range") -> LspRange:
    if not isinstance(value, Mapping):
        raise bad(f"{what} must be an LSP range {{start, end}}")
    sl, sc = _position(value.get("start"), f"{what}.start")
    el, ec = _position(value.get("end"), f"{what}.end")
    return LspRange(sl, sc, el, ec)


def _uri(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("file:"):
        raise bad(f"uri must be a file: URI, got {value!r}")
    return value


def parse_diagnostics(value: Any) -> tuple[Diagnostic, ...]:
    """LSP diagnostics (0-based ranges) as the engine's (1-based lines)."""
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise bad("diagnostics must be a list of LSP diagnostics")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("message"), str):
            raise bad(f"diagnostics[{i}] must be an object with a message")
        rng = parse_range(item.get("range"), f"diagnostics[{i}].range")
        severity = item.get("severity")
        source = item.get("source")
        out.append(Diagnostic(
            message=item["message"], start_line=rng.start_line + 1, end_line=rng.end_line + 1,
            severity=_SEVERITY.get(severity, "error") if isinstance(severity, int) else "error",
            source=source if isinstance(source, str) else None,
        ))
    return tuple(out)


def parse_edit(command: str, args: Sequence[Any]) -> EditArgs:
    """``amigo.edit {uri, range?, instruction?}`` / ``amigo.fix {uri, range?, diagnostics?}``."""
    obj = _one_object(command, args, ("uri", "range", "instruction") if command == EDIT else ("uri", "range", "diagnostics"))
    uri = _uri(obj.get("uri"))
    rng = parse_range(obj["range"]) if obj.get("range") is not None else None
    instruction = obj.get("instruction")
    if instruction is not None and not isinstance(instruction, str):
        raise bad("instruction must be a string")
    if command == FIX:
        instruction = instruction or FIX_INSTRUCTION
    elif not instruction or not instruction.strip():
        raise bad("amigo.edit needs an instruction (the client asks the person for it)")
    return EditArgs(uri, rng, instruction, parse_diagnostics(obj.get("diagnostics")))


def parse_id(command: str, args: Sequence[Any]) -> tuple[str, str | None]:
    """``amigo.accept|reject|retry {id}`` (retry also takes an optional new ``instruction``)."""
    obj = _one_object(command, args, ("id", "instruction"))
    proposal_id = obj.get("id")
    if not isinstance(proposal_id, str) or not proposal_id:
        raise bad(f"{command} needs the proposal id (a string), got {proposal_id!r}")
    extra = obj.get("instruction") if command == RETRY else obj.get("reason")
    if extra is not None and not isinstance(extra, str):
        raise bad("instruction/reason must be a string")
    return proposal_id, extra

"""Amigo's code actions (pure: listing them does no I/O and never asks the model).

"Edit with instruction..." is offered everywhere in a file; "Fix this bug" where
the editor reports diagnostics. Each action carries its ``data``; the command
it runs comes with the listing, or from ``codeAction/resolve`` for clients that
resolve commands lazily (Neovim 0.11 does).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from lsprotocol import types

from amigo.prompt import FIX_INSTRUCTION
from amigo_lsp import commands

EDIT_TITLE = "Amigo: Edit with instruction..."
FIX_TITLE = f"Amigo: {FIX_INSTRUCTION}"  # the title says what the model is asked
KINDS = [types.CodeActionKind.RefactorRewrite, types.CodeActionKind.QuickFix]


def wanted(kind: str, only: Sequence[str] | None) -> bool:
    """Whether the client's ``only`` filter (absent: everything) lets actions of ``kind`` through."""
    if not only:
        return True
    return any(kind == o or kind.startswith(f"{o}.") for o in only)


def range_json(rng: types.Range) -> dict[str, Any]:
    """An LSP range as the plain JSON an action's ``data`` and a command's arguments carry."""
    return {"start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character}}


def command_for(data: dict[str, Any]) -> types.Command:
    """The ``amigo.edit`` / ``amigo.fix`` command an action's ``data`` stands for."""
    if data.get("amigo") == "fix":
        args = {"uri": data["uri"], "range": data["range"], "diagnostics": data.get("diagnostics") or []}
        return types.Command(title=FIX_TITLE, command=commands.FIX, arguments=[args])
    return types.Command(title=EDIT_TITLE, command=commands.EDIT, arguments=[{"uri": data["uri"], "range": data["range"]}])


def resolves_commands(support: types.ClientCodeActionResolveOptions | None) -> bool:
    """Whether a client with this ``codeAction.resolveSupport`` takes a command from ``codeAction/resolve``
    (else the command goes in the listing)."""
    return support is not None and "command" in (support.properties or [])


def _fix_range(rng: types.Range, diagnostics: Sequence[types.Diagnostic]) -> types.Range:
    """A cursor (empty range) stretches over the diagnostics it stands in."""
    if rng.start != rng.end:
        return rng
    return types.Range(min((d.range.start for d in diagnostics), key=lambda p: (p.line, p.character)),
                       max((d.range.end for d in diagnostics), key=lambda p: (p.line, p.character)))


def code_actions(params: types.CodeActionParams, eager: bool,
                 unstructure: Callable[[Any], Any]) -> list[types.CodeAction]:
    """The actions for ``params``; ``eager`` puts each command in the listing, ``unstructure`` makes JSON."""
    uri = params.text_document.uri
    if not uri.startswith("file:"):
        return []
    only = params.context.only
    actions = []
    if wanted(types.CodeActionKind.RefactorRewrite, only):
        data = {"amigo": "edit", "uri": uri, "range": range_json(params.range)}
        actions.append(types.CodeAction(title=EDIT_TITLE, kind=types.CodeActionKind.RefactorRewrite, data=data,
                                        command=command_for(data) if eager else None))
    diagnostics = list(params.context.diagnostics or [])
    if diagnostics and wanted(types.CodeActionKind.QuickFix, only):
        data = {"amigo": "fix", "uri": uri, "range": range_json(_fix_range(params.range, diagnostics)),
                "diagnostics": [unstructure(d) for d in diagnostics]}
        actions.append(types.CodeAction(title=FIX_TITLE, kind=types.CodeActionKind.QuickFix,
                                        diagnostics=diagnostics, is_preferred=False, data=data,
                                        command=command_for(data) if eager else None))
    return actions


def resolve(action: types.CodeAction) -> types.CodeAction:
    """``codeAction/resolve``: fill in the command of one of Amigo's actions (others come back as they are)."""
    data = action.data
    if isinstance(data, dict) and data.get("amigo") in ("edit", "fix") and isinstance(data.get("uri"), str):
        action.command = command_for(data)
    return action

"""LSP methods and ``amigo.*`` commands, registered on an :class:`AmigoServer`.

Handlers only parse, check and dispatch; the flows live in
:mod:`amigo_lsp.server`. Listing code actions does no I/O at all.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types

from amigo.errors import ConfigError
from amigo_lsp import commands, completion
from amigo_lsp.server import AmigoServer, load_initial_settings
from amigo_lsp.settings import parse_settings

log = logging.getLogger(__name__)

EDIT_TITLE = "Amigo: Edit with instruction..."
FIX_TITLE = "Amigo: Fix this bug"
_KINDS = [types.CodeActionKind.RefactorRewrite, types.CodeActionKind.QuickFix]


def _wanted(kind: str, only: Any) -> bool:
    if not only:
        return True
    return any(kind == o or kind.startswith(f"{o}.") for o in only)


def _range_json(rng: types.Range) -> dict[str, Any]:
    return {"start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character}}


def _command_for(data: dict[str, Any]) -> types.Command:
    if data.get("amigo") == "fix":
        args = {"uri": data["uri"], "range": data["range"], "diagnostics": data.get("diagnostics") or []}
        return types.Command(title=FIX_TITLE, command=commands.FIX, arguments=[args])
    return types.Command(title=EDIT_TITLE, command=commands.EDIT, arguments=[{"uri": data["uri"], "range": data["range"]}])


def _resolves_command(server: AmigoServer) -> bool:
    """Whether the client takes a command from codeAction/resolve (else it goes in the listing)."""
    support = server._caps("text_document", "code_action", "resolve_support")
    return support is not None and "command" in (support.properties or [])


def build_server() -> AmigoServer:
    server = AmigoServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: AmigoServer, params: types.InitializeParams) -> None:
        ls.loop = asyncio.get_running_loop()
        load_initial_settings(ls, params.initialization_options)
        completion.on_initialize(ls, params)
        ls.protocol.initialized_once = True  # type: ignore[attr-defined]

    @server.feature(types.INITIALIZED)
    async def initialized(ls: AmigoServer, params: types.InitializedParams) -> None:
        if ls.pending_error:
            ls.show(types.MessageType.Error, f"Amigo: {ls.pending_error}")
            ls.pending_error = None
        await pull_configuration(ls)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: AmigoServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict) and isinstance(settings.get("amigo"), dict):
            try:
                ls.set_editor_settings(parse_settings(settings["amigo"], ls._init_settings))
            except ConfigError as exc:
                ls.show(types.MessageType.Error, f"Amigo: {exc}")
            return
        await pull_configuration(ls)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: AmigoServer, params: Any) -> None:
        for job in list(ls.jobs.values()):
            job.cancel.set()
        ls.completions.cancel_all()  # type: ignore[attr-defined]
        ls.close_sessions()

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=_KINDS, resolve_provider=True))
    def code_action(ls: AmigoServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        if not uri.startswith("file:"):
            return []
        only = params.context.only
        eager = not _resolves_command(ls)
        actions = []
        if _wanted(types.CodeActionKind.RefactorRewrite, only):
            data = {"amigo": "edit", "uri": uri, "range": _range_json(params.range)}
            actions.append(types.CodeAction(title=EDIT_TITLE, kind=types.CodeActionKind.RefactorRewrite, data=data,
                                            command=_command_for(data) if eager else None))
        diagnostics = list(params.context.diagnostics or [])
        if diagnostics and _wanted(types.CodeActionKind.QuickFix, only):
            rng = params.range
            if rng.start == rng.end:
                rng = types.Range(min((d.range.start for d in diagnostics), key=lambda p: (p.line, p.character)),
                                  max((d.range.end for d in diagnostics), key=lambda p: (p.line, p.character)))
            data = {"amigo": "fix", "uri": uri, "range": _range_json(rng),
                    "diagnostics": [ls.protocol._converter.unstructure(d) for d in diagnostics]}
            actions.append(types.CodeAction(title=FIX_TITLE, kind=types.CodeActionKind.QuickFix,
                                            diagnostics=diagnostics, is_preferred=False, data=data,
                                            command=_command_for(data) if eager else None))
        return actions

    @server.feature(types.CODE_ACTION_RESOLVE)
    def code_action_resolve(ls: AmigoServer, action: types.CodeAction) -> types.CodeAction:
        data = action.data
        if isinstance(data, dict) and data.get("amigo") in ("edit", "fix") and isinstance(data.get("uri"), str):
            action.command = _command_for(data)
        return action

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def progress_cancel(ls: AmigoServer, params: types.WorkDoneProgressCancelParams) -> None:
        ls.cancel_progress(params.token)

    @server.command(commands.EDIT)
    async def cmd_edit(ls: AmigoServer, *args: Any) -> dict[str, Any]:
        parsed = commands.parse_edit(commands.EDIT, args)
        return await ls.run_edit(parsed, f"Amigo: {(parsed.instruction or '').strip()[:50]}")

    @server.command(commands.FIX)
    async def cmd_fix(ls: AmigoServer, *args: Any) -> dict[str, Any]:
        return await ls.run_edit(commands.parse_edit(commands.FIX, args), "Amigo: fixing")

    @server.command(commands.ACCEPT)
    async def cmd_accept(ls: AmigoServer, *args: Any) -> dict[str, Any]:
        proposal_id, _ = commands.parse_id(commands.ACCEPT, args)
        return await ls.run_accept(proposal_id)

    @server.command(commands.REJECT)
    def cmd_reject(ls: AmigoServer, *args: Any) -> dict[str, Any]:
        proposal_id, reason = commands.parse_id(commands.REJECT, args)
        return ls.run_reject(proposal_id, reason)

    @server.command(commands.RETRY)
    async def cmd_retry(ls: AmigoServer, *args: Any) -> dict[str, Any]:
        proposal_id, instruction = commands.parse_id(commands.RETRY, args)
        return await ls.run_retry(proposal_id, instruction)

    @server.command(commands.UNDO)
    async def cmd_undo(ls: AmigoServer, *args: Any) -> dict[str, Any]:
        return await ls.run_undo()

    completion.register(server)
    return server


async def pull_configuration(ls: AmigoServer) -> None:
    """workspace/configuration section ``amigo``, layered over initializationOptions."""
    if not ls._caps("workspace", "configuration"):
        return
    try:
        items = await asyncio.wait_for(ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="amigo")])), timeout=10)
    except Exception as exc:  # noqa: BLE001 - a client that cannot answer keeps the initial settings
        log.warning("workspace/configuration failed: %s", exc)
        return
    value = items[0] if items else None
    if value is None:  # the client has no Amigo settings: keep what we have
        return
    try:
        ls.set_editor_settings(parse_settings(value, ls._init_settings))
    except ConfigError as exc:
        ls.show(types.MessageType.Error, f"Amigo: {exc}")

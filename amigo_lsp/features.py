"""The LSP methods and ``amigo.*`` commands: module-level handlers, registered by :func:`build_server`.

Each handler parses, checks and calls one helper; the work lives in
:mod:`amigo_lsp.code_actions` (listing, pure), :mod:`amigo_lsp.edit_flows`
(edit, fix, retry), :mod:`amigo_lsp.review` (accept, reject),
:mod:`amigo_lsp.undo`, :mod:`amigo_lsp.sessions` (settings) and
:mod:`amigo_lsp.jobs` (cancel). A new LSP method or command is a handler
here plus a line in :data:`FEATURES` or :data:`COMMANDS`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from lsprotocol import types

from amigo.errors import ConfigError
from amigo_lsp import code_actions, commands, completion, edit_flows, review, undo
from amigo_lsp.server import AmigoServer

log = logging.getLogger(__name__)


# -- lifecycle and settings -----------------------------------------------------------

def initialize(ls: AmigoServer, params: types.InitializeParams) -> None:
    """Take the loop and initializationOptions; add classic completion items if the settings ask for them."""
    ls.loop = asyncio.get_running_loop()
    ls.sessions.load_initial(params.initialization_options)
    completion.on_initialize(ls, params)
    ls.protocol.initialized_once = True  # type: ignore[attr-defined]


async def initialized(ls: AmigoServer, params: types.InitializedParams) -> None:
    """Show a settings error from initialize, then ask the client for its ``amigo`` settings."""
    if ls.sessions.pending_error:
        ls.show(types.MessageType.Error, f"Amigo: {ls.sessions.pending_error}")
        ls.sessions.pending_error = None
    await pull_configuration(ls)


async def did_change_configuration(ls: AmigoServer, params: types.DidChangeConfigurationParams) -> None:
    """New settings pushed by the client, or a hint to pull them."""
    settings = params.settings
    if isinstance(settings, dict) and isinstance(settings.get("amigo"), dict):
        apply_settings(ls, settings["amigo"])
        return
    await pull_configuration(ls)  # the client only said something changed: ask for the section


def shutdown(ls: AmigoServer, params: Any) -> None:
    """Stop every generation and suggestion, close the sessions."""
    ls.jobs.cancel_all()
    ls.completions.cancel_all()  # type: ignore[attr-defined]
    ls.sessions.close_all()


def apply_settings(ls: AmigoServer, data: Any) -> None:
    """Take the client's ``amigo`` settings; a bad value is shown and the current settings stay."""
    try:
        ls.sessions.update(data, busy=ls.jobs.busy_sessions())
    except ConfigError as exc:
        ls.show(types.MessageType.Error, f"Amigo: {exc}")


async def pull_configuration(ls: AmigoServer) -> None:
    """workspace/configuration section ``amigo``, layered over initializationOptions."""
    if not ls.capability("workspace", "configuration"):
        return
    try:
        items = await asyncio.wait_for(ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="amigo")])), timeout=10)
    except Exception as exc:  # noqa: BLE001 - a client that cannot answer keeps the initial settings
        log.warning("workspace/configuration failed: %s", exc)
        return
    value = items[0] if items else None
    if value is not None:  # None: the client has no Amigo settings; keep what we have
        apply_settings(ls, value)


# -- code actions and progress ---------------------------------------------------------

def code_action(ls: AmigoServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    """Amigo's actions at the range (no I/O); the command comes now or at resolve, as the client prefers."""
    eager = not code_actions.resolves_commands(ls.capability("text_document", "code_action", "resolve_support"))
    return code_actions.code_actions(params, eager, ls.to_json)


def code_action_resolve(ls: AmigoServer, action: types.CodeAction) -> types.CodeAction:
    """Fill in the command of a lazily resolved action."""
    return code_actions.resolve(action)


def progress_cancel(ls: AmigoServer, params: types.WorkDoneProgressCancelParams) -> None:
    """The person cancelled a progress bar: stop its generation."""
    ls.jobs.cancel_progress(params.token)


# -- commands ---------------------------------------------------------------------------

async def cmd_edit(ls: AmigoServer, *args: Any) -> dict[str, Any]:
    """``amigo.edit {uri, range?, instruction}``."""
    parsed = commands.parse_edit(commands.EDIT, args)
    return await edit_flows.run_edit(ls, parsed, f"Amigo: {(parsed.instruction or '').strip()[:50]}")


async def cmd_fix(ls: AmigoServer, *args: Any) -> dict[str, Any]:
    """``amigo.fix {uri, range?, diagnostics?}``."""
    return await edit_flows.run_edit(ls, commands.parse_edit(commands.FIX, args), "Amigo: fixing")


async def cmd_accept(ls: AmigoServer, *args: Any) -> dict[str, Any]:
    """``amigo.accept {id}`` (clients that review themselves)."""
    proposal_id, _ = commands.parse_id(commands.ACCEPT, args)
    return await review.accept(ls, proposal_id)


def cmd_reject(ls: AmigoServer, *args: Any) -> dict[str, Any]:
    """``amigo.reject {id, reason?}`` (clients that review themselves)."""
    proposal_id, reason = commands.parse_id(commands.REJECT, args)
    return review.reject(ls, proposal_id, reason)


async def cmd_retry(ls: AmigoServer, *args: Any) -> dict[str, Any]:
    """``amigo.retry {id, instruction?}``."""
    proposal_id, instruction = commands.parse_id(commands.RETRY, args)
    return await edit_flows.run_retry(ls, proposal_id, instruction)


async def cmd_undo(ls: AmigoServer, *args: Any) -> dict[str, Any]:
    """``amigo.undo``: reverse the last applied proposal."""
    return await undo.undo_last(ls)


# -- registration -----------------------------------------------------------------------

FEATURES: list[tuple[str, Any, Callable[..., Any]]] = [
    (types.INITIALIZE, None, initialize),
    (types.INITIALIZED, None, initialized),
    (types.WORKSPACE_DID_CHANGE_CONFIGURATION, None, did_change_configuration),
    (types.SHUTDOWN, None, shutdown),
    (types.TEXT_DOCUMENT_CODE_ACTION,
     types.CodeActionOptions(code_action_kinds=code_actions.KINDS, resolve_provider=True), code_action),
    (types.CODE_ACTION_RESOLVE, None, code_action_resolve),
    (types.WINDOW_WORK_DONE_PROGRESS_CANCEL, None, progress_cancel),
]
COMMANDS: list[tuple[str, Callable[..., Any]]] = [
    (commands.EDIT, cmd_edit),
    (commands.FIX, cmd_fix),
    (commands.ACCEPT, cmd_accept),
    (commands.REJECT, cmd_reject),
    (commands.RETRY, cmd_retry),
    (commands.UNDO, cmd_undo),
]


def build_server() -> AmigoServer:
    """A new server with every handler above registered, and inline completion."""
    server = AmigoServer()
    for method, options, handler in FEATURES:
        server.feature(method, options)(handler)
    for name, command in COMMANDS:
        server.command(name)(command)
    completion.register(server)
    return server

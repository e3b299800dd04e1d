"""A test editor on top of pytest-lsp's client: it holds buffers and applies edits like an editor.

``workspace/applyEdit`` is handled the way VS Code does it: a TextDocumentEdit
whose version is not the buffer's is refused (applied: false), otherwise the
edits are applied to the buffer and the change is sent back with didChange.
The position arithmetic here is written independently of the server's.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client


def _offset(text: str, pos: types.Position) -> int:
    lines = text.splitlines(keepends=True) or [""]
    if pos.line >= len(lines):
        return len(text)
    start = sum(len(line) for line in lines[:pos.line])
    line = lines[pos.line].rstrip("\r\n")
    units = 0
    for i, ch in enumerate(line):
        if units >= pos.character:
            return start + i
        units += 2 if ord(ch) > 0xFFFF else 1
    return start + len(line)


def apply_text_edits(text: str, edits: list[Any]) -> str:
    ordered = sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True)
    for edit in ordered:
        lo, hi = _offset(text, edit.range.start), _offset(text, edit.range.end)
        text = text[:lo] + edit.new_text + text[hi:]
    return text


def _end_position(text: str) -> types.Position:
    lines = text.split("\n")
    return types.Position(line=len(lines) - 1, character=len(lines[-1].encode("utf-16-le")) // 2)


@dataclass
class Buffer:
    text: str
    version: int


@dataclass
class Editor:
    client: LanguageClient
    buffers: dict[str, Buffer] = field(default_factory=dict)
    apply_requests: list[types.ApplyWorkspaceEditParams] = field(default_factory=list)
    decline: bool = False
    edit_before_apply: str | None = None  # text typed into the buffer just before an applyEdit lands
    init: types.InitializeResult | None = None  # what the server answered to initialize (its capabilities)

    def open(self, path: Path, text: str | None = None) -> str:
        uri = path.as_uri()
        text = path.read_text(encoding="utf-8") if text is None else text
        self.buffers[uri] = Buffer(text, 1)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        return uri

    def type_text(self, uri: str, new_text: str) -> None:
        """Replace the whole buffer (as an incremental change), as a person typing would."""
        buf = self.buffers[uri]
        end = _end_position(buf.text)
        buf.version += 1
        buf.text = new_text
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=buf.version),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(line=0, character=0), end=end), text=new_text)]))

    def handle_apply(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        self.apply_requests.append(params)
        if self.edit_before_apply is not None:
            for uri in list(self.buffers):
                self.type_text(uri, self.edit_before_apply)
            self.edit_before_apply = None
        if self.decline:
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason="declined by the test person")
        for change in params.edit.document_changes or []:
            if not isinstance(change, types.TextDocumentEdit):
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="unsupported operation")
            buf = self.buffers.get(change.text_document.uri)
            if buf is None:
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="document not open")
            if change.text_document.version is not None and change.text_document.version != buf.version:
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="stale version")
        for change in params.edit.document_changes or []:
            uri = change.text_document.uri
            self.type_text(uri, apply_text_edits(self.buffers[uri].text, list(change.edits)))
        return types.ApplyWorkspaceEditResult(applied=True)

    def text(self, uri: str) -> str:
        return self.buffers[uri].text


async def start_editor(repo: Path, options: dict[str, Any], env: dict[str, str] | None = None,
                       client_name: str = "visual-studio-code") -> Editor:
    client = make_test_lsp_client()
    editor = Editor(client)
    client.feature(types.WORKSPACE_APPLY_EDIT)(lambda params: editor.handle_apply(params))
    await client.start_io(sys.executable, "-m", "amigo_lsp", env=env)
    editor.init = await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(client_name),
        root_uri=repo.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=repo.as_uri(), name=repo.name)],
        initialization_options=options,
    ))
    return editor


async def execute(editor: Editor, command: str, *args: Any, token: str | None = None) -> Any:
    if token is not None:  # a client-initiated token: tell pytest-lsp's tracker about it
        editor.client.progress_reports.setdefault(token, [])
    return await editor.client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=command, arguments=list(args), work_done_token=token))


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)

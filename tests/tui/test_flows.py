"""The app driven with keys (Textual's Pilot) against a real repository and a recorded answer."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from helpers import git
from helpers import RecordedModelServer
from tui_helpers import recorded
from tui_helpers import open_session, run, wait_for

from amigo_tui.app import AmigoApp
from amigo_tui.history import InstructionHistory
from amigo_tui.widgets.diff_panel import DiffPanel
from amigo.filetypes import language_of as language_for
from amigo_tui.widgets.file_view import FileView
from amigo_tui.widgets.stream_panel import StreamPanel

DOC = '    """The oldest user (the first one on ties)."""\n'


def only_oldest_doc(sample: str) -> str:
    return sample.replace("def oldest(users):\n", "def oldest(users):\n" + DOC)


def both_hunks(sample: str) -> str:
    return only_oldest_doc(sample).replace('"""A tiny user registry."""', '"""A tiny registry of users."""')


def tree_state(repo: Path) -> dict[str, bytes]:
    return {p.relative_to(repo).as_posix(): p.read_bytes() for p in repo.rglob("*")
            if p.is_file() and ".git" not in p.parts}


async def ask(pilot, app: AmigoApp, text: str, type_keys: bool = False) -> None:
    """Focus the box with its key, enter the text (key by key if asked: slow on a busy machine), send."""
    await pilot.press("i")
    if type_keys:
        await pilot.press(*text)
    else:
        app.query_one("#instruction").insert_text_at_cursor(text)
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.proposal is not None and not app.generating)


def test_select_instruct_accept_one_hunk_writes_exact_bytes(repo: Path, answer_server: RecordedModelServer) -> None:
    sample = (repo / "users.py").read_text()
    async def scenario() -> None:
        app = AmigoApp(open_session(repo, answer_server.base_url), path="users.py")
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.query_one(FileView).page is not None)
            await pilot.press(*["down"] * 16, "shift+down", "shift+down")  # select lines 17-18
            assert app.query_one(FileView).selection_range() == (17, 18)
            await ask(pilot, app, "document it, simply", type_keys=True)  # `i` types itself in the box
            assert app.proposal.request.instruction == "document it, simply"
            assert app.proposal.request.selection == (17, 18)
            assert answer_server.requests and answer_server.requests[0]["stream"] is True
            panel = app.query_one(DiffPanel)
            assert [v.path for v in panel.views] == ["users.py", "users.py"]
            await pilot.press("space")  # hunk 1 (the module docstring) off
            await pilot.press("a")
            await wait_for(pilot, lambda: app.proposal is None)
        assert (repo / "users.py").read_bytes() == only_oldest_doc(sample).encode()
        assert git(repo, "status", "--porcelain").strip() == "M users.py"  # no commit by default
    run(scenario())


def test_accept_all_with_commit_then_undo_restores_bytes(repo: Path, answer_server: RecordedModelServer) -> None:
    before = (repo / "users.py").read_bytes()

    async def scenario() -> None:
        app = AmigoApp(open_session(repo, answer_server.base_url), path="users.py")
        async with app.run_test(size=(100, 30)) as pilot:
            await ask(pilot, app, "tidy docstrings")
            await pilot.press("c", "a")  # commit on, accept everything
            await wait_for(pilot, lambda: app.proposal is None)
            assert (repo / "users.py").read_text() == both_hunks(before.decode())
            assert "tidy docstrings" in git(repo, "log", "-1", "--format=%B")
            await pilot.press("u")
            await wait_for(pilot, lambda: any(m.startswith("restored") for _, m in app.notices))
            assert app.query_one(FileView).page.text == before.decode()  # the view shows the restored file
        assert (repo / "users.py").read_bytes() == before
    run(scenario())


def test_reject_leaves_the_tree_untouched(repo: Path, answer_server: RecordedModelServer) -> None:
    (repo / "notes.txt").write_text("untracked work\n")
    state, status = tree_state(repo), git(repo, "status", "--porcelain")

    async def scenario() -> None:
        app = AmigoApp(open_session(repo, answer_server.base_url), path="users.py")
        async with app.run_test(size=(100, 30)) as pilot:
            await ask(pilot, app, "document oldest")
            await pilot.press("d")
            await wait_for(pilot, lambda: app.proposal is None)
            assert ("information", "rejected; nothing changed") in app.notices
    run(scenario())
    assert tree_state(repo) == state
    assert git(repo, "status", "--porcelain") == status


def test_escape_cancels_mid_stream(repo: Path) -> None:
    sample = (repo / "users.py").read_text()
    slow = RecordedModelServer(recorded("users_two_hunks.txt"), chunk_chars=1, delay_s=0.03)
    with slow:
        async def scenario() -> None:
            app = AmigoApp(open_session(repo, slow.base_url), path="users.py")
            async with app.run_test(size=(100, 30)) as pilot:
                await pilot.press("i")
                app.query_one("#instruction").insert_text_at_cursor("document oldest")
                await pilot.press("enter")
                stream = app.query_one(StreamPanel)
                await wait_for(pilot, lambda: stream.tokens >= 5)
                await pilot.press("escape")
                await wait_for(pilot, lambda: not app.generating)
                assert stream.state == "cancelled"
                assert app.proposal is None
                assert stream.tokens < len(recorded("users_two_hunks.txt"))
        run(scenario())
        assert slow.disconnected.wait(5), "the server should see the connection closed"
    assert (repo / "users.py").read_text() == sample


def test_server_down_notifies_and_r_retries(repo: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}/v1"

    async def scenario() -> None:
        app = AmigoApp(open_session(repo, endpoint), path="users.py")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("i")
            app.query_one("#instruction").insert_text_at_cursor("document oldest")
            await pilot.press("enter")
            await wait_for(pilot, lambda: not app.generating and app.query_one(StreamPanel).state == "failed")
            assert any(sev == "error" and "cannot reach the model server" in msg for sev, msg in app.notices)
            assert app.query_one("#status").connection == "down"
            with RecordedModelServer(recorded("users_two_hunks.txt"), port=port):
                await pilot.press("escape", "r")
                await wait_for(pilot, lambda: app.proposal is not None)
            assert app.query_one("#status").connection == "connected"
    run(scenario())


def test_file_changed_on_disk_marks_the_proposal_stale(repo: Path, answer_server: RecordedModelServer) -> None:
    edited = (repo / "users.py").read_text() + "# typed meanwhile\n"
    async def scenario() -> None:
        app = AmigoApp(open_session(repo, answer_server.base_url), path="users.py")
        async with app.run_test(size=(100, 30)) as pilot:
            await ask(pilot, app, "document oldest")
            (repo / "users.py").write_text(edited)
            panel = app.query_one(DiffPanel)
            await wait_for(pilot, lambda: panel.stale, timeout=5)
            await pilot.press("a")
            await pilot.pause(0.1)
            assert app.proposal is not None  # still open, not applied
            assert any("stale" in msg for sev, msg in app.notices if sev == "error")
    run(scenario())
    assert (repo / "users.py").read_text() == edited


def test_edit_instruction_and_retry_pairs_the_proposals(repo: Path, answer_server: RecordedModelServer) -> None:
    async def scenario() -> None:
        app = AmigoApp(open_session(repo, answer_server.base_url), path="users.py")
        async with app.run_test(size=(100, 30)) as pilot:
            await ask(pilot, app, "document oldest")
            first = app.proposal
            await pilot.press("e")
            app.query_one("#instruction").insert_text_at_cursor(" please")
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.proposal is not first and app.proposal is not None)
            assert app.proposal.parent_id == first.id
            assert app.proposal.request.instruction == "document oldest please"
            last_user = answer_server.requests[-1]["messages"][-1]["content"]
            assert "document oldest please" in last_user
    run(scenario())


def test_fix_sends_the_pasted_error_as_a_diagnostic(repo: Path, answer_server: RecordedModelServer) -> None:
    error = 'Traceback (most recent call last):\n  File "users.py", line 18, in oldest\nValueError: max() arg is empty'

    async def scenario() -> None:
        app = AmigoApp(open_session(repo, answer_server.base_url), path="users.py")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("x")
            await pilot.pause(0.1)
            app.screen.query_one("#fix-text").insert(error)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.proposal is not None and not app.generating)
            (diagnostic,) = app.proposal.request.diagnostics
            assert diagnostic.start_line == 18 and "max() arg is empty" in diagnostic.message
    run(scenario())


def test_binary_non_utf8_and_huge_files(repo: Path, answer_server: RecordedModelServer) -> None:
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(200))
    (repo / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (repo / "big.log").write_text("".join(f"line {i}\n" for i in range(200_000)))  # ~2.3 MB

    async def scenario() -> None:
        app = AmigoApp(open_session(repo, answer_server.base_url, max_file_bytes=1_000_000), path="logo.png")
        async with app.run_test(size=(100, 30)) as pilot:
            view = app.query_one(FileView)
            assert view.page.kind == "binary" and "binary file" in view.page.notice
            await pilot.press("i")
            app.query_one("#instruction").insert_text_at_cursor("make it pop")
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert not app.generating and not answer_server.requests  # never sent
            app.open_file("latin1.txt")
            assert view.page.kind == "not-utf8" and "caf\ufffd" in view.page.text
            app.open_file("big.log")
            assert view.page.kind == "huge" and view.page.pages > 10 and view.page.text.startswith("line 0\n")
            await pilot.press("]")
            assert view.page.page == 1
            first = int(view.page.text.split("\n", 1)[0].split()[1])
            assert view.page.first_line == first + 1  # line numbers stay true on later pages
    run(scenario())


def test_tiny_terminal_sizes_keep_running(repo: Path, answer_server: RecordedModelServer) -> None:
    async def scenario() -> None:
        app = AmigoApp(open_session(repo, answer_server.base_url), path="users.py")
        async with app.run_test(size=(80, 24)) as pilot:
            assert app.query_one("#tree").display
            for size in [(50, 12), (20, 6), (4, 2), (80, 24)]:
                await pilot.resize_terminal(*size)
                await pilot.pause(0.05)
            await pilot.resize_terminal(50, 12)
            await pilot.pause(0.05)
            assert app.screen.has_class("-narrow")
            await ask(pilot, app, "document oldest")  # still usable at 50x12
            assert app.is_running
    run(scenario())


def test_instruction_history_survives_a_restart(repo: Path, answer_server: RecordedModelServer) -> None:
    async def scenario() -> None:
        app = AmigoApp(open_session(repo, answer_server.base_url), path="users.py")
        async with app.run_test(size=(100, 30)) as pilot:
            await ask(pilot, app, "first instruction")
        again = AmigoApp(open_session(repo, answer_server.base_url), path="users.py")
        async with again.run_test(size=(100, 30)) as pilot:
            await pilot.press("i", "up")
            assert again.query_one("#instruction").value == "first instruction"
    run(scenario())
    assert InstructionHistory().entries[-1] == "first instruction"


def test_verdicts_reach_the_feedback_store(repo: Path, answer_server: RecordedModelServer) -> None:
    feedback = pytest.importorskip("feedback")

    async def scenario() -> None:
        app = AmigoApp(open_session(repo, answer_server.base_url), path="users.py")
        async with app.run_test(size=(100, 30)) as pilot:
            assert app.recorder is not None
            await ask(pilot, app, "document oldest")
            first = app.proposal
            await pilot.press("r")  # a second candidate: the pair is preference data
            await wait_for(pilot, lambda: app.proposal is not first and app.proposal is not None)
            await pilot.press("space", "a")  # accept hunk 2 only
            await wait_for(pilot, lambda: app.proposal is None)
            await pilot.press("u")
            await wait_for(pilot, lambda: any(m.startswith("restored") for _, m in app.notices))
    run(scenario())
    config = open_session(repo, "http://127.0.0.1:9/v1").config
    with feedback.Store(feedback.db_path(config.feedback)) as store:
        kinds = [row["kind"] for row in store.query("SELECT kind FROM events ORDER BY id")]
        accepted = store.query("SELECT data FROM events WHERE kind = 'accepted'")
    assert kinds == ["retried", "accepted", "undone"]
    assert json.loads(accepted[0]["data"])["hunks"] == [1]


def test_every_kind_of_file_opens(repo: Path, answer_server: RecordedModelServer) -> None:
    """Textual can highlight markdown, TOML, JSON, YAML, shell...; where the grammar package
    is not installed (the core install has none of them) the file opens as plain text."""
    files = {
        "README.md": "# Title\n\nSome *text*.\n", "pyproject.toml": "[project]\nname = \"x\"\n",
        "data.json": "{\"a\": 1}\n", "ci.yaml": "on: push\njobs: {}\n", "run.sh": "#!/bin/sh\necho hi\n",
        "notes.txt": "plain\n", "Makefile": "all:\n\techo hi\n", "LICENSE": "no extension\n",
        "main.rs": "fn main() {}\n", "main.go": "package main\n", "page.html": "<p>hi</p>\n",
        "query.sql": "select 1;\n",
    }
    for name, text in files.items():
        (repo / name).write_text(text)

    async def scenario() -> None:
        app = AmigoApp(open_session(repo, answer_server.base_url), path="users.py")
        async with app.run_test(size=(100, 30)) as pilot:
            view = app.query_one(FileView)
            await wait_for(pilot, lambda: view.page is not None)
            assert view.code.language == "python"
            for name, text in files.items():
                app.open_file(name)
                await pilot.pause(0.05)
                assert app.is_running, name
                assert view.page.path == name and view.code.text == text, name
                assert view.code.language in (None, language_for(name)), name
    run(scenario())


def test_a_change_that_fails_its_checks_is_marked_on_the_proposal_and_its_hunk(repo: Path) -> None:
    broken = "users.py\n<<<<<<< SEARCH\n    return max(users, key=lambda u: u.age)\n=======\n" \
             "    return max(users, key=lambda u: u.age))\n>>>>>>> REPLACE\n"

    async def scenario() -> None:
        with RecordedModelServer(broken) as server:
            app = AmigoApp(open_session(repo, server.base_url, repair_attempts=1), path="users.py")
            async with app.run_test(size=(100, 30)) as pilot:
                await ask(pilot, app, "return None for no users")
                assert len(server.requests) == 2  # asked again once, with the problem
                panel = app.query_one(DiffPanel)
                assert app.proposal.broken
                summary = panel.summary().plain
                assert summary.startswith("CHECKS FAILED") and "syntax error" in summary and "line 18" in summary
                (view,) = panel.views
                assert [f.line for f in panel._findings_in(view)] == [18]  # the hunk holding line 18 is marked
                stream = app.query_one(StreamPanel).log_widget.lines
                assert any("asking again (attempt 2)" in line for line in stream)
    run(scenario())

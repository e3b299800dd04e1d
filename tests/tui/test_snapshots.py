"""Pictures of the main screens (pytest-textual-snapshot); each SVG was looked at before committing.

The recorded server listens on a random port, so the status bar's endpoint is
set to a fixed text before the picture is taken (the only masked value).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import RecordedModelServer
from tui_helpers import open_session, wait_for

from amigo_tui.app import AmigoApp
from amigo_tui.widgets.status_bar import StatusBar

FIXED_ENDPOINT = "http://127.0.0.1:8080/v1"


def make_app(repo: Path, server: RecordedModelServer) -> AmigoApp:
    return AmigoApp(open_session(repo, server.base_url), path="users.py")


async def settle(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.query_one(StatusBar).connection == "connected" and bool(app.paths))
    app.query_one(StatusBar).endpoint = FIXED_ENDPOINT
    await pilot.pause(0.1)


async def review(pilot) -> None:
    app = pilot.app
    await settle(pilot)
    await pilot.press("down", "shift+down", "i")
    app.query_one("#instruction").insert_text_at_cursor("tidy the docstrings")
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.proposal is not None and not app.generating)
    await pilot.pause(0.1)


def test_file_open(snap_compare, repo: Path, answer_server: RecordedModelServer) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("down", "shift+down", "shift+down")
    assert snap_compare(make_app(repo, answer_server), terminal_size=(80, 24), run_before=before)


def test_review_unified(snap_compare, repo: Path, answer_server: RecordedModelServer) -> None:
    assert snap_compare(make_app(repo, answer_server), terminal_size=(80, 24), run_before=review)


def test_review_split_with_one_hunk_off(snap_compare, repo: Path, answer_server: RecordedModelServer) -> None:
    async def before(pilot) -> None:
        await review(pilot)
        await pilot.press("t", "space", "j")
    assert snap_compare(make_app(repo, answer_server), terminal_size=(100, 30), run_before=before)


def test_finder(snap_compare, repo: Path, answer_server: RecordedModelServer) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("ctrl+p", "u", "s", "r")
        await pilot.pause(0.1)
    assert snap_compare(make_app(repo, answer_server), terminal_size=(80, 24), run_before=before)


def test_narrow_terminal(snap_compare, repo: Path, answer_server: RecordedModelServer) -> None:
    assert snap_compare(make_app(repo, answer_server), terminal_size=(50, 16), run_before=review)


def test_no_color(snap_compare, repo: Path, answer_server: RecordedModelServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(repo, answer_server)
    assert app.no_color
    assert snap_compare(app, terminal_size=(80, 24), run_before=review)

"""End to end against the real embedded model (llama.cpp + SmolLM2-135M): stream, review, verdict.

The 135M model's answer quality is not under test: the proposal may apply or
carry errors. What must hold: tokens stream into the panel, the review opens,
and the verdict does exactly what the proposal allows (applies the shown text,
or is refused leaving the file untouched).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from tui_helpers import run, wait_for

from amigo.config import load_config
from amigo.engine import EditSession
from amigo_tui.app import AmigoApp
from amigo_tui.widgets.stream_panel import StreamPanel

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_real_model_end_to_end(repo: Path, model_server: str) -> None:
    before = (repo / "users.py").read_text()
    config = dataclasses.replace(load_config(repo), endpoint=model_server, max_tokens=400, read_timeout=180.0)
    session = EditSession.open(repo, config=config)

    async def scenario() -> None:
        app = AmigoApp(session, path="users.py")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("i")
            app.query_one("#instruction").insert_text_at_cursor("add a docstring to the function oldest")
            await pilot.press("enter")
            stream = app.query_one(StreamPanel)
            switcher = app.query_one("#main")
            await wait_for(pilot, lambda: not app.generating and (
                stream.state == "failed" or (app.proposal is not None and switcher.current == "review")), timeout=240)
            assert stream.tokens > 0, "no token reached the streaming panel"
            if stream.state == "failed":  # e.g. an empty answer: told, never a crash
                assert any(sev == "error" for sev, _ in app.notices)
                return
            proposal = app.proposal
            assert proposal is not None
            await pilot.press("a")
            await pilot.pause(0.3)
            if proposal.ok:
                assert app.proposal is None
                change = proposal.changes[0]
                assert (repo / change.path).read_text() == change.new_text
            else:
                assert app.proposal is proposal  # refused: still under review
                assert (repo / "users.py").read_text() == before
    try:
        run(scenario())
    finally:
        session.close()

"""The real engine (amigo.engine.EditSession) with the recorder attached: no secret reaches the disk."""

from __future__ import annotations

import json
import random
import sqlite3
import string

from amigo.engine import EditSession
from feedback import attach
from feedback.settings import db_path
from feedback_helpers import CALC, blocks, commit_all


def test_session_events_are_recorded_and_redacted(repo):
    rng = random.Random(7)
    key = "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
    password = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(14)) + "!9"
    (repo / "calc.py").write_text(f'API_KEY_ID = "{key}"\nDB_PASSWORD = "{password}"\n\n\n' + CALC)
    commit_all(repo, "settings")
    session = EditSession.open(repo)
    recorder = attach(session.events, session.repo_root, session.config.feedback)
    assert recorder is not None
    try:
        request = session.make_request(f"make mul check types (the key is {key})", "calc.py")
        answer = blocks("calc.py", "    return a * b\n", "    assert isinstance(a, int)\n    return a * b\n")
        accepted = session.proposal_from_answer(request, answer)
        assert accepted.ok, accepted.errors
        session.accept(accepted)
        rejected = session.proposal_from_answer(session.make_request("rename sub", "calc.py"),
                                                blocks("calc.py", "def sub(a, b):\n", "def minus(a, b):\n"))
        session.reject(rejected, reason=f"no; password={password}")
        session.undo()
    finally:
        recorder.close()
        session.close()

    db = db_path(session.config.feedback)
    raw = b"".join(p.read_bytes() for p in db.parent.glob("feedback.db*"))
    assert key.encode() not in raw and password.encode() not in raw
    conn = sqlite3.connect(db)
    try:
        kinds = [r[0] for r in conn.execute("SELECT kind FROM events ORDER BY id")]
        assert kinds == ["accepted", "rejected", "undone"]
        (final,) = json.loads(conn.execute("SELECT data FROM events WHERE kind = 'accepted'").fetchone()[0])[
            "final_texts"].values()
        assert "assert isinstance(a, int)" in final and "[REDACTED:" in final
        status = dict(conn.execute("SELECT kind, status FROM followups").fetchall())
        assert status == {"retention": "undone", "correction": "pending"}
        messages = conn.execute("SELECT messages FROM proposals WHERE id = ?", (accepted.id,)).fetchone()[0]
        assert "[REDACTED:aws_access_key_id]" in messages
    finally:
        conn.close()

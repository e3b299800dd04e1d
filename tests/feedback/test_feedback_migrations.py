"""Schema migrations upgrade an old database in place, keeping its data."""

from __future__ import annotations

import json
import sqlite3

import pytest

from amigo.errors import ConfigError
from feedback import records
from feedback.schema import LATEST
from feedback.store import Store


def test_v1_database_with_data_upgrades_to_latest(tmp_path, make):
    path = tmp_path / "old.db"
    accepted, rejected, undone = make(), make(answer="bad"), make(answer="undone later")
    with Store(path, target_version=1) as old:
        assert old.version == 1
        assert not old.query("SELECT name FROM sqlite_master WHERE name = 'followups'")
        with old.transaction() as conn:
            for p in (accepted, rejected, undone):
                row = records.proposal_row(p, "cabc")
                records.write_proposal(conn, {k: v for k, v in row.items() if k != "redaction"})  # a v3 column
            for pid, kind, data, at in ((accepted.id, "accepted", {"hunks": None, "final_texts": {}}, 1000.0),
                                        (rejected.id, "rejected", {"reason": "no"}, 2000.0),
                                        (undone.id, "accepted", {"hunks": None}, 3000.0),
                                        (undone.id, "undone", {"paths": ["calc.py"]}, 3100.0)):
                conn.execute("INSERT INTO events (proposal_id, kind, at, data) VALUES (?, ?, ?, ?)",
                             (pid, kind, at, records.dumps(data)))  # as version 1 wrote them
        before = {r["id"]: dict(r) for r in old.query("SELECT * FROM proposals")}
        events_before = [dict(r) for r in old.query("SELECT * FROM events ORDER BY id")]

    with Store(path) as new:
        assert new.version == LATEST
        # v4 adds the push flags (0: not sent yet) and the redaction stamp (None: older rules)
        assert {r["id"]: dict(r) for r in new.query("SELECT * FROM proposals")} == {
            k: {**v, "pushed": 0, "redaction": None} for k, v in before.items()}
        assert [dict(r) for r in new.query("SELECT * FROM events ORDER BY id")] == [
            {**e, "pushed": 0, "redaction": None} for e in events_before]
        follow = {(r["proposal_id"], r["kind"]): (r["status"], r["started_at"], r["due_at"])
                  for r in new.query("SELECT * FROM followups")}
        assert follow == {
            (accepted.id, "retention"): ("pending", 1000.0, 1000.0 + 86400),
            (rejected.id, "correction"): ("pending", 2000.0, 2000.0 + 3600),
            (undone.id, "retention"): ("undone", 3000.0, 3000.0 + 86400),
        }
        assert new.integrity() == "ok"
        assert json.loads(new.query("SELECT data FROM events WHERE kind = 'rejected'")[0][0]) == {"reason": "no"}
    # opening again is a no-op
    with Store(path) as again:
        assert again.version == LATEST
        assert len(again.query("SELECT * FROM followups")) == 3


def test_newer_database_is_refused_with_advice(tmp_path):
    path = tmp_path / "future.db"
    with Store(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(ConfigError, match="upgrade Amigo"):
        Store(path)


def test_unwritable_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="feedback.db_path"):
        Store(blocker / "sub" / "f.db")

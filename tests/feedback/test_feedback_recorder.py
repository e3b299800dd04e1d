"""Round trips: events published on a real bus end up in the real SQLite store."""

from __future__ import annotations

import json
import sqlite3

from amigo.events import (
    AcceptedEvent, DoneEvent, ErrorEvent, ProposalEvent, RejectedEvent, RetriedEvent, StaleEvent, TokenEvent,
    UndoneEvent,
)
from feedback import attach, db_path
from feedback.repoid import identify
from feedback.settings import FeedbackSettings
from feedback.schema import LATEST
from feedback.store import Store
from feedback_helpers import git


def rows(sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db_path(FeedbackSettings()))
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_proposal_round_trip_keeps_every_field(repo, make, bus, settings, data_home):
    recorder = attach(bus, repo, settings)
    assert recorder is not None
    proposal = make()
    bus.publish(TokenEvent(proposal.id, "x"))
    bus.publish(ProposalEvent(proposal))
    bus.publish(DoneEvent(proposal.id))
    recorder.close()

    assert db_path(settings) == data_home / "amigo" / "feedback.db"
    (row,) = rows("SELECT * FROM proposals")
    assert row["id"] == proposal.id
    assert row["repo_id"] == identify(repo).id and row["repo_id"].startswith("c")
    assert str(repo) not in row["repo_id"]
    assert row["path"] == "calc.py" and row["language"] == "python"
    assert row["instruction"] == "make mul check types"
    assert json.loads(row["messages"]) == list(proposal.messages)
    assert row["answer"] == proposal.answer and row["diff"] == proposal.diff
    assert row["model"] == "smollm2-135m" and row["adapter"] is None
    assert row["prompt_tokens"] == 120 and row["completion_tokens"] == 40 and row["latency_s"] == 0.25
    assert row["decoding"] == "free" and len(row["context_digest"]) == 64
    (change,) = json.loads(row["changes"])
    assert change["old_text"] is None  # the request's file text, not stored twice
    assert change["new_text"] == proposal.changes[0].new_text
    assert row["file_text"] == proposal.request.file_text
    assert rows("SELECT COUNT(*) FROM events")[0][0] == 0


def test_verdicts_become_events_with_links(repo, make, bus, settings):
    recorder = attach(bus, repo, settings)
    first = make()
    second = make(parent=first, answer="second try")
    third = make()
    for p in (first, second, third):
        bus.publish(ProposalEvent(p))
    bus.publish(RetriedEvent(first, second))
    bus.publish(AcceptedEvent(second, hunks=(0,), commit=None, final_texts=(("calc.py", "x\n"),)))
    bus.publish(RejectedEvent(third, reason="wrong function"))
    bus.publish(StaleEvent(third, "calc.py"))
    bus.publish(UndoneEvent(second.id, ("calc.py",)))
    bus.publish(UndoneEvent(None, ("other.py",)))
    bus.publish(ErrorEvent(third.id, "bad block", kind="parse"))
    bus.publish(ErrorEvent("nope", "cancel", kind="cancelled"))
    recorder.close()

    events = [(r["proposal_id"], r["kind"], json.loads(r["data"])) for r in rows("SELECT * FROM events ORDER BY id")]
    assert events[0] == (first.id, "retried", {"new_proposal_id": second.id})
    assert events[1][:2] == (second.id, "accepted")
    assert events[1][2]["hunks"] == [0] and events[1][2]["final_texts"] == {"calc.py": "x\n"}
    assert events[2] == (third.id, "rejected", {"reason": "wrong function"})
    assert events[3] == (third.id, "stale", {"path": "calc.py"})
    assert events[4] == (second.id, "undone", {"proposal_id": second.id, "paths": ["calc.py"]})
    assert events[5] == (None, "undone", {"proposal_id": None, "paths": ["other.py"]})
    assert events[6][:2] == (third.id, "error")
    assert len(events) == 7  # cancellation is not an error worth keeping
    assert rows("SELECT parent_id FROM proposals WHERE id = ?", (second.id,))[0][0] == first.id
    follow = {(r["proposal_id"], r["kind"]): r["status"] for r in rows("SELECT * FROM followups")}
    assert follow == {(second.id, "retention"): "undone", (third.id, "correction"): "pending"}


def test_verdict_without_prior_proposal_event_stores_the_proposal(repo, make, bus, settings):
    recorder = attach(bus, repo, settings)
    proposal = make()
    bus.publish(RejectedEvent(proposal))
    recorder.close()
    assert rows("SELECT id FROM proposals")[0][0] == proposal.id


def test_disabled_creates_no_database(repo, make, bus, data_home):
    off = FeedbackSettings(enabled=False)
    assert attach(bus, repo, off) is None
    bus.publish(ProposalEvent(make()))
    assert not data_home.exists()
    assert not db_path(off).exists()


def test_excluded_repository_creates_no_database(repo, make, bus, data_home, tmp_path):
    for entry in (str(repo), str(tmp_path), str(tmp_path / "re*"), identify(repo).id):
        assert attach(bus, repo, FeedbackSettings(exclude_repos=[entry])) is None, entry
    git(repo, "remote", "add", "origin", "git@example.com:team/secret-project.git")
    assert attach(bus, repo, FeedbackSettings(exclude_repos=["*secret-project*"])) is None
    bus.publish(ProposalEvent(make()))
    assert not data_home.exists()
    recorder = attach(bus, repo, FeedbackSettings(exclude_repos=["/elsewhere", "cdeadbeef"]))
    assert recorder is not None
    recorder.close()


def test_config_file_disables_feedback(repo, make, bus, data_home):
    (repo / "amigo.toml").write_text("[feedback]\nenabled = false\n")
    assert attach(bus, repo) is None
    assert not data_home.exists()


def test_db_path_setting_and_repo_id_from_remote(tmp_path, bus):
    plain = tmp_path / "plain"
    plain.mkdir()
    git(plain, "init", "-q")
    assert identify(plain).id == "unknown"
    git(plain, "remote", "add", "origin", "https://example.com/a.git")
    ident = identify(plain)
    assert ident.id.startswith("r") and ident.remote == "https://example.com/a.git"
    target = tmp_path / "custom" / "fb.db"
    recorder = attach(bus, plain, FeedbackSettings(db_path=str(target)))
    assert recorder is not None and target.exists()
    recorder.close()


def test_store_pragmas(tmp_path):
    with Store(tmp_path / "x.db") as store:
        assert store.query("PRAGMA journal_mode")[0][0] == "wal"
        assert store.query("PRAGMA foreign_keys")[0][0] == 1
        assert store.query("PRAGMA busy_timeout")[0][0] >= 1000
        assert store.version == LATEST and store.integrity() == "ok"


def test_a_stuck_writer_costs_a_bounded_wait_never_the_edit(repo, make, bus, settings, monkeypatch):
    import subprocess
    import sys

    from feedback import store as store_module

    recorder = attach(bus, repo, settings)
    lock = f"{db_path(settings)}.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({lock!r}, os.O_RDWR)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\ntime.sleep(30)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 300)
        bus.publish(ProposalEvent(make()))  # logged and dropped; publish itself does not raise
    finally:
        holder.kill()
        holder.wait()
    assert rows("SELECT COUNT(*) FROM proposals")[0][0] == 0
    later = make()
    bus.publish(ProposalEvent(later))
    recorder.close()
    assert rows("SELECT id FROM proposals")[0][0] == later.id

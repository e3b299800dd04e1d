"""Retention after an accept and corrections after a reject, measured against real files in a real repo."""

from __future__ import annotations

import json
import os
import time

from amigo.events import AcceptedEvent, ProposalEvent, RejectedEvent, UndoneEvent
from feedback import attach, follow_up
from feedback.followup import changed_regions, correction_text, retention_units
from feedback.settings import FeedbackSettings
from feedback.store import Store
from feedback_helpers import CALC, commit_all, git

TYPED = CALC.replace("    return a * b\n", "    assert isinstance(a, int)\n    assert isinstance(b, int)\n    return a * b\n")


def followups(settings: FeedbackSettings) -> dict[str, dict]:
    from feedback.settings import db_path

    with Store(db_path(settings)) as store:
        return {r["kind"]: dict(r) for r in store.query("SELECT * FROM followups")}


def accept(repo, make, bus, settings, new=TYPED):
    recorder = attach(bus, repo, settings)
    proposal = make(new=new)
    bus.publish(ProposalEvent(proposal))
    (repo / "calc.py").write_text(new)
    bus.publish(AcceptedEvent(proposal, None, None, (("calc.py", new),)))
    recorder.close()
    return proposal


def test_retention_units_pure():
    assert retention_units(CALC, TYPED, TYPED) == (2, 2)
    assert retention_units(CALC, TYPED, CALC) == (0, 2)
    assert retention_units(CALC, TYPED, TYPED.replace("    assert isinstance(b, int)\n", "")) == (1, 2)
    assert retention_units(CALC, TYPED, None) == (0, 2)
    removed = CALC.replace("def sub(a, b):\n    return a - b\n", "")
    assert retention_units(CALC, removed, removed) == (2, 2)
    assert retention_units(CALC, removed, CALC) == (0, 2)
    assert retention_units(CALC, CALC, CALC) == (0, 0)


def test_correction_text_keeps_only_the_region():
    regions = changed_regions(CALC, TYPED)
    person = CALC.replace("    return a * b\n", "    return int(a) * int(b)\n").replace("def add", "def plus")
    assert correction_text(CALC, person, regions) == CALC.replace("    return a * b\n", "    return int(a) * int(b)\n")
    assert correction_text(CALC, CALC.replace("def add", "def plus"), regions) is None


def test_retention_measured_after_the_delay(repo, make, bus):
    settings = FeedbackSettings(retention_delay_s=600)
    proposal = accept(repo, make, bus, settings)
    (repo / "calc.py").write_text(TYPED.replace("    assert isinstance(b, int)\n", ""))
    now = time.time()
    report = follow_up(repo, settings, now=now + 60)
    assert report.retention_measured == 0 and report.still_pending == 1
    assert followups(settings)["retention"]["status"] == "pending"
    report = follow_up(repo, settings, now=now + 601)
    assert report.retention_measured == 1
    row = followups(settings)["retention"]
    assert row["proposal_id"] == proposal.id
    assert (row["status"], row["retention"], row["trigger"]) == ("done", 0.5, "delay")
    assert follow_up(repo, settings, now=now + 2000).retention_measured == 0  # measured once


def test_retention_measured_at_the_next_commit(repo, make, bus, monkeypatch):
    settings = FeedbackSettings(retention_delay_s=86400)
    accept(repo, make, bus, settings)
    assert follow_up(repo, settings).still_pending == 1
    later = int(time.time()) + 5
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"@{later} +0000")
    commit_all(repo, "keep the checks")
    assert follow_up(repo, settings).retention_measured == 1
    row = followups(settings)["retention"]
    assert (row["retention"], row["trigger"]) == (1.0, "commit")


def test_attach_follows_up_at_start_and_undo_closes_retention(repo, make, bus):
    settings = FeedbackSettings(retention_delay_s=0)
    accept(repo, make, bus, settings)
    recorder = attach(bus, repo, settings)  # a new session starting measures what is due
    recorder.close()
    assert followups(settings)["retention"]["status"] == "done"

    settings2 = FeedbackSettings(retention_delay_s=3600, db_path=str(repo.parent / "other.db"))
    proposal = accept(repo, make, bus, settings2)
    recorder = attach(bus, repo, settings2)
    bus.publish(UndoneEvent(proposal.id, ("calc.py",)))
    recorder.close()
    row = followups(settings2)["retention"]
    assert (row["status"], row["retention"]) == ("undone", 0.0)


def test_correction_captured_after_a_reject(repo, make, bus):
    settings = FeedbackSettings(correction_window_s=600)
    recorder = attach(bus, repo, settings)
    proposal = make()
    bus.publish(RejectedEvent(proposal, "wrong approach"))
    recorder.close()
    assert follow_up(repo, settings).still_pending == 1  # nothing changed yet, window still open
    fixed = CALC.replace("    return a * b\n", "    return int(a) * int(b)\n")
    (repo / "calc.py").write_text(fixed.replace("def add", "def plus"))  # plus an unrelated rename far above
    report = follow_up(repo, settings)
    assert report.corrections == 1
    row = followups(settings)["correction"]
    assert row["status"] == "done"
    assert json.loads(row["correction_texts"]) == {"calc.py": fixed}


def test_change_outside_the_window_or_region_is_no_correction(repo, make, bus):
    settings = FeedbackSettings(correction_window_s=60)
    recorder = attach(bus, repo, settings)
    proposal = make()
    bus.publish(RejectedEvent(proposal))
    recorder.close()
    # a change to another region only
    (repo / "calc.py").write_text(CALC.replace("def add", "def plus"))
    assert follow_up(repo, settings).still_pending == 1
    assert follow_up(repo, settings, now=time.time() + 120).closed_without_correction == 1
    assert followups(settings)["correction"]["status"] == "none"

    settings2 = FeedbackSettings(correction_window_s=60, db_path=str(repo.parent / "b.db"))
    recorder = attach(bus, repo, settings2)
    bus.publish(RejectedEvent(make()))
    recorder.close()
    (repo / "calc.py").write_text(CALC.replace("return a * b", "return b * a"))
    late = time.time() + 3600
    os.utime(repo / "calc.py", (late, late))  # edited long after the window closed
    assert follow_up(repo, settings2, now=late + 1).closed_without_correction == 1


def test_follow_up_without_database_or_repo_id(repo, tmp_path):
    assert follow_up(repo, FeedbackSettings()).still_pending == 0
    plain = tmp_path / "plain"
    plain.mkdir()
    git(plain, "init", "-q")
    assert follow_up(plain, FeedbackSettings()).retention_measured == 0

"""The team store on a real PostgreSQL server: migrations, push (idempotent, concurrent, killed and rerun),
exclusions, redaction before anything leaves, purge by repository and by person, stats/export read back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amigo.config import load_config
from amigo.errors import ConfigError
from amigo.events import (
    AcceptedEvent, CompletionAcceptedEvent, CompletionRejectedEvent, CompletionShownEvent, EventBus, ProposalEvent,
    RejectedEvent, RetriedEvent, Suggestion,
)
from feedback import attach, records
from feedback.cli import main as cli
from feedback.export import export
from feedback.push import Purges, PurgesChanged, identity, push
from feedback.purge import purge_team
from feedback.redact import RULES
from feedback.repoid import identify
from feedback.schema import LATEST, PG_LATEST
from feedback.settings import FeedbackSettings, db_path
from feedback.stats import compute, format_table
from feedback.store import Store
from feedback.team import TeamStore
from feedback_helpers import CALC, Maker, commit_all, git
from test_feedback_export import build

ROOT = Path(__file__).resolve().parents[2]
SECRET = "ghp_" + "Z7q2" * 9  # a GitHub token: redacted wherever it appears


def counts(team: TeamStore) -> dict[str, int]:
    return {t: team.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("proposals", "events", "followups")}


def local_counts(store: Store) -> dict[str, int]:
    return {
        "proposals": store.query("SELECT COUNT(*) FROM proposals")[0][0],
        "events": store.query("SELECT COUNT(*) FROM events WHERE proposal_id IS NOT NULL")[0][0],
        "followups": store.query("SELECT COUNT(*) FROM followups")[0][0],
    }


def fill(db: Path, n: int, repo_id: str = "cbulk") -> None:
    """``n`` proposals, each rejected (an event and a follow-up), written the way the recorder writes them."""
    maker = Maker(None)
    with Store(db) as store:
        for lo in range(0, n, 200):
            with store.transaction() as conn:
                for i in range(lo, min(n, lo + 200)):
                    p = maker(instruction=f"task {i}")
                    records.write_proposal(conn, records.proposal_row(p, repo_id, lambda s: s))
                    records.write_event(conn, p.id, "rejected", {"reason": f"r{i}"}, 1000.0 + i)
                    records.open_followup(conn, p.id, "correction", 1000.0 + i, 4600.0 + i)


def complete(bus: EventBus, n: int, prefix: str = "x = ", typed: bool = False) -> list[Suggestion]:
    """``n`` inline completions shown, then accepted (or, with ``typed``, typed over), published as the editor does."""
    out = []
    for i in range(n):
        s = Suggestion(f"s{time.monotonic_ns()}{i}", "calc.py", "python", f"{prefix}{i}\n", "\n", f"mul({i}, 2)",
                       "line", "fim:qwen", f"<|fim_prefix|>{prefix}{i}", "smollm2-135m")
        bus.publish(CompletionShownEvent(s))
        bus.publish(CompletionRejectedEvent(s, "typed-over", f"add({i}, 2)") if typed
                    else CompletionAcceptedEvent(s, s.text))
        out.append(s)
    return out


def completion_counts(team: TeamStore | Store) -> dict[str, int]:
    return {t: team.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("completions", "completion_events")}


def push_cmd(db: Path, url: str, *extra: str) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AMIGO_FEEDBACK__URL": url}
    return [sys.executable, "-m", "feedback.cli", "--db", str(db), "push", *extra], env


def second_repo(tmp_path: Path) -> Path:
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    (other / "calc.py").write_text(CALC)
    commit_all(other, "other root")
    return other


# -- configuration and schema ------------------------------------------------------------------

def test_url_with_a_password_is_refused_and_a_wrong_password_named(team_url, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="AMIGO_FEEDBACK_PASSWORD") as info:
        load_config(tmp_path, environ={"AMIGO_FEEDBACK__URL": "postgresql://amigo:hunter2@db.example/fb"})
    assert "hunter2" not in str(info.value)
    with pytest.raises(ConfigError, match="postgresql://"):
        load_config(tmp_path, environ={"AMIGO_FEEDBACK__URL": "mysql://db.example/fb"})
    assert load_config(tmp_path, environ={"AMIGO_FEEDBACK__URL": team_url}).feedback.url == team_url
    monkeypatch.setenv("AMIGO_FEEDBACK_PASSWORD", "not-the-password")
    with pytest.raises(ConfigError, match="cannot reach the team feedback store .*AMIGO_FEEDBACK_PASSWORD") as info:
        TeamStore(team_url)
    assert "not-the-password" not in str(info.value)


def test_pg_migrations_create_once_even_when_raced_and_refuse_newer(team_url):
    code = ("import sys; from feedback.team import TeamStore; "
            "t = TeamStore(sys.argv[1]); print(t.version, t.store_id); t.close()")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, team_url], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert len({o for o, _ in outs}) == 1 and outs[0][0].split()[0] == str(PG_LATEST)
    with TeamStore(team_url) as team:
        assert team.version == PG_LATEST
        assert team.query("SELECT COUNT(*) FROM amigo_meta WHERE key = 'store_id'")[0][0] == 1
        assert counts(team) == {"proposals": 0, "events": 0, "followups": 0}
        team.query("UPDATE amigo_schema SET version = 99 RETURNING version")
    with pytest.raises(ConfigError, match="upgrade Amigo"):
        TeamStore(team_url)


def test_local_v2_database_gains_push_flags_and_ids(tmp_path, make):
    path = tmp_path / "v2.db"
    with Store(path, target_version=2) as old:
        with old.transaction() as conn:
            row = records.proposal_row(make(), "cabc")
            records.write_proposal(conn, {k: v for k, v in row.items() if k != "redaction"})  # a v4 column
    with Store(path) as new:
        assert new.version == LATEST == 5
        assert new.query("SELECT pushed FROM proposals")[0][0] == 0
        machine, person = identity(new, None)
        assert machine.startswith("m") and person.startswith("u") and len(machine) == len(person) == 17
    with Store(path) as again:
        assert identity(again, FeedbackSettings(person_id="u-team-7")) == (machine, "u-team-7")


# -- push --------------------------------------------------------------------------------------

def test_push_sends_what_is_missing_once_redacted_and_followups_again_when_they_change(
        team_url, repo, make, bus, tmp_path):
    settings = FeedbackSettings(retention_delay_s=0)  # no url at attach: see the after-session test
    recorder = attach(bus, repo, settings)
    bad, good = make(answer="bad"), make()
    bus.publish(ProposalEvent(bad))
    bus.publish(RetriedEvent(bad, good))
    (repo / "calc.py").write_text(good.changes[0].new_text)
    bus.publish(AcceptedEvent(good, None, None, (("calc.py", good.changes[0].new_text),)))
    recorder.close()
    db = db_path(settings)
    with Store(db) as store, store.transaction() as conn:  # a row kept under older redaction rules
        conn.execute("UPDATE proposals SET instruction = ?, redaction = NULL WHERE id = ?",
                     (f"use token {SECRET}", bad.id))
        assert conn.execute("SELECT COUNT(*) FROM proposals WHERE redaction = ?", (RULES,)).fetchone()[0] == 1

    with Store(db) as store, TeamStore(team_url) as team:
        first = push(store, team, settings)
        assert (first.proposals, first.events, first.followups) == (2, 2, 1)
        assert counts(team) == local_counts(store) == {"proposals": 2, "events": 2, "followups": 1}
        machine, person = identity(store, settings)
        assert {tuple(r) for r in team.query("SELECT DISTINCT machine_id, person_id FROM proposals")} == {
            (machine, person)}
        instruction = team.query("SELECT instruction FROM proposals WHERE id = ?", (bad.id,))[0][0]
        assert SECRET not in instruction and "[REDACTED:" in instruction
        assert team.query("SELECT status FROM followups")[0][0] == "pending"

        again = push(store, team, settings)
        assert (again.proposals, again.events, again.followups) == (0, 0, 0)
    attach(bus, repo, settings).close()  # measures the retention: the follow-up changes after its push
    with Store(db) as store, TeamStore(team_url) as team:
        third = push(store, team, settings)
        assert (third.proposals, third.events, third.followups) == (0, 0, 1)
        status, retention, rev = team.query("SELECT status, retention, rev FROM followups")[0]
        assert (status, retention) == ("done", 1.0) and rev >= 1
        assert counts(team)["followups"] == 1


def test_excluded_repository_never_leaves_the_machine(team_url, repo, make, bus, tmp_path, capsys, monkeypatch):
    other = second_repo(tmp_path)
    settings = FeedbackSettings()
    for root, maker in ((repo, make), (other, Maker(other))):
        recorder = attach(bus, root, settings)
        p = maker()
        bus.publish(ProposalEvent(p))
        bus.publish(RejectedEvent(p, reason="no"))
        recorder.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AMIGO_FEEDBACK__URL", team_url)
    monkeypatch.setenv("AMIGO_FEEDBACK__EXCLUDE_REPOS", str(other))  # excluded after it was recorded
    assert cli(["push"]) == 0
    out = capsys.readouterr().out
    assert "pushed 1 proposals, 1 events" in out and "1 proposals of excluded repositories stay" in out
    with TeamStore(team_url) as team:
        assert {r[0] for r in team.query("SELECT DISTINCT repo_id FROM proposals")} == {identify(repo).id}


def test_push_from_several_processes_at_once(team_url, tmp_path):
    one, two = tmp_path / "one.db", tmp_path / "two.db"  # two machines; the first pushes twice at once
    fill(one, 600)
    fill(two, 400, repo_id="cother")
    commands = [push_cmd(db, team_url, "--batch", "40", "--quiet") for db in (one, one, two)]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd, env in commands]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    with TeamStore(team_url) as team:
        assert counts(team) == {"proposals": 1000, "events": 1000, "followups": 1000}
        assert team.query("SELECT COUNT(DISTINCT machine_id) FROM events")[0][0] == 2
    sent = [int(o.split("pushed ")[1].split()[0]) for o, _ in outs[:2]]
    assert sum(sent) == 600  # the two pushes of one machine took turns: each proposal went once


def test_push_killed_midway_and_rerun_loses_nothing_and_sends_nothing_twice(team_url, tmp_path):
    db = tmp_path / "feedback.db"
    fill(db, 1500)
    cmd, env = push_cmd(db, team_url, "--batch", "10")  # 450 transactions: the kill lands well before the end
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the first batch is committed in the team store
    assert line.strip().startswith("proposals:"), line + proc.stderr.read()
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    with TeamStore(team_url) as team:
        partial = counts(team)
    assert 0 < partial["proposals"] < 1500 or partial["events"] < 1500, partial

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    with Store(db) as store, TeamStore(team_url) as team:
        assert counts(team) == local_counts(store) == {"proposals": 1500, "events": 1500, "followups": 1500}
        machine = identity(store, None)[0]
        local = sorted(r[0] for r in store.query("SELECT id FROM events"))
        remote = sorted(r[0] for r in team.query("SELECT local_id FROM events WHERE machine_id = ?", (machine,)))
        assert remote == local
        assert store.query("SELECT COUNT(*) FROM proposals WHERE pushed = 0")[0][0] == 0


# -- purge, stats, export ----------------------------------------------------------------------

def test_purge_by_repository_and_by_person_reaches_the_team_store(team_url, repo, make, bus, tmp_path,
                                                                  monkeypatch, capsys):
    other = second_repo(tmp_path)
    settings = FeedbackSettings()
    for root, maker in ((repo, make), (other, Maker(other))):
        recorder = attach(bus, root, settings)
        for i in range(2):
            p = maker(instruction=f"task {i}")
            bus.publish(ProposalEvent(p))
            bus.publish(RejectedEvent(p, reason="no"))
        recorder.close()
    colleague = tmp_path / "colleague.db"
    fill(colleague, 3, repo_id=identify(repo).id)  # another machine, another person, the same repository
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AMIGO_FEEDBACK__URL", team_url)
    assert cli(["push"]) == 0 and cli(["--db", str(colleague), "push"]) == 0
    with Store(colleague) as store:
        their_person = identity(store, None)[1]
    with TeamStore(team_url) as team:
        assert counts(team)["proposals"] == 7

    assert cli(["purge", "--repo", str(other)]) == 0
    out = capsys.readouterr().out
    assert "this machine: deleted 2 proposals" in out and "team store" in out
    with TeamStore(team_url) as team, Store(db_path(settings)) as mine:
        assert team.query("SELECT COUNT(*) FROM proposals WHERE repo_id = ?", (identify(other).id,))[0][0] == 0
        assert mine.query("SELECT COUNT(*) FROM proposals")[0][0] == 2
        assert counts(team) == {"proposals": 5, "events": 5, "followups": 5}

    assert cli(["purge", "--person", their_person]) == 0
    with TeamStore(team_url) as team:
        assert counts(team) == {"proposals": 2, "events": 2, "followups": 2}
        assert {r[0] for r in team.query("SELECT DISTINCT person_id FROM proposals")} != {their_person}
        assert purge_team(team, person_id="u-nobody").proposals == 0
    assert cli(["purge", "--person", "me"]) == 0
    with TeamStore(team_url) as team, Store(db_path(settings)) as mine:
        assert counts(team)["proposals"] == 0
        assert mine.query("SELECT COUNT(*) FROM proposals")[0][0] == 2  # --person leaves this machine's data


def test_stats_and_export_read_the_team_store(team_url, repo, make, bus, tmp_path, monkeypatch, capsys):
    settings = FeedbackSettings(retention_delay_s=10)
    build(repo, make, bus, settings)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AMIGO_FEEDBACK__URL", team_url)
    assert cli(["stats"]) == 0
    assert "proposals" in capsys.readouterr().out  # an empty team store gives an empty table
    assert cli(["push"]) == 0
    capsys.readouterr()
    assert cli(["stats"]) == 0
    team_table = capsys.readouterr().out
    assert cli(["stats", "--local"]) == 0
    assert capsys.readouterr().out == team_table
    with Store(db_path(settings)) as store:
        assert team_table.strip() == format_table(compute(store)).strip()
    for fmt in ("dpo", "sft"):
        assert cli(["export", "--format", fmt, "--out", str(tmp_path / f"team-{fmt}"), "--test-fraction", "0",
                    "--min-retention", "0"]) == 0
        with Store(db_path(settings)) as store:
            export(store, fmt, tmp_path / f"local-{fmt}", test_fraction=0.0, min_retention=0.0)
        team_rows = (tmp_path / f"team-{fmt}" / "jsonl" / "train.jsonl").read_text()
        assert team_rows and team_rows == (tmp_path / f"local-{fmt}" / "jsonl" / "train.jsonl").read_text()
        manifest = json.loads((tmp_path / f"team-{fmt}" / "manifest.json").read_text())
        assert manifest["counts"]["total"] == len(team_rows.splitlines()) >= 1


def test_a_session_ends_with_a_background_push(team_url, repo, tmp_path):
    """An `amigo edit`-like process that attached the recorder with feedback.url set pushes once it exits."""
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]); "
        "from amigo.events import EventBus, ProposalEvent; from feedback import attach; "
        "from feedback.settings import FeedbackSettings; from feedback_helpers import Maker; "
        "bus = EventBus(); repo = Path(sys.argv[1]); "
        "attach(bus, repo, FeedbackSettings(url=sys.argv[3])); bus.publish(ProposalEvent(Maker(repo)()))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(tmp_path / "state")}
    done = subprocess.run([sys.executable, "-c", script, str(repo), str(Path(__file__).parent), team_url],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    log = tmp_path / "state" / "amigo" / "push.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "pushed" not in (log.read_text() if log.exists() else ""):
        time.sleep(0.2)
    assert "pushed 1 proposals" in log.read_text()
    with TeamStore(team_url) as team:
        assert counts(team)["proposals"] == 1


# -- inline completions ------------------------------------------------------------------------

def test_inline_completions_are_pushed_once_redacted_and_excluded_ones_stay(team_url, repo, bus, tmp_path):
    other = second_repo(tmp_path)
    settings = FeedbackSettings(exclude_repos=[str(other)])
    recorder = attach(bus, repo, FeedbackSettings())
    kept = complete(bus, 2, prefix=f"TOKEN = '{SECRET}'\nx = ")
    recorder.close()
    recorder = attach(bus, other, FeedbackSettings())  # recorded before the exclusion was added
    complete(bus, 1)
    recorder.close()
    db = db_path(settings)
    with Store(db) as store, store.transaction() as conn:  # a suggestion kept under older redaction rules
        conn.execute("UPDATE completions SET suggestion = ?, redaction = NULL WHERE id = ?",
                     (f"token('{SECRET}')", kept[0].id))
        assert SECRET not in conn.execute("SELECT group_concat(prefix) FROM completions").fetchone()[0]

    with Store(db) as store, TeamStore(team_url) as team:
        first = push(store, team, settings)
        assert (first.completions, first.completion_events, first.withheld_completions) == (2, 4, 1)
        assert "1 proposals" not in str(first) and "0 proposals and 1 inline completions of excluded" in str(first)
        assert completion_counts(team) == {"completions": 2, "completion_events": 4}
        assert {r[0] for r in team.query("SELECT DISTINCT repo_id FROM completions")} == {identify(repo).id}
        texts = json.dumps([list(r) for r in team.query("SELECT * FROM completions")])
        assert SECRET not in texts and "[REDACTED:" in texts
        machine, person = identity(store, settings)
        assert {tuple(r) for r in team.query("SELECT DISTINCT machine_id, person_id FROM completion_events")} == {
            (machine, person)}
        again = push(store, team, settings)
        assert (again.completions, again.completion_events) == (0, 0)
    recorder = attach(bus, repo, FeedbackSettings())
    complete(bus, 1, typed=True)  # a new suggestion, and a new event of an old one
    bus.publish(CompletionShownEvent(kept[1]))
    recorder.close()
    with Store(db) as store, TeamStore(team_url) as team:
        third = push(store, team, settings)
        assert (third.completions, third.completion_events) == (1, 3)
        assert completion_counts(team) == {"completions": 3, "completion_events": 7}
        assert store.query("SELECT COUNT(*) FROM completion_events WHERE pushed = 0")[0][0] == 2  # the excluded one


def test_stats_and_export_of_inline_completions_read_the_team_store(team_url, repo, bus, tmp_path, monkeypatch,
                                                                      capsys):
    settings = FeedbackSettings()
    recorder = attach(bus, repo, settings)
    complete(bus, 3)
    complete(bus, 2, typed=True)
    recorder.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AMIGO_FEEDBACK__URL", team_url)
    assert cli(["push"]) == 0
    assert "5 inline completions and 10 of their events" in capsys.readouterr().out
    assert cli(["stats"]) == 0
    team_table = capsys.readouterr().out
    assert "inline completions" in team_table and "smollm2-135m" in team_table
    assert cli(["stats", "--local"]) == 0
    assert capsys.readouterr().out == team_table
    for fmt in ("sft-completions", "dpo-completions"):
        assert cli(["export", "--format", fmt, "--out", str(tmp_path / f"team-{fmt}"), "--test-fraction", "0"]) == 0
        with Store(db_path(settings)) as store:
            export(store, fmt, tmp_path / f"local-{fmt}", test_fraction=0.0)
        team_rows = (tmp_path / f"team-{fmt}" / "jsonl" / "train.jsonl").read_text()
        assert team_rows == (tmp_path / f"local-{fmt}" / "jsonl" / "train.jsonl").read_text()
        assert len(team_rows.splitlines()) == (3 if fmt == "sft-completions" else 2)


# -- purges reach what other machines have not pushed ------------------------------------------

def test_a_purge_covers_rows_other_machines_have_not_pushed_yet(team_url, repo, bus, tmp_path, monkeypatch,
                                                                capsys):
    purged_repo = identify(repo).id
    colleague = tmp_path / "colleague.db"
    fill(colleague, 3, repo_id=purged_repo)
    settings = FeedbackSettings()
    mine = db_path(settings)
    fill(mine, 2, repo_id=purged_repo)
    fill(mine, 2, repo_id="ckept")
    recorder = attach(bus, repo, settings)
    complete(bus, 1)
    recorder.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AMIGO_FEEDBACK__URL", team_url)
    assert cli(["--db", str(colleague), "push"]) == 0
    with TeamStore(team_url) as team:  # the colleague purges the repository: only what they pushed is there
        assert purge_team(team, repo_id=purged_repo).proposals == 3
    capsys.readouterr()

    assert cli(["push"]) == 0  # this machine had not pushed: its rows of that repository stay here
    out = capsys.readouterr().out
    assert "pushed 2 proposals" in out and "0 inline completions" in out
    assert "2 proposals and 1 inline completions were not sent: a purge of the team store covers them" in out
    with TeamStore(team_url) as team, Store(mine) as store:
        assert team.query("SELECT COUNT(*) FROM proposals WHERE repo_id = ?", (purged_repo,))[0][0] == 0
        assert completion_counts(team) == {"completions": 0, "completion_events": 0}
        assert store.query("SELECT COUNT(*) FROM proposals WHERE pushed = 2")[0][0] == 2
        with store.transaction() as conn:  # later events of a held-back proposal stay too
            held = conn.execute("SELECT id FROM proposals WHERE pushed = 2 LIMIT 1").fetchone()[0]
            records.write_event(conn, held, "stale", {"path": "calc.py"})
        later = Maker(None)()  # made after the purge: new feedback on that repository goes as usual
        with store.transaction() as conn:
            records.write_proposal(conn, records.proposal_row(later, purged_repo))
        result = push(store, team, settings)
        assert (result.proposals, result.events, result.purged) == (1, 0, 0)

        me = identity(store, settings)[1]
        sent = store.query("SELECT id FROM proposals WHERE pushed = 1 ORDER BY rowid LIMIT 1")[0][0]
        assert purge_team(team, person_id=me).proposals == 3
        with store.transaction() as conn:  # an event of a proposal the person purge removed from the team
            records.write_event(conn, sent, "accepted", {"hunks": None, "commit": None, "final_texts": {}})
        with store.transaction() as conn:  # made before the person purge, recorded after it: never pushed
            records.write_proposal(conn, records.proposal_row(Maker(None)(created_at=time.time() - 60), "ckept"))
        result = push(store, team, settings)  # no foreign-key error: the purged proposal is marked, not sent to
        assert (result.proposals, result.events, result.purged) == (0, 0, 1)
        assert counts(team)["proposals"] == 0
        assert store.query("SELECT COUNT(*) FROM proposals")[0][0] == 6  # a team purge deletes nothing here


def test_a_push_batch_stops_when_a_purge_lands_while_it_runs(team_url, tmp_path):
    db = tmp_path / "feedback.db"
    fill(db, 2)
    with Store(db) as store, TeamStore(team_url) as team:
        purges = Purges(identity(store, None)[1])
        purges.apply(store, team)
        with team.transaction() as conn:
            purges.check(conn)  # nothing new: the batch may go
        purge_team(team, repo_id="cbulk")
        with pytest.raises(PurgesChanged), team.transaction() as conn:
            purges.check(conn)
        assert purges.apply(store, team) == (2, 0)

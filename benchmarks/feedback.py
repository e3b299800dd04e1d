"""Feedback store figures, SQLite and the PostgreSQL team store side by side in one run.

    python benchmarks/feedback.py [--events 2000] [--proposals 100000] [--dir TMP] [--pg-url URL | --no-pg]

SQLite: writers are separate processes, each with the real recorder attached
to a real EventBus, publishing RejectedEvents (one transaction each, redaction
included): events/s with 1 and 4 writer processes. The export figure fills a
database with N proposals (half of them retried, the retry accepted and
retained) and times the DPO and SFT exports (JSON Lines + Parquet).

PostgreSQL: the recorder never writes there (local first), so its writers are
machines pushing: 1 and 4 ``amigo feedback push`` processes at once, each
sending its own copy of the 1-writer database under its own machine id
(events/s = events that reached the team store per second of wall time); push
throughput sends the N-proposal database (every text redacted again on the
way); the export reads the same N proposals back from the team store. Without
``--pg-url`` a throwaway server is started from Debian's binaries (the test
suite's helper). Inline completions: a database of M suggestions (each shown,
then accepted) is pushed, and ``sft-completions`` exported back from the team
store. Nothing here asserts a time: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from amigo.events import EventBus, FileChange, Proposal, RejectedEvent, Suggestion  # noqa: E402
from amigo.prompt import EditRequest, build_messages  # noqa: E402


def sample_file(i: int, lines: int = 60) -> str:
    """A Python file of ``lines`` lines, different for every ``i``."""
    body = [f"def handler_{i}_{n}(request, value={n}):\n    return process(request, value + {i})\n"
            for n in range(lines // 2)]
    return "".join(body)


def sample_proposal(i: int, parent: str | None = None, tag: str = "") -> Proposal:
    text = sample_file(i)
    new = text.replace(f"value + {i})", f"value + {i} + 1)", 1)
    request = EditRequest(instruction=f"fix the off-by-one in handler {i}", path=f"pkg/mod_{i % 97}.py",
                          file_text=text)
    answer = f"pkg/mod_{i % 97}.py\n<<<<<<< SEARCH\n    return process(request, value + {i})\n=======\n" \
             f"    return process(request, value + {i} + 1){tag}\n>>>>>>> REPLACE\n"
    return Proposal(id=f"p{i}{tag}", request=request, messages=tuple(build_messages(request)), answer=answer,
                    changes=(FileChange(request.path, text, new, None),), diff=answer, model="bench-model",
                    latency_s=1.0, prompt_tokens=900, completion_tokens=60, parent_id=parent)


def writer(db: str, count: int, report: str) -> None:
    from feedback import attach
    from feedback.settings import FeedbackSettings

    bus = EventBus()
    recorder = attach(bus, None, FeedbackSettings(db_path=db))
    assert recorder is not None
    proposal = sample_proposal(os.getpid())
    bus.publish(RejectedEvent(proposal, reason="warm-up"))
    start = time.perf_counter_ns()
    for i in range(count):
        bus.publish(RejectedEvent(proposal, reason=f"r{i}"))
    end = time.perf_counter_ns()
    recorder.close()
    Path(report).write_text(json.dumps({"start": start, "end": end, "count": count}))


def events_per_s(base: Path, writers: int, count: int) -> float:
    db = base / f"writers{writers}.db"
    reports = [base / f"w{writers}-{i}.json" for i in range(writers)]
    procs = [subprocess.Popen([sys.executable, __file__, "--writer", str(db), str(count), str(r)])
             for r in reports]
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit("a writer failed")
    data = [json.loads(r.read_text()) for r in reports]
    wall = (max(d["end"] for d in data) - min(d["start"] for d in data)) / 1e9
    return sum(d["count"] for d in data) / wall


def fill(db: Path, n: int) -> float:
    """n proposals: pairs (retried, accepted+retained). Returns seconds taken."""
    from feedback import records
    from feedback.redact import RULES
    from feedback.store import Store

    started = time.perf_counter()
    identity = lambda s: s  # noqa: E731 - the fill times the export, not redaction
    now = time.time()
    with Store(db) as store:
        batch = 2000
        for lo in range(0, n, batch):
            with store.transaction() as conn:
                for i in range(lo, min(n, lo + batch), 2):
                    bad = sample_proposal(i, tag="")
                    good = sample_proposal(i, parent=bad.id, tag="-retry")
                    for p in (bad, good):
                        records.write_proposal(conn, records.proposal_row(p, "cbench", identity))
                    records.write_event(conn, bad.id, "retried", {"new_proposal_id": good.id}, now)
                    records.write_event(conn, good.id, "accepted", {"hunks": None, "commit": None,
                                                                    "final_texts": {}}, now)
                    records.open_followup(conn, good.id, "retention", now, now)
                    conn.execute("UPDATE followups SET status = 'done', retention = 1.0 WHERE proposal_id = ?",
                                 (good.id,))
            with store.transaction() as conn:  # the sample texts hold no secret: redact() leaves them as they are
                conn.execute("UPDATE proposals SET redaction = ?", (RULES,))
                conn.execute("UPDATE events SET redaction = ?", (RULES,))
        store.compact()
    return time.perf_counter() - started


def fill_completions(db: Path, n: int) -> float:
    """n inline completions, each shown then accepted, as the recorder writes them. Returns seconds taken."""
    from feedback import records
    from feedback.redact import RULES
    from feedback.store import Store

    started = time.perf_counter()
    now = time.time()
    with Store(db) as store:
        for lo in range(0, n, 2000):
            with store.transaction() as conn:
                for i in range(lo, min(n, lo + 2000)):
                    text = sample_file(i, lines=20)
                    s = Suggestion(f"c{i}", f"pkg/mod_{i % 97}.py", "python", text, "\n", f"process(request, {i})",
                                   "line", "fim:qwen", f"<|fim_prefix|>{text}<|fim_suffix|>\n<|fim_middle|>",
                                   "bench-model", latency_s=0.2, created_at=now)
                    row = records.completion_row(s, "cbench", lambda t: t)
                    records.write_completion(conn, row, "shown", {}, now)
                    records.write_completion(conn, row, "accepted", {"accepted": s.text, "partial": False}, now)
            with store.transaction() as conn:  # the sample texts hold no secret: redact() leaves them as they are
                conn.execute("UPDATE completions SET redaction = ?", (RULES,))
                conn.execute("UPDATE completion_events SET redaction = ?", (RULES,))
    return time.perf_counter() - started


def redaction_cost(db: Path, rows: int = 200) -> float:
    """Seconds per proposal that a push spends redacting a row kept under older rules again."""
    from feedback.push import redact_proposal
    from feedback.store import Store

    with Store(db) as store:
        sample = [dict(r) for r in store.query("SELECT * FROM proposals LIMIT ?", (rows,))]
    started = time.perf_counter()
    for row in sample:
        redact_proposal(dict(row, redaction=None))
    return (time.perf_counter() - started) / len(sample)


def machine_copies(src: Path, n: int) -> list[Path]:
    """``n`` copies of a writer database, each as another machine's (own machine id, own proposal ids)."""
    out = []
    for i in range(n):
        dst = src.with_name(f"machine{i}-of-{n}.db")
        with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
            a.backup(b)
        conn = sqlite3.connect(dst, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("BEGIN")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'machine_id'", (f"mbench{i}of{n}",))
        for table, column in (("proposals", "id"), ("events", "proposal_id"), ("followups", "proposal_id")):
            conn.execute(f"UPDATE {table} SET {column} = {column} || ?", (f"-m{i}of{n}",))
        conn.execute("COMMIT")
        conn.close()
        out.append(dst)
    return out


def pushed_events_per_s(dbs: list[Path], url: str) -> tuple[float, int, float]:
    """Push each database from its own process at once: (events/s, events sent, seconds of the slowest push).

    The seconds are what each push reports of itself (Python's start-up is not counted); the pushes run
    side by side, so the slowest one's time is the wall time of the whole."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AMIGO_FEEDBACK__URL": url}
    procs = [subprocess.Popen([sys.executable, "-m", "feedback.cli", "--db", str(db), "push", "--quiet"], env=env,
                              stdout=subprocess.PIPE, text=True) for db in dbs]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("a push failed")
    sent = sum(int(out.split(" proposals, ")[1].split()[0]) for out in outs)
    slowest = max(float(out.split(" in ")[1].split(" s ")[0]) for out in outs)
    return sent / slowest, sent, slowest


def export_times(store: object, base: Path, label: str, proposals: int) -> None:
    from feedback.export import export

    for fmt in ("dpo", "sft"):
        started = time.perf_counter()
        result = export(store, fmt, base / f"out-{label}-{fmt}", test_fraction=0.05)  # type: ignore[arg-type]
        took = time.perf_counter() - started
        print(f"{label}: export {fmt}: {result.manifest['counts']['total']:,} examples from "
              f"{proposals:,} proposals in {took:.1f} s (JSON Lines + Parquet)", flush=True)


def team_server(args: argparse.Namespace, base: Path) -> tuple[str, object | None]:
    """(URL, server to stop or None): --pg-url, else a throwaway local server."""
    if args.pg_url:
        return args.pg_url, None
    sys.path.insert(0, str(ROOT / "tests" / "feedback"))
    from postgres_server import PASSWORD, PgServer, _free_port, pg_bin

    bindir = pg_bin()
    if bindir is None:
        raise SystemExit("no PostgreSQL binaries: apt-get install postgresql, or pass --pg-url or --no-pg")
    folder = Path(tempfile.mkdtemp(prefix="amigo-pg-"))
    server = PgServer(bindir, folder, _free_port())
    server.start()
    os.environ["AMIGO_FEEDBACK_PASSWORD"] = PASSWORD
    return server.url(server.create_database()), server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per writer")
    parser.add_argument("--proposals", type=int, default=100_000)
    parser.add_argument("--dir", help="work folder (default: a temporary one)")
    parser.add_argument("--completions", type=int, default=20_000, help="inline completions pushed (PostgreSQL)")
    parser.add_argument("--pg-url", help="a PostgreSQL database to use (default: start a throwaway server)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite rows only")
    parser.add_argument("--writer", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        writer(args.writer[0], int(args.writer[1]), args.writer[2])
        return 0
    from feedback.store import Store

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        base = Path(tmp)
        print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}", flush=True)
        url, server = (None, None) if args.no_pg else team_server(args, base)
        try:
            for writers in (1, 4):
                rate = events_per_s(base, writers, args.events)
                print(f"sqlite: events/s with {writers} writer(s): {rate:,.0f}  ({writers} x {args.events} events)",
                      flush=True)
            if url:
                for machines in (1, 4):
                    rate, sent, _ = pushed_events_per_s(machine_copies(base / "writers1.db", machines), url)
                    print(f"postgresql: events/s with {machines} machine(s) pushing at once: {rate:,.0f}  "
                          f"({sent:,} events)", flush=True)
            db = base / "export.db"
            took = fill(db, args.proposals)
            size = db.stat().st_size
            print(f"filled {args.proposals:,} proposals in {took:.1f} s; "
                  f"db size {size / 1e6:.1f} MB = {size / (args.proposals / 1000) / 1e6:.2f} MB per 1k proposals "
                  f"(prompt of ~{len(json.dumps(sample_proposal(1).messages)) / 1000:.1f} kB each)", flush=True)
            with Store(db) as store:
                export_times(store, base, "sqlite", args.proposals)
            if url:
                _, _, took = pushed_events_per_s([db], url)
                print(f"postgresql: push of {args.proposals:,} proposals (+ their events and follow-ups) in "
                      f"{took:.1f} s = {args.proposals / took:,.0f} proposals/s, {size / 1e6 / took:.1f} MB/s of "
                      "local database (rows stored under today's redaction rules)", flush=True)
                print(f"postgresql: a row kept under older redaction rules costs {redaction_cost(db) * 1000:.0f} ms "
                      "more per proposal (redacted again before it leaves)", flush=True)
                from feedback.team import TeamStore

                with TeamStore(url) as team:
                    export_times(team, base, "postgresql", args.proposals)
                completions_db = base / "completions.db"
                fill_completions(completions_db, args.completions)
                _, _, took = pushed_events_per_s([completions_db], url)
                print(f"postgresql: push of {args.completions:,} inline completions (+ {2 * args.completions:,} "
                      f"events) in {took:.1f} s = {args.completions / took:,.0f} completions/s", flush=True)
                from feedback.export import export

                with TeamStore(url) as team:
                    started = time.perf_counter()
                    result = export(team, "sft-completions", base / "out-completions", test_fraction=0.05)
                    print(f"postgresql: export sft-completions: {result.manifest['counts']['total']:,} examples "
                          f"in {time.perf_counter() - started:.1f} s (JSON Lines + Parquet)", flush=True)
        finally:
            if server is not None:
                server.stop()  # type: ignore[attr-defined]
                shutil.rmtree(server.folder, ignore_errors=True)  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())

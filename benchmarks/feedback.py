"""Feedback store figures: events/s with 1 and 4 writer processes, export time, size per 1k proposals.

    python benchmarks/feedback.py [--events 2000] [--proposals 100000] [--dir TMP]

Writers are separate processes, each with the real recorder attached to a
real EventBus, publishing RejectedEvents (one transaction each, redaction
included). The export figure fills a database with N proposals (half of them
retried, the retry accepted and retained) and times the DPO and SFT exports
(JSON Lines + Parquet). Nothing here asserts a time: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from amigo.events import EventBus, FileChange, Proposal, RejectedEvent  # noqa: E402
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
        store.compact()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per writer")
    parser.add_argument("--proposals", type=int, default=100_000)
    parser.add_argument("--dir", help="work folder (default: a temporary one)")
    parser.add_argument("--writer", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        writer(args.writer[0], int(args.writer[1]), args.writer[2])
        return 0
    from feedback.export import export
    from feedback.store import Store

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        base = Path(tmp)
        print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
        for writers in (1, 4):
            rate = events_per_s(base, writers, args.events)
            print(f"events/s with {writers} writer(s): {rate:,.0f}  ({writers} x {args.events} events)")
        db = base / "export.db"
        took = fill(db, args.proposals)
        size = db.stat().st_size
        print(f"filled {args.proposals:,} proposals in {took:.1f} s; "
              f"db size {size / 1e6:.1f} MB = {size / (args.proposals / 1000) / 1e6:.2f} MB per 1k proposals "
              f"(prompt of ~{len(json.dumps(sample_proposal(1).messages)) / 1000:.1f} kB each)")
        with Store(db) as store:
            for fmt in ("dpo", "sft"):
                started = time.perf_counter()
                result = export(store, fmt, base / f"out-{fmt}", test_fraction=0.05)
                took = time.perf_counter() - started
                print(f"export {fmt}: {result.manifest['counts']['total']:,} examples from "
                      f"{args.proposals:,} proposals in {took:.1f} s (JSON Lines + Parquet)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

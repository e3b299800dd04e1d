"""What each kind of repair ask brings back: new answers, answers already turned down, the one kept.

    python benchmarks/repair_asks.py                                   # embedded model, both task files
    python benchmarks/repair_asks.py --source /tmp/old-checkout        # the engine of another checkout
    python benchmarks/repair_asks.py --format blocks --decoding free   # another row of the trust grid
    python benchmarks/repair_asks.py --summarize run.jsonl             # the table of a saved run

The repair loop (amigo.engine) may send a repair round's candidates three
kinds of request: the *conversation* (the request, the failed answer, the
problem), the request *restated* with the problem and without the failed
answer, or the *original* request asked afresh. A small model shown its own
failed answer tends to write it again word for word; a candidate that does
is a slot of the round spent on an answer already known to fail. This runs
every task once through the real engine (``repair_attempts`` 2, 4
candidates by default, the server started warm once) and sorts each answer
of a repair round by the kind of request that asked for it:

* ``repeated``: the same text, but for blank space around it, as an answer
  of the same task seen before it (in an earlier round, or from a candidate
  of the same round with a lower number);
* ``failed``: a new answer that was turned down;
* ``kept``: the answer the task ended with, when it passed.

and counts the answers that ran into ``max_tokens`` (the server's finish
reason ``length``: a round waits for those to the end) and those the engine
stopped early, a loop or a syntax error nothing after could fix (finish
reason ``repetition`` or ``syntax-error``).

Everything comes from the engine's public events (AttemptFailedEvent for the
turned-down answers, the proposal ``propose`` returns), so ``--source`` can
point at a checkout of an earlier commit (``git worktree add``) and measure
its engine the same way, side by side. Answers that passed but lost, and
candidates whose streams were closed once one passed, are in no event and so
in no column. Per-task records go to ``--out``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
KINDS = ("conversation", "restated", "original")


RESTATED_MARK = "## An earlier answer was turned down"  # amigo.prompt.TURNED_DOWN_HEADING (--source may predate it)


def kind_of(messages: list[dict] | tuple[dict, ...]) -> str:
    """Which kind of repair request ``messages`` is (see the module docstring)."""
    if any(m["role"] == "assistant" for m in messages):
        return "conversation"
    return "restated" if RESTATED_MARK in messages[-1]["content"] else "original"


def sorted_answers(failed: list[Any], final: Any) -> list[dict[str, Any]]:
    """One row per answer of a repair round: its round, kind and fate. ``failed``: the turned-down
    proposals in the order the engine published them; ``final``: the proposal shown."""
    answers = sorted([*failed, final], key=lambda p: (p.attempt, p.id))
    seen: set[str] = set()
    rows = []
    for p in answers:
        text = p.answer.strip()
        if p.attempt > 1:
            fate = "kept" if p is final and p.passes else ("repeated" if text in seen else "failed")
            rows.append({"attempt": p.attempt, "kind": kind_of(p.messages), "fate": fate,
                         "cut": p.finish_reason == "length",
                         "stopped": p.finish_reason in ("repetition", "syntax-error")})
        seen.add(text)
    return rows


def summarize(records: list[dict[str, Any]]) -> str:
    """The table: per kind of ask, the repair-round answers by fate, and the tasks' end."""
    counts: collections.Counter = collections.Counter()
    for record in records:
        for row in record["answers"]:
            counts[row["kind"], row["fate"]] += 1
            counts[row["kind"], "cut"] += row.get("cut", False)
            counts[row["kind"], "stopped"] += row.get("stopped", False)  # not in records of older runs
    lines = ["| ask | answers | repeated | failed (new) | kept | ran into max_tokens | stopped early |",
             "|---|---|---|---|---|---|---|"]
    for kind in KINDS:
        total = sum(counts[kind, fate] for fate in ("repeated", "failed", "kept"))
        if total:
            lines.append(f"| {kind} | {total} | {counts[kind, 'repeated']} | {counts[kind, 'failed']} | "
                         f"{counts[kind, 'kept']} | {counts[kind, 'cut']} | {counts[kind, 'stopped']} |")
    passed = sum(r["passes"] for r in records)
    repaired = sum(r["passes"] and r["attempt"] > 1 for r in records)
    seconds = sum(r["seconds"] for r in records)
    lines.append(f"\n{passed}/{len(records)} tasks end on an answer that passes ({repaired} of them after a repair "
                 f"round); {seconds:.0f} s in all.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=Path, nargs="+",
                        default=[REPO / "benchmarks/data/edit_tasks.jsonl", REPO / "benchmarks/data/history_tasks.jsonl"],
                        help="JSON-lines task files (as for trust.py)")
    parser.add_argument("--limit", type=int, default=0, help="the first N tasks (0: all)")
    parser.add_argument("--source", type=Path, default=REPO,
                        help="the checkout whose engine (its amigo package) is measured")
    parser.add_argument("--format", default="whole", choices=("whole", "blocks"))
    parser.add_argument("--decoding", default="constrained", choices=("free", "constrained"))
    parser.add_argument("--repair", type=int, default=2, help="repair_attempts")
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=320)
    parser.add_argument("--parallel", type=int, default=4, help="llama-server slots")
    parser.add_argument("--out", type=Path, default=Path("repair-asks.jsonl"))
    parser.add_argument("--summarize", type=Path, nargs="+", help="print the table of saved runs and stop")
    args = parser.parse_args(argv)
    if args.summarize:
        print(summarize([json.loads(line) for path in args.summarize for line in path.read_text().splitlines()
                         if line]))
        return 0
    sys.path.insert(0, str(args.source.resolve()))  # before anything imports amigo
    from amigo.client import ChatClient
    from amigo.config import EMBEDDED_MODEL, Config
    from amigo.engine import EditSession
    from amigo.events import AttemptFailedEvent
    from amigo.serve import ServerProcess
    from amigo.workspace import Workspace

    sys.path.insert(1, str(REPO / "benchmarks"))
    from trust import load_tasks, task_repo

    tasks = load_tasks(args.tasks, args.limit or None)
    print(f"# {len(tasks)} tasks; engine of {args.source}; {args.format}/{args.decoding}, repair {args.repair}, "
          f"{args.candidates} candidates; load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs", flush=True)
    server = ServerProcess(port=0, n_ctx=4096, backend="llama-server", parallel=args.parallel)
    server.start(timeout=180)
    records = []
    try:
        with tempfile.TemporaryDirectory(prefix="amigo-repair-asks-") as tmp, args.out.open("w") as out:
            for t, task in enumerate(tasks):
                config = Config(endpoint=server.base_url, model=EMBEDDED_MODEL, edit_format=args.format,
                                decoding=args.decoding, context_budget=0, repair_attempts=args.repair,
                                candidates=args.candidates, max_tokens=args.max_tokens, read_timeout=600.0)
                root = task_repo(Path(tmp) / f"t{t}", task)
                session = EditSession(config, Workspace(root),
                                      ChatClient(server.base_url, EMBEDDED_MODEL, read_timeout=600.0, retries=1))
                failed: list[Any] = []
                session.events.subscribe(
                    lambda e: failed.append(e.proposal) if isinstance(e, AttemptFailedEvent) else None)
                request = session.make_request(task["instruction"], task["path"])
                started = time.monotonic()
                try:
                    final = session.propose(request)
                finally:
                    session.close()
                record = {"task": task["id"], "passes": final.passes, "attempt": final.attempt,
                          "seconds": time.monotonic() - started,
                          "answers": sorted_answers(failed, final)}
                records.append(record)
                out.write(json.dumps(record) + "\n")
                out.flush()
                print(f"{task['id']:32} {'passes' if final.passes else 'refused':8} attempt {final.attempt} "
                      f"{record['seconds']:5.1f} s", flush=True)
    finally:
        server.stop()
    print(f"\n# load average at the end {os.getloadavg()[0]:.2f}\n")
    print(summarize(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

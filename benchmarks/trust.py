"""Edits you can trust: what `amigo edit --yes` would write, with and without the check stage,
the repair loop and several candidates.

    python benchmarks/trust.py --limit 6                     # embedded model (started here), 6 tasks
    python benchmarks/trust.py --endpoint URL --model NAME   # any OpenAI-compatible server
    python benchmarks/trust.py --combos whole/free --repairs 0,2 --candidates 1,4
    python benchmarks/trust.py --summarize trust-run.jsonl   # the table of a saved run

Every task (a real standard-library function and an instruction, from
benchmarks/data/edit_tasks.jsonl) becomes its own small git repository, and
the real engine (amigo.engine.EditSession) is asked with every combination of
edit format, decoding, ``repair_attempts`` and ``candidates``. The outcome is
what ``--yes`` does with the proposal it returns:

* applied+parses: written, and the new file is valid Python (``ast.parse``);
* applied+broken: written, and the file no longer parses;
* refused: nothing written (the answer did not apply, or its checks failed).

The repair-0 rows come from the first round of the repair-2 runs (the same
greedy answers and checks; ``repair_attempts = 0`` stops there), timed up to
the moment the engine asked again, so each answer is generated once.
For the runs with repair 0 and one candidate the table also shows what was
written before the check stage existed (the same answer, written whenever it
applied): that is the "checks off" row. ``expected`` counts written changes
containing a substring a correct edit has (the task's ``expect``).
Per-task records go to ``--out`` (JSON lines) so that a run can be inspected.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from amigo.client import ChatClient  # noqa: E402
from amigo.config import Config  # noqa: E402
from amigo.engine import EditSession  # noqa: E402
from amigo.errors import ModelServerError  # noqa: E402
from amigo.events import AttemptFailedEvent, RepairEvent  # noqa: E402
from amigo.workspace import Workspace  # noqa: E402

DEFAULT_TASKS = REPO / "benchmarks" / "data" / "edit_tasks.jsonl"


@dataclass
class Outcome:
    task: str
    edit_format: str
    decoding: str
    repair: int
    candidates: int
    outcome: str  # applied+parses | applied+broken | refused | error
    unchecked: str  # what --yes wrote before the check stage: applied+parses | applied+broken | refused
    expected: bool
    attempts: int
    seconds: float
    detail: str = ""


def load_tasks(path: Path, limit: int | None) -> list[dict[str, Any]]:
    tasks = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return tasks[:limit] if limit else tasks


def parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def task_repo(folder: Path, task: dict[str, Any]) -> Path:
    """A one-commit git repository holding the task's file."""
    root = folder / task["id"].replace("/", "_")
    root.mkdir(parents=True)
    (root / task["path"]).write_text(task["file_text"], encoding="utf-8")
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@amigo.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@amigo.invalid"}
    for args in (["init", "-q", "-b", "main"], ["add", task["path"]], ["commit", "-q", "-m", "task"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env, capture_output=True)
    return root


def written(proposal: Any, checked: bool) -> str:
    """What ``--yes`` does with ``proposal``: the outcome label."""
    if not proposal.ok or (checked and proposal.broken):
        return "refused"
    return "applied+parses" if all(parses(c.new_text) for c in proposal.changes) else "applied+broken"


def run_one(endpoint: str, model: str, task: dict[str, Any], folder: Path, fmt: str, decoding: str,
            repair: int, candidates: int, max_tokens: int) -> list[Outcome]:
    """The task through the engine with ``repair`` attempts; also the repair-0 outcome, which is
    the loop's first round (the same greedy answers and checks: with ``repair_attempts = 0`` the
    engine stops there), timed up to the moment it asked again."""
    config = Config(endpoint=endpoint, model=model, edit_format=fmt, decoding=decoding, context_budget=0,
                    repair_attempts=repair, candidates=candidates, max_tokens=max_tokens, read_timeout=600.0)
    root = task_repo(folder, task)
    session = EditSession(config, Workspace(root), ChatClient(endpoint, model, read_timeout=600.0, retries=1))
    repaired_at: list[float] = []
    failed: dict[str, Any] = {}

    def listen(event: object) -> None:
        if isinstance(event, RepairEvent):
            repaired_at.append(time.monotonic())
        elif isinstance(event, AttemptFailedEvent):
            failed[event.proposal.id] = event.proposal

    session.events.subscribe(listen)
    started = time.monotonic()
    try:
        proposal = session.propose(session.make_request(task["instruction"], task["path"]))
    except ModelServerError as exc:
        seconds = time.monotonic() - started
        return [Outcome(task["id"], fmt, decoding, r, candidates, "error", "error", False, 1, seconds, str(exc)[:200])
                for r in sorted({0, repair})]
    finally:
        session.close()
    seconds = time.monotonic() - started
    first = proposal
    while first.attempt > 1:
        first = failed[first.parent_id]
    results = [outcome_of(task, fmt, decoding, repair, candidates, proposal, seconds)]
    if repair:
        first_seconds = (repaired_at[0] if repaired_at else time.monotonic()) - started
        results.insert(0, outcome_of(task, fmt, decoding, 0, candidates, first,
                                     first_seconds if repaired_at else seconds))
    return results


def outcome_of(task: dict[str, Any], fmt: str, decoding: str, repair: int, candidates: int, proposal: Any,
               seconds: float) -> Outcome:
    outcome = written(proposal, checked=True)
    expected = outcome == "applied+parses" and task.get("expect", "") in proposal.changes[0].new_text
    detail = "; ".join(proposal.errors)[:200] or "; ".join(str(f) for f in proposal.findings)[:200]
    return Outcome(task["id"], fmt, decoding, repair, candidates, outcome, written(proposal, checked=False),
                   expected, proposal.attempt, seconds, detail)


def summarize(outcomes: list[Outcome]) -> str:
    """The markdown table: one row per configuration (and a checks-off row for repair 0, 1 candidate)."""
    rows = ["| format | decoding | repair | candidates | checks | applied+parses | applied+broken | refused "
            "| expected | s/task |", "|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(o.edit_format, o.decoding, o.repair, o.candidates) for o in outcomes})
    for fmt, dec, repair, cand in keys:
        group = [o for o in outcomes if (o.edit_format, o.decoding, o.repair, o.candidates) == (fmt, dec, repair, cand)]
        n = len(group)
        secs = sum(o.seconds for o in group) / n
        variants = [("on", "outcome")] + ([("off", "unchecked")] if repair == 0 and cand == 1 else [])
        for checks, field in variants:
            count = {k: sum(getattr(o, field) == k for o in group) for k in ("applied+parses", "applied+broken")}
            refused = n - sum(count.values())
            expected = sum(o.expected for o in group) if checks == "on" else "-"
            rows.append(f"| {fmt} | {dec} | {repair} | {cand} | {checks} | {count['applied+parses']}/{n} "
                        f"| {count['applied+broken']}/{n} | {refused}/{n} | {expected} | {secs:.1f} |")
    return "\n".join(rows)


def configurations(args: argparse.Namespace) -> Iterator[tuple[str, str, int, int]]:
    """(format, decoding, repair, candidates) to run, every format/decoding pair with one candidate
    first (a run cut short still covers them all); a repair-0 run is
    left out when the same configuration with repairs is run (its first round is repair 0)."""
    repairs = sorted({int(x) for x in args.repairs.split(",")})
    for cand in (int(x) for x in args.candidates.split(",")):
        for fmt, dec in (spec.split("/") for spec in args.combos.split(",")):
            for repair in repairs:
                if repair == 0 and max(repairs) > 0:
                    continue
                yield fmt, dec, repair, cand


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=Path, default=DEFAULT_TASKS)
    parser.add_argument("--limit", type=int, default=6, help="the first N tasks (0: all)")
    parser.add_argument("--endpoint", help="an OpenAI-compatible /v1 URL (default: start the embedded model)")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--combos", default="whole/free,whole/constrained,blocks/free,blocks/constrained",
                        help="format/decoding pairs, in the order to run")
    parser.add_argument("--repairs", default="0,2")
    parser.add_argument("--candidates", default="1,4")
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--out", type=Path, default=Path("trust-run.jsonl"))
    parser.add_argument("--summarize", type=Path, help="print the table of a saved run and stop")
    args = parser.parse_args(argv)
    if args.summarize:
        print(summarize([Outcome(**json.loads(line)) for line in args.summarize.read_text().splitlines() if line]))
        return 0
    tasks = load_tasks(args.tasks, args.limit or None)
    load = os.getloadavg()[0]
    print(f"# {len(tasks)} tasks from {args.tasks.name}; load average {load:.2f}; {os.cpu_count()} CPUs", flush=True)
    outcomes: list[Outcome] = []
    server = None
    if args.endpoint is None:
        from amigo.serve import ServerProcess

        server = ServerProcess(n_ctx=4096)
        server.start(timeout=180)
        args.endpoint = server.base_url
    try:
        with tempfile.TemporaryDirectory(prefix="amigo-trust-") as tmp, args.out.open("w") as out:
            for k, (fmt, dec, repair, cand) in enumerate(configurations(args)):
                for task in tasks:
                    for outcome in run_one(args.endpoint, args.model, task, Path(tmp) / f"c{k}", fmt, dec, repair,
                                           cand, args.max_tokens):
                        outcomes.append(outcome)
                        out.write(json.dumps(asdict(outcome)) + "\n")
                        out.flush()
                        print(f"{fmt:6} {dec:11} r{outcome.repair} c{cand} {task['id']:28} {outcome.outcome:15} "
                              f"(unchecked {outcome.unchecked}) {outcome.attempts} attempt(s) "
                              f"{outcome.seconds:5.1f} s", flush=True)
    finally:
        if server is not None:
            server.stop()
    print(f"\n# load average at the end {os.getloadavg()[0]:.2f}\n")
    print(summarize(outcomes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

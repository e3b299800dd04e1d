"""Edits you can trust: what `amigo edit --yes` would write, with and without the check stage,
the repair loop and several candidates.

    python benchmarks/trust.py --limit 6                     # embedded model (started here), 6 tasks
    python benchmarks/trust.py --endpoint URL --model NAME   # any OpenAI-compatible server
    python benchmarks/trust.py --combos whole/free --runs 0x1,2x4   # (repair attempts)x(candidates)
    python benchmarks/trust.py --runs 0x1,2x4,2x4t           # 2x4t: the task's checks as check command
    python benchmarks/trust.py --skip 6 --out more.jsonl     # go on after the first 6 tasks
    python benchmarks/trust.py --summarize trust-run.jsonl more.jsonl   # the table of saved runs

Every task (a real standard-library function and an instruction, from
benchmarks/data/edit_tasks.jsonl) becomes its own small git repository, and
the real engine (amigo.engine.EditSession) is asked with every combination of
edit format, decoding, ``repair_attempts`` and ``candidates``. The outcome is
what ``--yes`` does with the proposal it returns:

* applied+parses: written, and the new file is valid Python: it compiles (which runs nothing and
  also refuses what the parser alone takes, such as ``return`` outside a function; records made
  before commit 16dbeab judged with ``ast.parse``);
* applied+broken: written, and the file no longer compiles;
* refused: nothing written (the answer did not apply, or its checks failed).

With ``--cold`` the server is restarted before each task and configuration:
llama-server keeps evaluated prompts in its slots and in a prompt cache in
memory, so without it a configuration may reuse the prompt the configuration
before it evaluated, which no person's first request can.

Every task runs every configuration before the next task starts (in turn
forwards and backwards), so a change of machine load hits all of them alike
and the time ratios are side by side. A run with repairs also gives the row
of its first round (``repair_attempts = 0`` stops there: the same answers and
checks), timed up to the moment the engine asked again, unless that
configuration is run itself. For the runs with repair 0 and one candidate the
table also shows what was written before the check stage existed (the same
answer, written whenever it applied): that is the "checks off" row.
``expected`` counts written changes that add the substring a correct edit has
(the task's ``expect`` occurs more often than before): a rough signal that the
change does what was asked. ``asked`` is the real one: written changes that
pass the task's behaviour checks (benchmarks/task_checks.py, run in the
evaluation sandbox): the asked change is there and nothing else broke. A run
written with a trailing ``t`` (``--runs 2x4t``) also makes those checks the
configuration's ``check_command`` (as a person's ``pytest -x -q`` would be), so
their failures feed the repair loop: those rows say ``on+tests``. Per-task records go to ``--out`` (JSON lines) so
that a run can be inspected, and ``--summarize`` makes the table of a run cut
short. A record with repairs also holds its rounds: when each ended and the
problem of each answer it turned down (where the time went, and what a rule
that stops repairing early would have cost, can be read off them).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from amigo.checks import python_syntax_error  # noqa: E402
from amigo.client import ChatClient  # noqa: E402
from amigo.config import Config  # noqa: E402
from amigo.engine import EditSession  # noqa: E402
from amigo.errors import ModelServerError  # noqa: E402
from amigo.events import AttemptFailedEvent, RepairEvent  # noqa: E402
from amigo.workspace import Workspace  # noqa: E402
from amigo_train.eval.sandbox import Sandbox  # noqa: E402
from benchmarks.task_checks import passes, read_tasks  # noqa: E402

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
    # with repairs: one entry per round, {"ended": seconds from the start, "answers": [[candidate,
    # finish reason, completion tokens (when the server counted that answer's alone), problem], ...]
    # of the round's turned-down answers}; records before this field have none
    rounds: list[dict[str, Any]] | None = None
    # whether the written change passes the task's behaviour checks (None: nothing written that
    # parses, or a record from before the checks existed)
    asked: bool | None = None
    tests: bool = False  # the task's checks were the check command (their failures fed the repair loop)
    text: str | None = None  # the written file, when it parses (to judge it again with better checks)


def load_tasks(paths: list[Path], limit: int | None, skip: int = 0) -> list[dict[str, Any]]:
    """The tasks of ``paths``, one from each file in turn (a run cut short covers them all), from
    the ``skip``-th on."""
    lists = [read_tasks(path) for path in paths]
    tasks = [task for row in itertools.zip_longest(*lists) for task in row if task is not None]
    tasks = tasks[skip:]
    return tasks[:limit] if limit else tasks


def parses(text: str) -> bool:
    """Whether ``text`` compiles, judged as the check stage judges it."""
    return python_syntax_error(text) is None


def task_repo(folder: Path, task: dict[str, Any]) -> Path:
    """A one-commit git repository holding the task's file."""
    root = folder / task["id"].replace("/", "_")
    root.mkdir(parents=True)
    (root / task["path"]).parent.mkdir(parents=True, exist_ok=True)  # .github/workflows/ci.yml
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


def tests_command(task: dict[str, Any]) -> str:
    """The task's behaviour checks as a ``check_command``: they run in the evaluation sandbox on the
    changed file of the engine's temporary copy, and print the failing check."""
    script = REPO / "benchmarks" / "task_checks.py"
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {shlex.quote(task['id'])} --try {{files}}"


def run_one(endpoint: str, model: str, task: dict[str, Any], folder: Path, fmt: str, decoding: str,
            repair: int, candidates: int, max_tokens: int, first_round: bool, sandbox: Sandbox,
            tests: bool = False) -> list[Outcome]:
    """The task through the engine with ``repair`` attempts; with ``first_round`` also the
    repair-0 outcome, which is the loop's first round (the same answers and checks: with
    ``repair_attempts = 0`` the engine stops there), timed up to the moment it asked again."""
    config = Config(endpoint=endpoint, model=model, edit_format=fmt, decoding=decoding, context_budget=0,
                    repair_attempts=repair, candidates=candidates, max_tokens=max_tokens, read_timeout=600.0,
                    check_command=tests_command(task) if tests else None)
    root = task_repo(folder, task)
    session = EditSession(config, Workspace(root), ChatClient(endpoint, model, read_timeout=600.0, retries=1))
    repaired_at: list[float] = []
    failed: dict[str, Any] = {}
    problems: dict[str, str] = {}

    def listen(event: object) -> None:
        if isinstance(event, RepairEvent):
            repaired_at.append(time.monotonic())
        elif isinstance(event, AttemptFailedEvent):
            failed[event.proposal.id] = event.proposal
            problems[event.proposal.id] = event.problem

    session.events.subscribe(listen)
    started = time.monotonic()
    rows = sorted({0, repair}) if first_round else [repair]
    try:
        proposal = session.propose(session.make_request(task["instruction"], task["path"]))
    except ModelServerError as exc:
        seconds = time.monotonic() - started
        return [Outcome(task["id"], fmt, decoding, r, candidates, "error", "error", False, 1, seconds, str(exc)[:200],
                        tests=tests) for r in rows]
    finally:
        session.close()
    seconds = time.monotonic() - started
    results = [outcome_of(task, fmt, decoding, repair, candidates, proposal, seconds, sandbox, tests)]
    if repair:
        results[0].rounds = rounds_of(failed, problems, [t - started for t in repaired_at], seconds)
    if repair and first_round:
        first = proposal
        while first.attempt > 1:
            first = failed[first.parent_id]
        first_seconds = (repaired_at[0] if repaired_at else time.monotonic()) - started
        results.insert(0, outcome_of(task, fmt, decoding, 0, candidates, first,
                                     first_seconds if repaired_at else seconds, sandbox, tests))
    return results


def rounds_of(failed: dict[str, Any], problems: dict[str, str], repaired_at: list[float],
              seconds: float) -> list[dict[str, Any]]:
    """Each round's end (seconds from the start) and its turned-down answers, for Outcome.rounds."""
    ends = [*repaired_at, seconds]
    rounds: list[dict[str, Any]] = [{"ended": round(end, 2), "answers": []} for end in ends]
    for pid, proposal in sorted(failed.items()):
        # the engine's ids: the request id, "-N" from round N = 2 on, ".k" for candidate k > 0
        candidate = int(pid.rsplit(".", 1)[1]) if "." in pid.rsplit("-", 1)[-1] else 0
        rounds[min(proposal.attempt, len(rounds)) - 1]["answers"].append(
            [candidate, proposal.finish_reason, proposal.completion_tokens, problems[pid][:160]])
    return rounds


def outcome_of(task: dict[str, Any], fmt: str, decoding: str, repair: int, candidates: int, proposal: Any,
               seconds: float, sandbox: Sandbox, tests: bool) -> Outcome:
    """The record of ``proposal``; a written change is judged by the task's behaviour checks in ``sandbox``."""
    outcome = written(proposal, checked=True)
    expect = task.get("expect", "")
    change = proposal.changes[0] if proposal.changes else None
    expected = (outcome == "applied+parses" and change is not None and bool(expect)
                and change.new_text.count(expect) > change.old_text.count(expect))
    text = change.new_text if outcome == "applied+parses" and change is not None else None
    detail = "; ".join(proposal.errors)[:200] or "; ".join(str(f) for f in proposal.findings)[:200]
    return Outcome(task["id"], fmt, decoding, repair, candidates, outcome, written(proposal, checked=False),
                   expected, proposal.attempt, seconds, detail, asked=None if text is None else passes(sandbox, task, text),
                   tests=tests, text=text)


def load_outcomes(paths: list[Path]) -> list[Outcome]:
    """The records of saved runs (``--out`` files), in order."""
    return [Outcome(**json.loads(line)) for path in paths for line in path.read_text().splitlines() if line]


def key_of(o: Outcome) -> tuple[str, str, int, int, bool]:
    """The configuration of a record: format, decoding, repairs, candidates, checks as check command."""
    return (o.edit_format, o.decoding, o.repair, o.candidates, o.tests)


def summarize(outcomes: list[Outcome]) -> str:
    """The markdown table: one row per configuration (and a checks-off row for repair 0, 1 candidate),
    over the tasks every configuration finished (a run cut short counts its complete tasks only).
    ``x time``: seconds per task against repair 0 with one candidate in the same format/decoding.
    ``asked`` is "-" where records from before the behaviour checks have none."""
    keys = sorted({key_of(o) for o in outcomes})
    done = {k: {o.task for o in outcomes if key_of(o) == k} for k in keys}
    tasks = set.intersection(*done.values()) if done else set()
    rows = ["| format | decoding | repair | candidates | checks | applied+parses | applied+broken | refused "
            "| expected | asked | s/task | x time |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    secs: dict[tuple, float] = {}
    groups = {key: [o for o in outcomes if key_of(o) == key and o.task in tasks] for key in keys}
    for key, group in groups.items():
        secs[key] = sum(o.seconds for o in group) / max(1, len(group))
    for (fmt, dec, repair, cand, tests), group in groups.items():
        n = len(group)
        base = secs.get((fmt, dec, 0, 1, False))
        ratio = f"{secs[(fmt, dec, repair, cand, tests)] / base:.1f}" if base else "-"
        variants = ([("on+tests", "outcome")] if tests else [("on", "outcome")]
                    + ([("off", "unchecked")] if repair == 0 and cand == 1 else []))
        judged = any(o.asked is not None for o in group) or not any(o.outcome == "applied+parses" for o in group)
        for checks, field in variants:
            count = {k: sum(getattr(o, field) == k for o in group) for k in ("applied+parses", "applied+broken")}
            refused = n - sum(count.values())
            expected = sum(o.expected for o in group) if checks != "off" else "-"
            asked = sum(bool(o.asked) for o in group) if checks != "off" and judged else "-"
            rows.append(f"| {fmt} | {dec} | {repair} | {cand} | {checks} | {count['applied+parses']}/{n} "
                        f"| {count['applied+broken']}/{n} | {refused}/{n} | {expected} | {asked} "
                        f"| {secs[(fmt, dec, repair, cand, tests)]:.1f} | {ratio} |")
    return "\n".join(rows + goals(outcomes, tasks))


def goals(outcomes: list[Outcome], tasks: set[str]) -> list[str]:
    """The issue's goals per format and decoding, the most repairs and candidates against repair 0
    with one candidate (checks on): written and parsing at least doubles, within 3x the seconds
    per task (as means, as in the table; the median of the per-task ratios beside it, which one
    slow task cannot move). Rows with the behaviour checks as check command get a line of their
    own, and where changes were judged the count that does what was asked comes beside it."""
    lines = []
    for fmt, dec in sorted({(o.edit_format, o.decoding) for o in outcomes}):
        mine = [o for o in outcomes if (o.edit_format, o.decoding) == (fmt, dec) and o.task in tasks]
        base = {o.task: o for o in mine if (o.repair, o.candidates, o.tests) == (0, 1, False)}
        for tests in (False, True):
            top = max(((o.repair, o.candidates) for o in mine if o.tests == tests), default=(0, 1))
            best = {o.task: o for o in mine if (o.repair, o.candidates, o.tests) == (*top, tests)}
            if (top == (0, 1) and not tests) or not base or set(base) != set(best):
                continue
            before = sum(o.outcome == "applied+parses" for o in base.values())
            after = sum(o.outcome == "applied+parses" for o in best.values())
            broken = sum(o.outcome == "applied+broken" for o in mine if o.tests == tests)
            ratio = sum(o.seconds for o in best.values()) / max(1e-9, sum(o.seconds for o in base.values()))
            median = statistics.median(best[t].seconds / max(1e-9, base[t].seconds) for t in base)
            doubled = "doubled" if after >= 2 * before and after > before else "not doubled"
            within = "within 3x" if ratio <= 3 else "over 3x"
            label = f"r{top[0]}/c{top[1]}" + (" with the checks as check command" if tests else "")
            asked = ""
            if all(o.asked is not None for o in [*base.values(), *best.values()] if o.outcome == "applied+parses"):
                asked = (f"; does what was asked {sum(bool(o.asked) for o in base.values())} -> "
                         f"{sum(bool(o.asked) for o in best.values())}")
            lines.append(f"- {fmt} {dec}: applied+parses {before} -> {after} of {len(base)} ({doubled}), "
                         f"{label} at {ratio:.1f}x the time of r0/c1 ({within}; per-task median "
                         f"{median:.1f}x); applied+broken with checks on: {broken}{asked}")
    return [""] + lines if lines else []


def configurations(args: argparse.Namespace) -> list[tuple[str, str, int, int, bool, bool]]:
    """(format, decoding, repair, candidates, first round wanted, checks as check command) to run
    for every task: each format/decoding pair with each ``--runs`` pair ("2x4t": the task's
    behaviour checks are the check command). A run with repairs also reports its first round
    unless the same candidates with repair 0 are run themselves (not for the "t" runs)."""
    runs = [(*(int(x) for x in spec.rstrip("t").split("x")), spec.endswith("t")) for spec in args.runs.split(",")]
    plain = {cand for repair, cand, tests in runs if repair == 0 and not tests}
    return [(fmt, dec, repair, cand, repair > 0 and cand not in plain and not tests, tests)
            for fmt, dec in (spec.split("/") for spec in args.combos.split(","))
            for repair, cand, tests in runs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=Path, nargs="+", default=[DEFAULT_TASKS],
                        help="JSON-lines task files; with several, their tasks are taken in turn")
    parser.add_argument("--limit", type=int, default=6, help="the first N tasks (0: all)")
    parser.add_argument("--skip", type=int, default=0, help="start after the first N tasks (to go on from a run)")
    parser.add_argument("--endpoint", help="an OpenAI-compatible /v1 URL (default: start the embedded model)")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--combos", default="whole/free,whole/constrained,blocks/free,blocks/constrained",
                        help="format/decoding pairs, in the order to run")
    parser.add_argument("--runs", default="0x1,2x4",
                        help="(repair attempts)x(candidates) pairs to run with every format/decoding pair; "
                             "a trailing t (2x4t) makes the task's behaviour checks the check command")
    parser.add_argument("--sandbox", choices=["auto", "strict", "basic"], default="auto",
                        help="the evaluation sandbox the behaviour checks run in")
    parser.add_argument("--backend", default="auto",
                        help="the server started when no --endpoint is given (auto: llama-server when built)")
    parser.add_argument("--parallel", type=int, default=4, help="llama-server slots (candidates decode together)")
    parser.add_argument("--port", type=int, default=0, help="the started server's port (default: a free one)")
    parser.add_argument("--cold", action="store_true",
                        help="restart the started server before every task and configuration, so each starts "
                             "with empty slots and an empty prompt cache, as a person's request does (without it "
                             "a configuration may find the prompt the one before it evaluated)")
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--out", type=Path, default=Path("trust-run.jsonl"))
    parser.add_argument("--summarize", type=Path, nargs="+", help="print the table of saved runs and stop")
    args = parser.parse_args(argv)
    if args.summarize:
        print(summarize(load_outcomes(args.summarize)))
        return 0
    tasks = load_tasks(args.tasks, args.limit or None, args.skip)
    load = os.getloadavg()[0]
    names = ", ".join(p.name for p in args.tasks)
    print(f"# {len(tasks)} tasks from {names}; load average {load:.2f}; {os.cpu_count()} CPUs", flush=True)
    outcomes: list[Outcome] = []
    server = None
    if args.endpoint is None:
        from amigo.serve import ServerProcess

        server = ServerProcess(port=args.port, n_ctx=4096, backend=args.backend, parallel=args.parallel)
        server.start(timeout=180)
        args.endpoint = server.base_url
        print(f"# server: {server.backend}, {args.parallel} slot(s) where it has slots"
              + ("; restarted before every run (--cold)" if args.cold else ""), flush=True)
    configs = configurations(args)
    try:
        with (tempfile.TemporaryDirectory(prefix="amigo-trust-") as tmp, args.out.open("w") as out,
              Sandbox(workers=1, mode=args.sandbox) as sandbox):
            for t, task in enumerate(tasks):
                order = configs if t % 2 == 0 else configs[::-1]  # neither side always runs first
                for k, (fmt, dec, repair, cand, first_round, tests) in enumerate(order):
                    if args.cold and server is not None:
                        server.stop()
                        server.start(timeout=180)
                    for outcome in run_one(args.endpoint, args.model, task, Path(tmp) / f"t{t}c{k}", fmt, dec,
                                           repair, cand, args.max_tokens, first_round, sandbox, tests):
                        outcomes.append(outcome)
                        out.write(json.dumps(asdict(outcome)) + "\n")
                        out.flush()
                        asked = {None: "", True: " asked", False: " NOT asked"}[outcome.asked]
                        print(f"{fmt:6} {dec:11} r{outcome.repair} c{cand}{'t' if tests else ' '} {task['id']:28} "
                              f"{outcome.outcome + asked:25} "
                              f"(unchecked {outcome.unchecked}) {outcome.attempts} attempt(s) "
                              f"{outcome.seconds:5.1f} s", flush=True)
                print(f"# task {t + 1}/{len(tasks)} done; load average {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        if server is not None:
            server.stop()
    print(f"\n# load average at the end {os.getloadavg()[0]:.2f}\n")
    print(summarize(outcomes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What each error finding of the check stage refuses among the embedded model's own answers:
wrong changes (good) or right ones (a false alarm), judged by the tasks' behaviour checks.

    python benchmarks/check_corpus.py collect --out benchmarks/data/check_corpus.jsonl   # asks the model
    python benchmarks/check_corpus.py judge benchmarks/data/check_corpus.jsonl [--show KIND]

``collect`` asks the embedded model (llama-server, started here) for eight answers
to every trust task (``benchmarks/data/edit_tasks.jsonl`` and
``history_tasks.jsonl``) in each of the rows the trust grid measures (whole
constrained, whole free, blocks constrained): the greedy answer and seven
sampled as the engine samples a round's other candidates
(``amigo.engine.candidate_asks``). Each answer is read and applied as the engine
reads its own (``EditSession.proposal_from_answer``); every one that applies and
compiles is kept with the file it makes and the verdict of the task's behaviour
checks, run in the evaluation sandbox. Compiling is the line because a file
that does not compile is refused by the syntax check whatever else is decided.

``judge`` runs today's check stage (``amigo.checks.check_changes``) on the kept
files, no model needed, and counts for every error finding kind the answers it
refuses, wrong and right, and those only it refuses (what turning it off would
let through). ``out-of-scope`` and ``import-time-code`` are looked for only when
no other error was found, so they are counted only where they refuse alone. Together with ``benchmarks/checks_history.py`` (false alarms on
reviewed human commits) it is the measure a change to a check rule answers to:
a rule loosened to spare real commits must not let the model's wrong answers
through, and one tightened must not refuse its right ones.

A corpus is one sample of one model's first-round answers: the repair rounds
ask differently (the problem stated), and a stronger model errs in other
shapes; ``benchmarks/trust.py`` measures what the whole loop ends with.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from amigo.checks import check_changes, python_syntax_error  # noqa: E402
from amigo.client import ChatClient  # noqa: E402
from amigo.config import Config  # noqa: E402
from amigo.engine import EditSession, candidate_asks  # noqa: E402
from amigo.errors import ModelServerError  # noqa: E402
from amigo.prompt import build_messages  # noqa: E402
from amigo.workspace import Workspace  # noqa: E402
from amigo_train.eval.sandbox import Sandbox  # noqa: E402
from benchmarks.task_checks import load_tasks, passes, tasks_by_id  # noqa: E402
from benchmarks.trust import task_repo  # noqa: E402

ROWS = ("whole/constrained", "whole/free", "blocks/constrained")
ROUND = 4  # answers asked at once: the engine's candidates on the server's four slots


@dataclass
class Answer:
    """One answer of the model to one task, as ``collect`` keeps it."""

    task: str
    edit_format: str
    decoding: str
    sample: int  # 0: greedy; k > 0: sampled as a round's candidate k is (seed k past the configured one)
    text: str  # the file the answer makes (it applies and compiles)
    asked: bool  # the task's behaviour checks pass on it


def ask_row(endpoint: str, model: str, task: dict[str, Any], root: Path, fmt: str, decoding: str,
            samples: int, max_tokens: int) -> list[tuple[int, str | None]]:
    """(sample, the file it makes when it applies and compiles, else None) of every answer to
    ``task`` in one row that came back."""
    config = Config(endpoint=endpoint, model=model, edit_format=fmt, decoding=decoding, context_budget=0,
                    repair_attempts=0, candidates=ROUND, max_tokens=max_tokens, read_timeout=600.0)
    session = EditSession(config, Workspace(root), ChatClient(endpoint, model, read_timeout=600.0, retries=1))
    try:
        request = session.make_request(task["instruction"], task["path"])
        base, _ = session._sampling_params(request, None)
        original = build_messages(request)
        asks = list(enumerate(candidate_asks(original, None, base, 1, samples)))  # greedy, then seeds 1, 2, ...
        kept = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=ROUND) as pool:
            futures = {pool.submit(session.client.complete, ask.messages, **ask.params): sample
                       for sample, ask in asks}
            for future in concurrent.futures.as_completed(futures):
                try:
                    answer = future.result().text
                except ModelServerError as exc:
                    print(f"  {task['id']} {fmt}/{decoding} sample {futures[future]}: {exc}", file=sys.stderr)
                    continue
                proposal = session.proposal_from_answer(request, answer)
                compiles = (proposal.ok and proposal.changes
                            and python_syntax_error(proposal.changes[0].new_text) is None)
                kept.append((futures[future], proposal.changes[0].new_text if compiles else None))
        return sorted(kept, key=lambda pair: pair[0])
    finally:
        session.close()


def collect(args: argparse.Namespace) -> int:
    from amigo.serve import ServerProcess

    tasks = load_tasks()
    server = ServerProcess(port=0, n_ctx=4096, backend=args.backend, parallel=ROUND)
    server.start(timeout=180)
    print(f"# {len(tasks)} tasks, rows {', '.join(args.rows)}, {args.samples} answers each; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    started = time.monotonic()
    try:
        with (tempfile.TemporaryDirectory(prefix="amigo-corpus-") as tmp, args.out.open("w") as out,
              Sandbox(workers=1, mode=args.sandbox) as sandbox):
            for t, task in enumerate(tasks):
                for row in args.rows:
                    fmt, decoding = row.split("/")
                    root = task_repo(Path(tmp) / f"t{t}-{fmt}-{decoding}", task)
                    kept = ask_row(server.base_url, args.model, task, root, fmt, decoding, args.samples,
                                   args.max_tokens)
                    answers = [Answer(task["id"], fmt, decoding, sample, text, passes(sandbox, task, text))
                               for sample, text in kept if text is not None]
                    out.writelines(json.dumps(asdict(answer)) + "\n" for answer in answers)
                    out.flush()
                    print(f"{task['id']:32} {row:18} {len(answers)} of {args.samples} apply and compile, "
                          f"{sum(a.asked for a in answers)} right", flush=True)
                print(f"# task {t + 1}/{len(tasks)}; {time.monotonic() - started:.0f} s; "
                      f"load average {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        server.stop()
    return 0


def load_answers(paths: list[Path]) -> list[Answer]:
    return [Answer(**json.loads(line)) for path in paths for line in path.read_text().splitlines() if line]


def errors_by_kind(task: dict[str, Any], answer: Answer) -> dict[str, str]:
    """Each kind of error finding today's check stage has for the answer's file -> its first message."""
    findings = check_changes([(task["path"], task["file_text"], answer.text)], task["instruction"])
    errors: dict[str, str] = {}
    for finding in findings:
        if finding.level == "error":
            errors.setdefault(finding.kind, finding.message)
    return dict(sorted(errors.items()))


def judge(answers: list[Answer], tasks: dict[str, dict[str, Any]], show: str | None = None) -> list[str]:
    """The table: answers kept, right and wrong, and what each error finding kind refuses."""
    total: Counter = Counter()
    by_kind: Counter = Counter()
    alone: Counter = Counter()
    lines = []
    for answer in answers:
        verdict = "right" if answer.asked else "wrong"
        total[verdict] += 1
        errors = errors_by_kind(tasks[answer.task], answer)
        if errors:
            total[f"refused {verdict}"] += 1
        for kind, message in errors.items():
            by_kind[(kind, verdict)] += 1
            if len(errors) == 1:
                alone[(kind, verdict)] += 1
            if show in (kind, "all"):
                lines.append(f"  {verdict.upper() if answer.asked else verdict} {answer.task} "
                             f"{answer.edit_format}/{answer.decoding} #{answer.sample}: {kind}: {message[:160]}")
    tasks_seen = len({a.task for a in answers})
    lines += [f"{len(answers)} answers that apply and compile, to {tasks_seen} tasks: {total['right']} right, "
              f"{total['wrong']} wrong (the tasks' behaviour checks); refused: {total['refused wrong']} of the wrong, "
              f"{total['refused right']} of the right", "",
              "| error finding | refuses wrong | refuses right | only it refuses: wrong | only it refuses: right |",
              "|---|---|---|---|---|"]
    for kind in sorted({k for k, _ in by_kind}, key=lambda k: -by_kind[(k, "wrong")] - by_kind[(k, "right")]):
        lines.append(f"| {kind} | {by_kind[(kind, 'wrong')]} | {by_kind[(kind, 'right')]} "
                     f"| {alone[(kind, 'wrong')]} | {alone[(kind, 'right')]} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("collect", help="ask the embedded model and keep the answers that apply and compile")
    ask.add_argument("--out", type=Path, required=True)
    ask.add_argument("--rows", nargs="+", default=list(ROWS), help="format/decoding pairs")
    ask.add_argument("--samples", type=int, default=8, help="answers per task and row (the first greedy)")
    ask.add_argument("--max-tokens", type=int, default=320)
    ask.add_argument("--model", default="smollm2-135m-instruct")
    ask.add_argument("--backend", default="auto", help="the server to start (auto: llama-server when built)")
    ask.add_argument("--sandbox", choices=["auto", "strict", "basic"], default="auto")
    check = sub.add_parser("judge", help="today's check stage on saved answers")
    check.add_argument("corpus", nargs="+", type=Path)
    check.add_argument("--show", metavar="KIND", help="print each answer a finding kind refuses ('all': every kind)")
    args = parser.parse_args(argv)
    if args.command == "collect":
        return collect(args)
    answers = load_answers(args.corpus)
    if (tasks := tasks_by_id(a.task for a in answers)) is None:
        return 1
    print("\n".join(judge(answers, tasks, args.show)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

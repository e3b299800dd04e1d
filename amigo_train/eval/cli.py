"""``amigo eval``: run benchmarks, write reports, and gate a model's promotion.

    amigo eval run --task humaneval,mbpp --endpoint http://127.0.0.1:8000/v1 --model NAME --out runs/cand
    amigo eval run --task humanevalfix --source reference --out runs/selfcheck   (no model: checks the harness)
    amigo eval report runs/base runs/cand --out report.md          (also writes report.html and a chart)
    amigo eval gate --candidate runs/cand --baseline runs/base --tasks humaneval,mbpp [--tolerance 0.01]
    amigo eval mine-edits --repo PATH --rev v1.0..HEAD --out edits.jsonl

Exit status: 0 success (gate: promotion allowed), 1 failed or gate blocked, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from amigo import progress
from amigo.errors import EXIT_FAIL, AmigoError, UsageError, exit_status
from amigo_train.eval.tasks import TASK_NAMES


def _tasks(value: str) -> list[str]:
    names = [t.strip() for t in value.split(",") if t.strip()]
    unknown = [t for t in names if t not in TASK_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(TASK_NAMES)}")
    return names


def _fraction(value: str) -> float:
    number = float(value.rstrip("%")) / (100 if value.endswith("%") else 1)
    if not 0 <= number < 1:
        raise argparse.ArgumentTypeError("give a fraction such as 0.01 (or 1%)")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amigo eval", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="generate answers and score them; writes OUT/<task>/")
    run.add_argument("--task", type=_tasks, required=True, help=f"comma-separated: {', '.join(TASK_NAMES)}")
    run.add_argument("--out", required=True, help="run folder (one sub-folder per task)")
    run.add_argument("--endpoint", default="", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    run.add_argument("--model", default="", help="model name the endpoint serves")
    run.add_argument("--source", choices=("model", "reference", "buggy"), default="model",
                     help="answers from the model, or the data set's reference/buggy code (harness check)")
    run.add_argument("--n", type=int, default=1, help="samples per problem (pass@k for k <= n)")
    run.add_argument("--temperature", type=float, default=0.0)
    run.add_argument("--top-p", type=float, default=1.0)
    run.add_argument("--max-tokens", type=int, default=1024)
    run.add_argument("--seed", type=int, default=None)
    run.add_argument("--concurrency", type=int, default=4, help="requests in flight to the endpoint")
    run.add_argument("--workers", type=int, default=None, help="sandbox workers (default: CPU count)")
    run.add_argument("--sandbox", choices=("auto", "strict", "basic"), default="auto",
                     help="basic = no namespaces/uid switch: only when strict cannot run, knowingly")
    run.add_argument("--limit", type=int, default=None, help="only the first K problems")
    run.add_argument("--data-dir", default=None, help="benchmark data folder (default: $AMIGO_DATA_DIR)")
    run.add_argument("--download", action="store_true", help="fetch missing data files from upstream")
    run.add_argument("--edits", default=None, help="amigo-edits benchmark file (JSON Lines)")
    run.add_argument("--mbpp-split", choices=("test", "all"), default="test")

    report = sub.add_parser("report", help="Markdown + HTML report comparing runs")
    report.add_argument("runs", nargs="+", help="run folders (amigo eval run --out), compared side by side")
    report.add_argument("--out", required=True, help="report.md or report.html (both are written)")

    gate = sub.add_parser("gate", help="exit 0 only if the candidate regresses on no task")
    gate.add_argument("--candidate", required=True, help="run folder of the new model (amigo eval run --out)")
    gate.add_argument("--baseline", required=True, help="run folder of the model in production")
    gate.add_argument("--tasks", type=_tasks, default=None, help="default: every task of the baseline")
    gate.add_argument("--tolerance", type=_fraction, default=0.01, help="allowed drop in pass rate (0.01 = 1 point)")
    gate.add_argument("--alpha", type=float, default=0.05, help="significance level of the paired test")
    gate.add_argument("--strict", action="store_true", help="block on any drop beyond the tolerance")
    gate.add_argument("--report", default=None, help="where to write the evidence (default: CANDIDATE/gate.md)")

    mine = sub.add_parser("mine-edits", help="make an amigo-edits benchmark from a repository's commits")
    mine.add_argument("--repo", required=True)
    mine.add_argument("--out", required=True)
    mine.add_argument("--rev", default="HEAD", help="revision range, e.g. v1.0..HEAD (held out from training)")
    mine.add_argument("--max", type=int, default=200)
    progress.add_quiet_flag(sub.choices.values())
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from amigo_train.eval.runner import RunConfig, run_eval

    if args.n < 1:
        raise UsageError("--n must be at least 1")
    for name in args.task:
        config = RunConfig(
            task=name, model=args.model, endpoint=args.endpoint, source=args.source, n=args.n,
            temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens,
            concurrency=args.concurrency, limit=args.limit, data_dir=args.data_dir, edits=args.edits,
            seed=args.seed, workers=args.workers, sandbox_mode=args.sandbox, download=args.download,
            task_options={"split": args.mbpp_split} if name == "mbpp" else {},
        )
        record = run_eval(config, Path(args.out) / name,
                          progress=None if args.quiet else lambda m: print(m, file=sys.stderr))
        summary = record["summary"]
        scores = ", ".join(f"{k} {100 * v:.1f}%" for k, v in summary.items()
                           if isinstance(v, float))
        print(f"{name}: {summary['problems']} problems, {scores} -> {Path(args.out) / name}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from amigo_train.eval.report import write_report
    from amigo_train.eval.runner import find_runs

    runs = [run for folder in args.runs for run in find_runs(folder).values()]
    for path in write_report(runs, args.out):
        print(path)
    return 0


def _cmd_gate(args: argparse.Namespace) -> int:
    from amigo_train.eval.gate import gate, gate_markdown
    from amigo_train.eval.report import write_report
    from amigo_train.eval.runner import find_runs

    baseline, candidate = find_runs(args.baseline), find_runs(args.candidate)
    result = gate(baseline, candidate, args.tasks, args.tolerance, args.alpha, args.strict)
    section = gate_markdown(result, args.baseline, args.candidate)
    report = Path(args.report) if args.report else Path(args.candidate) / "gate.md"
    written = write_report([*baseline.values(), *candidate.values()], report, section)
    for v in result.verdicts:
        print(f"{'ok   ' if v.ok else 'BLOCK'} {v.task}: {v.reason}")
    print(f"gate: {'PASS' if result.ok else 'FAIL'} (evidence: {written[0]})")
    return 0 if result.ok else 1


def _cmd_mine(args: argparse.Namespace) -> int:
    from amigo_train.eval.tasks.edits import mine_edits

    count = mine_edits(args.repo, args.out, max_commits=args.max, rev=args.rev)
    print(f"wrote {count} edit problems to {args.out}")
    return 0 if count else EXIT_FAIL


def main(argv: list[str]) -> int:
    """Entry point for ``amigo eval ...`` (the ``amigo`` CLI dispatches here)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    handlers = {"run": _cmd_run, "report": _cmd_report, "gate": _cmd_gate, "mine-edits": _cmd_mine}
    progress.enable(quiet=args.quiet)
    try:
        return handlers[args.command](args)
    except AmigoError as exc:
        print(f"amigo eval: {exc}", file=sys.stderr)
        return exit_status(exc)
    except KeyboardInterrupt:
        print("amigo eval: interrupted; rerun the same command to resume from the generation cache",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

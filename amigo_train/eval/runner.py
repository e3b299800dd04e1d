"""One evaluation run: generate answers (cached), score them in the sandbox, save everything.

A run directory holds ``run.json`` (configuration, prompt format, sandbox,
summary), ``samples.jsonl`` (every answer and its outcome), ``problems.jsonl``
(per-problem n, c and pass@k: what the gate pairs on) and the generation
cache ``generations.sqlite`` that lets a crashed run resume without calling
the model again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from amigo import progress as progress_bar
from amigo import xdg
from amigo.errors import InputError
from amigo_train.eval.cache import GenerationCache, params_key
from amigo_train.eval.passk import ks_for, mean_pass_at_k, pass_at_k
from amigo_train.eval.sandbox import Sandbox
from amigo_train.eval.tasks import Outcome, Problem, Task, get_task

Source = Literal["model", "reference", "buggy"]
Generate = Callable[[Sequence[dict[str, str]], dict[str, Any]], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run (saved in run.json)."""

    task: str
    model: str = ""
    endpoint: str = ""
    source: Source = "model"
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 1024
    concurrency: int = 4
    limit: int | None = None
    data_dir: str | None = None
    edits: str | None = None
    seed: int | None = None
    workers: int | None = None
    sandbox_mode: str = "auto"
    download: bool = False
    task_options: dict[str, Any] = field(default_factory=dict)

    def sampling(self) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.top_p != 1.0:
            params["top_p"] = self.top_p
        if self.seed is not None:
            params["seed"] = self.seed
        return params


def chat_generator(endpoint: str, model: str, api_key: str | None = None, read_timeout: float = 300.0) -> Generate:
    """A thread-safe generator over an OpenAI-compatible endpoint (``amigo.client.ChatClient``)."""
    from amigo.client import ChatClient

    client = ChatClient(endpoint, model, api_key=api_key, read_timeout=read_timeout)

    def generate(messages: Sequence[dict[str, str]], params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        done = client.complete(messages, **params)
        return done.text, {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
                           "finish_reason": done.finish_reason, "seconds": round(done.seconds, 3)}

    return generate


def calibrated(task: Task, problems: list[Problem], sandbox: Sandbox | None,
               cache_root: Path | None = None) -> tuple[list[Problem], dict[str, Any]]:
    """Keep the problems whose reference passes and known-buggy answer fails (cached by content).

    For benchmarks like DebugBench scored offline on a subset of tests, a
    problem whose reference fails (or whose bug the tests miss) says nothing
    about a model, so it is dropped and the report says how many were kept.
    """
    digest = hashlib.sha256(json.dumps([[p.id, task.reference(p), task.buggy(p)] for p in problems]).encode())
    root = cache_root or xdg.cache_dir() / "eval"
    path = root / f"calibration-{task.name}-{digest.hexdigest()[:16]}.json"
    if path.is_file():
        keep = set(json.loads(path.read_text())["keep"])
    else:
        def valid(p: Problem) -> bool:
            if not task.score(p, task.reference(p), sandbox).passed:
                return False
            bug = task.buggy(p)
            return bug is None or not task.score(p, bug, sandbox).passed

        workers = sandbox.size if sandbox else 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            flags = list(pool.map(valid, problems))
        keep = {p.id for p, ok in zip(problems, flags) if ok}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"task": task.name, "keep": sorted(keep)}))
    kept = [p for p in problems if p.id in keep]
    return kept, {"calibrated": True, "loaded": len(problems), "kept": len(kept), "cache": str(path)}


def summarise(task: Task, per_problem: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """pass@k over problems plus the mean of any task metrics (e.g. applies %)."""
    counts = [(p["n"], p["c"]) for p in per_problem]
    summary: dict[str, Any] = {"problems": len(per_problem), "n": n}
    if counts:
        for k in ks_for(n):
            summary[f"pass@{k}"] = mean_pass_at_k(counts, k)
    metric_names = sorted({m for p in per_problem for m in p.get("metrics", {})})
    for name in metric_names:
        values = [p["metrics"][name] for p in per_problem if name in p.get("metrics", {})]
        summary[name] = sum(values) / len(values) if values else 0.0
    statuses: dict[str, int] = {}
    for p in per_problem:
        for status, count in p.get("statuses", {}).items():
            statuses[status] = statuses.get(status, 0) + count
    summary["statuses"] = statuses
    return summary


def run_eval(config: RunConfig, out: str | Path, generate: Generate | None = None,
             sandbox: Sandbox | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run ``config`` and write the run directory ``out``; returns the run.json content."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _msg: None)
    options = dict(config.task_options)
    if config.edits:
        options["edits"] = config.edits
    task = get_task(config.task, **options)
    if hasattr(task, "available"):
        ok, why = task.available()  # type: ignore[attr-defined]
        if not ok:
            raise InputError(f"cannot run {task.name}: {why}")
    problems = task.load(config.data_dir, config.download)
    if config.source == "model" and generate is None:
        if not config.endpoint or not config.model:
            raise InputError("a model run needs --endpoint URL and --model NAME (or use --source reference)")
        generate = chat_generator(config.endpoint, config.model, api_key=os.environ.get("AMIGO_API_KEY"))
    own_sandbox = sandbox is None and _needs_sandbox(task)
    if own_sandbox:
        sandbox = Sandbox(workers=config.workers, mode=config.sandbox_mode)  # type: ignore[arg-type]
    started = time.time()
    try:
        calibration: dict[str, Any] = {"calibrated": False}
        if task.calibrate:
            say(f"calibrating {task.name}: keeping problems whose reference passes and bug is caught")
            problems, calibration = calibrated(task, problems, sandbox)
        if config.limit:
            problems = problems[: config.limit]
        answers = _answers(task, problems, config, generate, out / "generations.sqlite")
        say(f"scoring {len(answers)} answers")
        outcomes = _score(task, problems, answers, sandbox)
    finally:
        if own_sandbox and sandbox is not None:
            sandbox.close()
    per_problem = _write_results(out, task, problems, answers, outcomes, config.n)
    summary = summarise(task, per_problem, config.n)
    record = {
        "config": asdict(config),
        "task": task.name,
        "prompt_format": task.prompt_format,
        "label": f"{config.model or config.source} / {task.name}",
        "sandbox": {"mode": sandbox.mode, "description": sandbox.description} if sandbox else None,
        "calibration": calibration,
        "started": started,
        "seconds": round(time.time() - started, 2),
        "host": platform.node(),
        "summary": summary,
    }
    (out / "run.json").write_text(json.dumps(record, indent=2))
    say(f"{task.name}: " + ", ".join(f"{k}={v:.3f}" for k, v in summary.items() if k.startswith("pass@")))
    return record


def _needs_sandbox(task: Task) -> bool:
    return task.needs_sandbox


def _answers(task: Task, problems: list[Problem], config: RunConfig, generate: Generate | None,
             cache_path: Path) -> dict[tuple[str, int], tuple[str, dict[str, Any]]]:
    if config.source != "model":
        answers = {}
        for p in problems:
            text = task.reference(p) if config.source == "reference" else task.buggy(p)
            if text is None:
                raise InputError(f"{task.name} has no known-buggy answers; use --source reference")
            for i in range(config.n):
                answers[(p.id, i)] = (text, {"source": config.source})
        return answers
    assert generate is not None
    cache = GenerationCache(cache_path)
    params = config.sampling()
    todo = [(p, i) for p in problems for i in range(config.n)]
    answers: dict[tuple[str, int], tuple[str, dict[str, Any]]] = {}
    lock = threading.Lock()

    def one(item: tuple[Problem, int]) -> None:
        problem, index = item
        messages = task.messages(problem)
        key = params_key(config.model, messages, params)
        hit = cache.get(task.name, problem.id, index, key)
        if hit is None:
            sample_params = dict(params)
            if config.seed is not None:
                sample_params["seed"] = config.seed + index
            text, meta = generate(messages, sample_params)
            cache.put(task.name, problem.id, index, key, text, meta)
            hit = (text, meta)
        with lock:
            answers[(problem.id, index)] = hit
            reporter.advance()

    try:
        with progress_bar.task(f"generating {task.name}", len(todo), "answers") as reporter, \
                ThreadPoolExecutor(max_workers=max(1, config.concurrency)) as pool:
            list(pool.map(one, todo))
    finally:
        cache.close()
    return answers


def _score(task: Task, problems: list[Problem], answers: dict[tuple[str, int], tuple[str, dict[str, Any]]],
           sandbox: Sandbox | None) -> dict[tuple[str, int], Outcome]:
    by_id = {p.id: p for p in problems}
    order = {p.id: i for i, p in enumerate(problems)}
    keys = sorted(answers, key=lambda k: (order[k[0]], k[1]))

    def one(key: tuple[str, int]) -> Outcome:
        return task.score(by_id[key[0]], answers[key][0], sandbox)

    workers = sandbox.size if sandbox else 1
    outcomes: dict[tuple[str, int], Outcome] = {}
    with progress_bar.task(f"scoring {task.name}", len(keys), "answers") as reporter, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        for key, outcome in zip(keys, pool.map(one, keys)):
            outcomes[key] = outcome
            reporter.advance()
    return outcomes


def _write_results(out: Path, task: Task, problems: list[Problem],
                   answers: dict[tuple[str, int], tuple[str, dict[str, Any]]],
                   outcomes: dict[tuple[str, int], Outcome], n: int) -> list[dict[str, Any]]:
    per_problem = []
    with open(out / "samples.jsonl", "w", encoding="utf-8") as fh:
        for p in problems:
            passed = 0
            statuses: dict[str, int] = {}
            metrics: dict[str, float] = {}
            for i in range(n):
                outcome = outcomes[(p.id, i)]
                text, meta = answers[(p.id, i)]
                passed += outcome.passed
                statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
                for name, value in outcome.metrics.items():
                    metrics[name] = metrics.get(name, 0.0) + value / n
                fh.write(json.dumps({"task": task.name, "problem": p.id, "sample": i, "passed": outcome.passed,
                                     "status": outcome.status, "detail": outcome.detail,
                                     "metrics": dict(outcome.metrics), "answer": text, "meta": meta}) + "\n")
            row = {"task": task.name, "problem": p.id, "n": n, "c": passed, "statuses": statuses,
                   "metrics": metrics, **{f"pass@{k}": pass_at_k(n, passed, k) for k in ks_for(n)}}
            per_problem.append(row)
    with open(out / "problems.jsonl", "w", encoding="utf-8") as fh:
        for row in per_problem:
            fh.write(json.dumps(row) + "\n")
    return per_problem


@dataclass(frozen=True)
class RunResult:
    """A finished run read back from disk."""

    path: Path
    record: dict[str, Any]
    problems: dict[str, dict[str, Any]]

    @property
    def task(self) -> str:
        return str(self.record["task"])

    @property
    def name(self) -> str:
        """The run's folder name (the --out folder when laid out as OUT/<task>/)."""
        return self.path.parent.name if self.path.name == self.task else self.path.name


def load_run(path: str | Path) -> RunResult:
    """Read a run directory written by :func:`run_eval`."""
    path = Path(path)
    if not (path / "run.json").is_file() or not (path / "problems.jsonl").is_file():
        raise InputError(f"{path} is not an evaluation run (no run.json / problems.jsonl); "
                         "point at a folder written by `amigo eval run --out`")
    record = json.loads((path / "run.json").read_text())
    problems = {}
    with open(path / "problems.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                problems[row["problem"]] = row
    return RunResult(path, record, problems)


def find_runs(path: str | Path) -> dict[str, RunResult]:
    """The runs in ``path``: the run itself, or one per task sub-folder (``amigo eval run --out``)."""
    path = Path(path)
    if (path / "run.json").is_file():
        run = load_run(path)
        return {run.task: run}
    runs = {}
    if path.is_dir():
        for sub in sorted(path.iterdir()):
            if (sub / "run.json").is_file():
                run = load_run(sub)
                runs[run.task] = run
    if not runs:
        raise InputError(f"no evaluation runs in {path}: point at a folder written by `amigo eval run --out`")
    return runs

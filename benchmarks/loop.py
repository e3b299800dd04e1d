"""One nightly cycle of the closed loop, end to end, on the embedded model and llama.cpp.

    python benchmarks/loop.py [--tasks 40] [--replay 12] [--max-tokens 320] [--out /tmp/amigo-loop]

In two parts on a busy machine (the day's feedback, then the night): ``--feedback-only`` stops
after the replays; ``--close-feedback`` ends such a run stopped part way (it keeps the tasks it
reached); ``--resume`` runs the nightly cycle, the switch and the second replay on it.

1. Tasks: real functions from Python's standard library, each edited by one plausible
   commit (``benchmarks/train_smoke.py`` builds them: renames, docstrings, comment
   removals), one file per task in a real git repository.
2. The promoted model: a release of the embedded SmolLM2-135M (no training), served by
   `amigo serve`'s llama-cpp-python backend from the release's GGUF.
3. First replay: every training task goes through the engine (``EditSession.propose``);
   a scripted reviewer accepts an answer that applies, parses and makes the committed
   change (every line the commit added present, every line it removed gone), else
   rejects it and, like a person, writes the committed change itself; the feedback
   recorder keeps it all and ``follow_up`` captures those corrections.
4. ``amigo train nightly`` (``run_nightly``: export, DPO/SFT, held-out preference
   accuracy, gate, promote, GGUF).
5. The switch: the server is `amigo serve --promoted loop`; after a promotion the
   nightly run sends it SIGHUP and it restarts llama.cpp on the new GGUF (same port;
   SIGTERM first lets the running server finish what it holds). A client sends small
   requests through ``amigo.client`` (which retries a refused connection before the
   first token) all through the nightly run; failed requests are counted.
6. Second replay: other tasks, before (promoted release) and after (new model), same
   reviewer, acceptance rate.

Prints pairs used, held-out preference accuracy before/after, acceptance before/after,
the gate verdict, each step's time and failed requests during the switch.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_smoke import _edit, _git, stdlib_functions  # noqa: E402  (one home for the task builder)


def plan_tasks(count: int, seed: int) -> list[dict[str, Any]]:
    """(file, instruction, old, new) tasks, the same for the same count and seed."""
    rng = random.Random(seed)
    tasks = []
    for name, src in stdlib_functions(count * 3, seed):
        edit = _edit(name, src, rng)
        if edit is None:
            continue
        tasks.append({"path": f"{name}.py", "instruction": edit[0], "old": src, "new": edit[1]})
        if len(tasks) == count:
            break
    return tasks


def build_tasks(repo: Path, count: int, seed: int) -> list[dict[str, Any]]:
    """``plan_tasks``, with a git repository holding every old file, committed."""
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    tasks = plan_tasks(count, seed)
    for task in tasks:
        (repo / task["path"]).write_text(task["old"])
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "Import the functions")
    return tasks


def close_feedback(out: Path, tasks: list[dict[str, Any]], replay_count: int) -> dict[str, Any]:
    """End a feedback replay that was stopped part way (its time was up): the tasks it reached,
    the corrections captured by follow-up, as ``--feedback-only`` would have saved them, without
    the acceptance before (``--resume`` measures it first)."""
    import sqlite3

    from amigo.config import load_config
    from feedback import follow_up
    from feedback.settings import db_path

    train, other = tasks[:len(tasks) - replay_count], tasks[len(tasks) - replay_count:]
    config = load_config(out / "repo")
    with sqlite3.connect(db_path(config.feedback)) as db:
        reached = {row[0] for row in db.execute("SELECT path FROM proposals")}
        accepted = db.execute("SELECT count(*) FROM events WHERE kind = 'accepted'").fetchone()[0]
    train = [task for task in train if task["path"] in reached]
    follow_up(out / "repo", config.feedback)
    return {"train_tasks": train, "other": other, "seconds": {}, "accepted_while_recording": accepted / len(train),
            "stopped_early": True}


def makes_the_change(task: dict[str, Any], new_text: str) -> bool:
    """The reviewer's check: parses, and has the commit's added lines and none it removed."""
    try:
        ast.parse(new_text)
    except SyntaxError:
        return False
    old, want = set(task["old"].splitlines()), set(task["new"].splitlines())
    got = set(new_text.splitlines())
    return (want - old) <= got and not ((old - want) & got)


def request_id(task: dict[str, Any]) -> str:
    """The task's request id: the same for the same task, so the export's hash split of the recorded
    pairs into train and held-out (by request id) is the same in every run with the same tasks."""
    return "loop-" + task["path"].replace("/", "-")


def replay(session: Any, tasks: list[dict[str, Any]], correct: bool) -> float:
    """Each task through the engine; accept what passes review, else reject (and correct)."""
    accepted = 0
    for task in tasks:
        path = session.repo_root / task["path"]
        path.write_text(task["old"])
        try:
            proposal = session.propose(session.make_request(task["instruction"], task["path"]),
                                       request_id=request_id(task))
        except Exception as exc:  # a failed generation is a rejection, as in the editor
            print(f"  {task['path']}: {exc}", file=sys.stderr)
            continue
        new = proposal.changes[0].new_text if proposal.ok and proposal.changes else None
        if new is not None and makes_the_change(task, new):
            session.accept(proposal)
            accepted += 1
        else:
            session.reject(proposal)
            if correct:
                path.write_text(task["new"])  # the person makes the change by hand
    return accepted / len(tasks) if tasks else 0.0


def open_session(repo: Path, endpoint: str, max_tokens: int, record: bool, repair_attempts: int) -> Any:
    from amigo.config import load_config
    from amigo.engine import EditSession

    config = load_config(repo)
    config = dataclasses.replace(config, endpoint=endpoint, max_tokens=max_tokens, temperature=0.0,
                                 decoding="free", read_timeout=300.0, repair_attempts=repair_attempts)
    session = EditSession.open(repo, config)
    if record:
        import feedback

        feedback.attach(session.events, session.repo_root, config.feedback)
    return session


class Traffic(threading.Thread):
    """Steady small requests through ``amigo.client`` (as an editor sends them) while the nightly
    run trains, promotes and makes the server restart; every failure is counted."""

    def __init__(self, base_url: str, alias: str) -> None:
        super().__init__(daemon=True)
        self.base_url, self.alias = base_url, alias
        self.ok = self.failed = 0
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        from amigo.client import ChatClient

        with ChatClient(self.base_url, self.alias, read_timeout=300, retries=6) as client:
            while not self.stop.is_set():
                try:
                    client.complete([{"role": "user", "content": "Say hi."}], max_tokens=4, temperature=0)
                    self.ok += 1
                except Exception as exc:  # counted, not hidden
                    self.failed += 1
                    self.errors.append(repr(exc)[:200])
                self.stop.wait(1.0)


def start_server(port: int, log: Path, threads: int) -> subprocess.Popen[bytes]:
    """`amigo serve --promoted loop` (llama-cpp-python), following the registry; waits until it answers."""
    from amigo.serve import server_answers

    cmd = [sys.executable, "-m", "amigo.cli", "serve", "--promoted", "loop", "--port", str(port),
           "--backend", "llama-cpp-python", "--threads", str(threads)]
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while not server_answers(f"http://127.0.0.1:{port}/v1"):
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"amigo serve did not start; see {log}")
        time.sleep(0.5)
    return proc


def wait_for_restart(port: int, log: Path, before: int, timeout: float = 300) -> float:
    """Seconds until `amigo serve` has started a new llama.cpp server and it answers."""
    from amigo.serve import server_answers

    started = time.time()
    while time.time() - started < timeout:
        restarted = log.read_text(errors="replace").count("amigo serve: ") > before
        if restarted and server_answers(f"http://127.0.0.1:{port}/v1"):
            return time.time() - started
        time.sleep(0.2)
    raise RuntimeError("the server did not come back on the new model")


def capped_recipe(recipe: Path, steps: int, out: Path) -> Path:
    """A copy of ``recipe`` whose stages stop after ``steps`` steps of batch size 1."""
    import yaml

    data = yaml.safe_load(recipe.read_text())
    data["defaults"] = {**data.get("defaults", {}), "per_device_batch_size": 1}
    for stage in data["stages"]:
        stage["train"] = {**stage.get("train", {}), "max_steps": steps}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def served_model(port: int) -> str | None:
    """The GGUF the llama.cpp server on ``port`` runs (its command line, from /proc)."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv]
        if "llama_cpp.server" in args and str(port) in args and "--model" in args:
            return args[args.index("--model") + 1]
    return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=40, help="tasks replayed to make feedback")
    parser.add_argument("--replay", type=int, default=12, help="other tasks for the acceptance before/after")
    parser.add_argument("--max-tokens", type=int, default=320)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (1: on shared, busy cores "
                        "more threads spin against other work)")
    parser.add_argument("--recipe", default=str(ROOT / "recipes" / "nightly-cpu.yaml"))
    parser.add_argument("--steps", type=int, help="cap every stage at this many steps, batch size 1 (a quick look "
                        "on a loaded machine); the recipe is copied into --out with the cap")
    parser.add_argument("--repair-attempts", type=int, default=2, help="the engine's repair loop (its default 2); "
                        "0 makes the replay about three times faster on a loaded machine")
    parser.add_argument("--train-threads", type=int, help="torch threads for the nightly training and evaluation")
    parser.add_argument("--test-fraction", type=float, default=0.4, help="share of the pairs held out (by request)")
    parser.add_argument("--min-pairs", type=int, default=4)
    parser.add_argument("--tolerance", type=float, default=0.01, help="the gate's allowed drop")
    parser.add_argument("--out", default="/tmp/amigo-loop")
    parser.add_argument("--feedback-only", action="store_true", help="stop after the two replays (the day's "
                        "feedback and the acceptance before); a later --resume runs the night on it")
    parser.add_argument("--close-feedback", action="store_true", help="a --feedback-only run in --out was stopped "
                        "(killed) part way: keep the tasks it reached (same --tasks/--replay/--seed) for --resume")
    parser.add_argument("--resume", action="store_true", help="continue a --feedback-only run in --out: the "
                        "nightly cycle, the switch and the replay after")
    args = parser.parse_args(argv)
    if args.close_feedback:
        return args
    if args.resume and not (Path(args.out) / "feedback-phase.json").is_file():
        parser.error(f"--resume: {args.out}/feedback-phase.json is missing; run with --feedback-only first (same --out)")
    return args


def run_cycle(args: argparse.Namespace) -> dict[str, Any]:
    """The replays, the nightly cycle and the switch; returns the figures (see the module docstring)."""
    out = Path(args.out)
    phase1 = out / "feedback-phase.json"
    if args.close_feedback:
        os.environ["XDG_DATA_HOME"] = str(out / "xdg-data")
        closed = close_feedback(out, plan_tasks(args.tasks + args.replay, args.seed), args.replay)
        phase1.write_text(json.dumps(closed))
        return {k: v for k, v in closed.items() if k not in ("train_tasks", "other")} | {"tasks": len(closed["train_tasks"])}
    if not args.resume:
        subprocess.run(["rm", "-rf", str(out)], check=True)
    os.environ["XDG_DATA_HOME"] = str(out / "xdg-data")  # the loop's own feedback DB, registry, runs
    os.environ["XDG_STATE_HOME"] = str(out / "xdg-state")
    for var, value in (("GIT_AUTHOR_NAME", "bench"), ("GIT_AUTHOR_EMAIL", "b@x"),
                       ("GIT_COMMITTER_NAME", "bench"), ("GIT_COMMITTER_EMAIL", "b@x")):
        os.environ.setdefault(var, value)
    from amigo_train.base_model import EMBEDDED
    from amigo_train.models import Registry
    from amigo_train.nightly import NightlySettings, run_nightly
    from amigo_train.release import build_release
    from feedback import follow_up
    from feedback.settings import db_path

    recipe = Path(args.recipe)
    if args.steps:
        recipe = capped_recipe(recipe, args.steps, out / "recipe.yaml")
    times: dict[str, float] = {}
    if args.resume:
        saved = json.loads(phase1.read_text())
        train_tasks, other, times = saved["train_tasks"], saved["other"], saved["seconds"]
    else:
        t = time.time()
        tasks = build_tasks(out / "repo", args.tasks + args.replay, args.seed)
        train_tasks, other = tasks[: args.tasks], tasks[args.tasks:]
        release = build_release(EMBEDDED, [], out / "release", {"recipe": "embedded (no training)"})
        registry = Registry()
        registry.register("loop-release", kind="release", served_name="loop", base=EMBEDDED,
                          files={"release": str(release), "gguf": str(release / "model.gguf")})
        registry.promote("loop-release")
        times["setup"] = time.time() - t

    from amigo.serve import EMBEDDED_MODEL_ALIAS, free_port

    port, server_log = free_port(), out / "serve.log"
    base_url = f"http://127.0.0.1:{port}/v1"
    server = start_server(port, server_log, args.threads)
    traffic = Traffic(base_url, EMBEDDED_MODEL_ALIAS)
    state: dict[str, Any] = {"steps": {}}
    served_before = served_after = None
    try:
        if args.resume:
            accept_feedback, before = saved["accepted_while_recording"], saved.get("acceptance_before")
            if before is None:  # a replay closed with --close-feedback: the acceptance before, measured now
                t = time.time()
                session = open_session(out / "repo", base_url, args.max_tokens, record=False,
                                       repair_attempts=args.repair_attempts)
                before = replay(session, other, correct=False)
                session.close()
                times["replay before"] = time.time() - t
                phase1.write_text(json.dumps({**saved, "acceptance_before": before, "seconds": times}))
        else:
            t = time.time()
            session = open_session(out / "repo", base_url, args.max_tokens, record=True, repair_attempts=args.repair_attempts)
            accept_feedback = replay(session, train_tasks, correct=True)
            session.close()
            follow_up(out / "repo", session.config.feedback)  # corrections (sessions also follow up when they open)
            times["replay (feedback)"] = time.time() - t
            t = time.time()
            session = open_session(out / "repo", base_url, args.max_tokens, record=False, repair_attempts=args.repair_attempts)
            before = replay(session, other, correct=False)
            session.close()
            times["replay before"] = time.time() - t
            phase1.write_text(json.dumps({"train_tasks": train_tasks, "other": other, "seconds": times,
                                          "accepted_while_recording": accept_feedback, "acceptance_before": before}))
            if args.feedback_only:
                return {"accepted_while_recording": accept_feedback, "acceptance_before": before,
                        "seconds": {k: round(v, 1) for k, v in times.items()}}

        served_before = served_model(port)
        t = time.time()
        starts = server_log.read_text(errors="replace").count("amigo serve: ")
        traffic.start()
        from amigo.config import load_config

        settings = NightlySettings(served_name="loop", recipe=recipe, db=db_path(load_config(out / "repo").feedback),
                                   min_pairs=args.min_pairs, test_fraction=args.test_fraction,
                                   tolerance=args.tolerance, threads=args.train_threads)
        state = run_nightly(settings, log=lambda m: print(f"[nightly] {m}", file=sys.stderr))
        times["nightly total"] = time.time() - t
        for step, result in state["steps"].items():
            times[f"  {step}"] = result["seconds"]
        after = before
        if state["steps"].get("serve", {}).get("restarted"):
            times["server back on the new model"] = wait_for_restart(port, server_log, starts)
            served_after = served_model(port)
            traffic.stop.wait(3.0)
            traffic.stop.set()
            traffic.join(300)
            t = time.time()
            session = open_session(out / "repo", base_url, args.max_tokens, record=False, repair_attempts=args.repair_attempts)
            after = replay(session, other, correct=False)
            session.close()
            times["replay after"] = time.time() - t
    finally:
        traffic.stop.set()
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    switched = {"requests_ok": traffic.ok, "requests_failed": traffic.failed, "errors": traffic.errors[:3],
                "served_before": served_before, "served_after": served_after}
    ev = state["steps"].get("evaluate", {})
    summary = {
        "tasks": len(train_tasks), "replay_tasks": len(other),
        "pairs_by_source": state["steps"].get("export", {}).get("dpo", {}).get("by_source"),
        "accepted_while_recording": accept_feedback,
        "pairs_used": state["steps"].get("export", {}).get("pairs"), "heldout_pairs": ev.get("pairs"),
        "preference_accuracy_before": ev.get("accuracy_before"), "preference_accuracy_after": ev.get("accuracy_after"),
        "acceptance_before": before, "acceptance_after": after,
        "gate": state["steps"].get("decide", {}).get("reasons"), "promoted": state["steps"].get("decide", {}).get("ok"),
        "skipped": state.get("skipped"), "switch": switched, "seconds": {k: round(v, 1) for k, v in times.items()},
        "load_average": os.getloadavg(), "recipe": str(recipe), "run": state.get("run_id"),
    }
    return summary


def main(argv: list[str] | None = None) -> int:
    print(json.dumps(run_cycle(parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

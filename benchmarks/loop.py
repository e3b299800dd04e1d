"""One nightly cycle of the closed loop, end to end, on the embedded model and llama.cpp.

    python benchmarks/loop.py [--tasks 40] [--replay 12] [--max-tokens 320] [--out /tmp/amigo-loop]
        [--sweep steps=4 steps=8 lr=1e-3,steps=8]

In two parts on a busy machine (the day's feedback, then the night): ``--feedback-only`` stops
after the replays; ``--close-feedback`` ends such a run stopped part way (it keeps the tasks it
reached); ``--resume`` runs the nightly cycle, the switch and the second replay on it.

1. Tasks: real functions from Python's standard library, each edited by one plausible
   commit (``benchmarks/train_smoke.py`` builds them: renames, docstrings, comment
   removals), one file per task in a real git repository. Each feedback task is put in
   one split by request, train, validation or test (``--validation-fraction``,
   ``--test-fraction`` of the tasks), and its request id is chosen so that the feedback
   export's own hash split (``feedback.export.is_test`` at ``HELD_OUT_THRESHOLD``) holds
   out exactly the validation and test tasks.
2. The promoted model: a release of the embedded SmolLM2-135M (no training), served by
   `amigo serve`'s llama-cpp-python backend from the release's GGUF.
3. First replay: every feedback task goes through the engine (``EditSession.propose``) with
   ``check_command`` set to ``python -m py_compile {files}`` (the tasks carry no tests of
   their own: the compiler on a copy of the repository is the check that is real for them; the
   engine's check stage compiles Python too, so here the command repeats it; it stays as the
   reviewer's own check, set the way a person sets one). The scripted reviewer (``accepts``) accepts an
   answer that applies, changes the file and passes the checks, and rejects the rest; after
   a rejection it writes the committed change itself, like a person. The feedback recorder
   keeps it all and ``follow_up`` captures those corrections. ``makes_the_change`` (every
   line the commit added present, every line it removed gone) is reported beside it as the
   stricter "did what was asked" column; it decides nothing.
4. With ``--sweep``: the recipe settings are chosen on the validation split. For each
   setting a nightly run (its own nightly folder and registry, same promoted release)
   trains on the train split of a copy of the feedback database without the test tasks,
   and scores the validation requests and pairs (its held-out split); the setting whose
   answers to the validation requests most often apply and pass the checks is kept, then
   the best validation preference accuracy (ties: the first listed). One setting is
   simply used (nothing to choose).
5. ``amigo train nightly`` (``run_nightly``: export, SFT/DPO with the chosen setting,
   held-out preference accuracy, held-out requests answered by both models, gate,
   promote, GGUF). With ``--next-day`` the night runs a day after the feedback: the
   follow-up then measures the accepted edits' retention, so they are SFT examples of
   the night as a real day's accepts are (else only corrections are). Its held-out
   requests and pairs are the validation and test tasks'; the figures before and after
   are reported on the test tasks alone, with a two-sided sign test on the pairs that
   changed.
6. The switch: the server is `amigo serve --promoted loop`; after a promotion the
   nightly run sends it SIGHUP and it restarts llama.cpp on the new GGUF (same port;
   SIGTERM first lets the running server finish what it holds). A client sends small
   requests through ``amigo.client`` (which retries a refused connection before the
   first token) all through the nightly run; failed requests are counted.
7. Second replay: other tasks, before (promoted release) and after (new model), same
   reviewer: acceptance rate and the "did what was asked" rate.

Prints pairs used, held-out (test) preference accuracy before/after with the sign test,
the test requests whose greedy answer applies and passes the checks before/after, the
validation figures of the sweep, acceptance before/after, the gate verdict, each
step's time and failed requests during the switch.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import os
import random
import shlex
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


HELD_OUT_THRESHOLD = 0.5  # the nightly export's test fraction; request ids are chosen against it
SPLITS = ("train", "validation", "test")


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


def request_id(path: str, held_out: bool) -> str:
    """A request id for the task at ``path`` that the feedback export's hash split (by request: the
    id of its first proposal, which is the request id; repairs follow it) puts on the held-out side
    exactly when ``held_out``; the same for the same arguments."""
    from feedback.export import is_test

    base = "loop-" + path.replace("/", "-")
    for k in range(10_000):
        rid = base if k == 0 else f"{base}-v{k}"
        if is_test(rid, HELD_OUT_THRESHOLD) == held_out:
            return rid
    raise RuntimeError(f"no request id for {path} lands on the {'held-out' if held_out else 'train'} side")


def assign_splits(tasks: list[dict[str, Any]], validation_fraction: float, test_fraction: float,
                  seed: int) -> list[dict[str, Any]]:
    """Each task with its ``split`` (train / validation / test by request: the shares of the tasks,
    rounded, in a seeded order) and its ``request_id`` (see ``request_id``)."""
    if validation_fraction < 0 or test_fraction <= 0 or validation_fraction + test_fraction >= 1:
        raise SystemExit(f"--validation-fraction {validation_fraction} and --test-fraction {test_fraction} must "
                         "leave a train split: both >= 0 (test > 0), summing to less than 1")
    order = list(range(len(tasks)))
    random.Random(seed).shuffle(order)
    n_test = max(1, round(len(tasks) * test_fraction))
    n_val = round(len(tasks) * validation_fraction)
    split_of = {i: "test" if r < n_test else "validation" if r < n_test + n_val else "train"
                for r, i in enumerate(order)}
    return [{**task, "split": split_of[i],
             "request_id": request_id(task["path"], split_of[i] != "train")}
            for i, task in enumerate(tasks)]


def build_tasks(repo: Path, tasks: list[dict[str, Any]]) -> None:
    """A git repository holding every task's old file, committed."""
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    for task in tasks:
        (repo / task["path"]).write_text(task["old"])
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "Import the functions")


def all_tasks(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(feedback tasks with their splits, the second replay's other tasks) for ``args``."""
    tasks = plan_tasks(args.tasks + args.replay, args.seed)
    validation = args.validation_fraction if args.sweep else 0.0
    feedback_tasks = assign_splits(tasks[: args.tasks], validation, args.test_fraction, args.seed)
    return feedback_tasks, tasks[args.tasks:]


def close_feedback(out: Path, train: list[dict[str, Any]], other: list[dict[str, Any]]) -> dict[str, Any]:
    """End a feedback replay that was stopped part way (its time was up): the tasks it reached,
    the corrections captured by follow-up, as ``--feedback-only`` would have saved them, without
    the acceptance before (``--resume`` measures it first)."""
    import sqlite3

    from amigo.config import load_config
    from feedback import follow_up
    from feedback.settings import db_path

    config = load_config(out / "repo")
    with sqlite3.connect(db_path(config.feedback)) as db:
        reached = {row[0] for row in db.execute("SELECT path FROM proposals")}
        accepted = db.execute("SELECT count(*) FROM events WHERE kind = 'accepted'").fetchone()[0]
    train = [task for task in train if task["path"] in reached]
    follow_up(out / "repo", config.feedback)
    return {"train_tasks": train, "other": other, "seconds": {}, "recording": {"accepted": accepted / len(train)},
            "stopped_early": True}


def makes_the_change(task: dict[str, Any], new_text: str) -> bool:
    """The stricter column, "did what was asked": parses, and has the commit's added lines and none it removed."""
    try:
        ast.parse(new_text)
    except SyntaxError:
        return False
    old, want = set(task["old"].splitlines()), set(task["new"].splitlines())
    got = set(new_text.splitlines())
    return (want - old) <= got and not ((old - want) & got)


def accepts(proposal: Any) -> bool:
    """The scripted reviewer: the answer applies, changes something, and passes the checks (the
    engine's check stage and the session's ``check_command``); anything else is rejected."""
    return bool(proposal.passes and any(c.new_text != c.old_text for c in proposal.changes))


def check_command() -> str:
    """The reviewer's check, run by the engine on a copy of the repository with the change."""
    return f"{shlex.quote(sys.executable)} -m py_compile {{files}}"


def replay(session: Any, tasks: list[dict[str, Any]], correct: bool) -> dict[str, float]:
    """Each task through the engine; accept what passes review, else reject (and correct).
    Returns the share accepted and the share that made the committed change."""
    accepted = made = 0
    for task in tasks:
        path = session.repo_root / task["path"]
        path.write_text(task["old"])
        rid = task.get("request_id") or request_id(task["path"], False)
        try:
            proposal = session.propose(session.make_request(task["instruction"], task["path"]), request_id=rid)
        except Exception as exc:  # a failed generation is a rejection, as in the editor
            print(f"  {task['path']}: {exc}", file=sys.stderr)
            continue
        new = proposal.changes[0].new_text if proposal.ok and proposal.changes else None
        made += new is not None and makes_the_change(task, new)
        if accepts(proposal):
            session.accept(proposal)
            accepted += 1
        else:
            session.reject(proposal)
            if correct:
                path.write_text(task["new"])  # the person makes the change by hand
    n = len(tasks) or 1
    return {"accepted": accepted / n, "did_what_was_asked": made / n}


def open_session(repo: Path, endpoint: str, max_tokens: int, record: bool, repair_attempts: int) -> Any:
    from amigo.config import load_config
    from amigo.engine import EditSession

    config = load_config(repo)
    config = dataclasses.replace(config, endpoint=endpoint, max_tokens=max_tokens, temperature=0.0,
                                 decoding="free", read_timeout=300.0, repair_attempts=repair_attempts,
                                 candidates=1, check_command=check_command())  # one greedy answer: the model's own
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


# One line per llama.cpp start in `amigo serve`'s log (its "up at" line comes after the first
# completion, which may be after the count is taken: counting those saw a restart that had not happened)
SERVER_STARTS = "amigo serve: starting "


def wait_for_restart(port: int, log: Path, before: int, timeout: float = 300) -> float:
    """Seconds until `amigo serve` has started a new llama.cpp server and it answers."""
    from amigo.serve import server_answers

    started = time.time()
    while time.time() - started < timeout:
        restarted = log.read_text(errors="replace").count(SERVER_STARTS) > before
        if restarted and server_answers(f"http://127.0.0.1:{port}/v1"):
            return time.time() - started
        time.sleep(0.2)
    raise RuntimeError("the server did not come back on the new model")


def parse_setting(text: str) -> dict[str, float]:
    """``steps=8,lr=1e-3,beta=0.1,sft=1`` -> {"steps": 8.0, "lr": 0.001, "beta": 0.1, "sft": 1.0}; ``recipe``:
    the recipe as it is."""
    setting: dict[str, float] = {}
    if text == "recipe":
        return setting
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        if key not in ("steps", "lr", "beta", "sft"):
            raise SystemExit(f"--sweep {text!r}: unknown setting {key!r}; use steps=N, lr=X, beta=X, sft=X "
                             "joined by commas")
        try:
            setting[key] = float(value)
        except ValueError:
            raise SystemExit(f"--sweep {text!r}: {key} needs a number, got {value!r}") from None
    return setting


def recipe_variant(recipe: Path, setting: dict[str, float], out: Path) -> Path:
    """A copy of ``recipe`` with ``setting`` applied: ``steps`` caps every stage at that many steps of
    batch size 1, ``lr`` sets every stage's learning rate, ``beta`` the DPO stages' beta, ``sft`` their
    ``sft_weight``."""
    import yaml

    data = yaml.safe_load(recipe.read_text())
    defaults = dict(data.get("defaults", {}))
    if "steps" in setting:
        defaults["per_device_batch_size"] = 1
    if "lr" in setting:
        defaults["learning_rate"] = setting["lr"]
    data["defaults"] = defaults
    for stage in data["stages"]:
        train = dict(stage.get("train", {}))
        if "steps" in setting:
            train["max_steps"] = int(setting["steps"])
        if "lr" in setting:
            train.pop("learning_rate", None)
        if "beta" in setting and stage.get("kind") == "dpo":
            train["beta"] = setting["beta"]
        if "sft" in setting and stage.get("kind") == "dpo":
            train["sft_weight"] = setting["sft"]
        stage["train"] = train
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def without_tasks(db: Path, paths: list[str], into: Path) -> Path:
    """A copy of the feedback database ``db`` without the proposals on ``paths`` (and their events
    and follow-ups): the feedback the settings are chosen on, which never saw the test tasks."""
    import sqlite3

    into.parent.mkdir(parents=True, exist_ok=True)
    into.unlink(missing_ok=True)
    with sqlite3.connect(db) as source, sqlite3.connect(into) as copy:
        source.backup(copy)
        marks = ",".join("?" * len(paths))
        ids = f"SELECT id FROM proposals WHERE path IN ({marks})"
        for table, column in (("followups", "proposal_id"), ("events", "proposal_id"), ("proposals", "id")):
            copy.execute(f"DELETE FROM {table} WHERE {column} IN ({ids})", paths)
    return into


def heldout_paths(db: Path, since: float, until: float) -> list[str]:
    """The task path of each held-out edit pair a nightly export of [since, until) wrote, in the
    order of its ``dpo/jsonl/test.jsonl`` (the order the evaluation's outcomes have)."""
    from feedback.export import dedup, dpo_examples, is_test, request_roots
    from feedback.store import Store

    with Store(db) as store:
        kept, _ = dedup(dpo_examples(store, since, until))
        roots = request_roots(store)
        path_of = {row["id"]: row["path"] for row in store.query("SELECT id, path FROM proposals")}
    return [path_of[ex.request_id] for ex in kept
            if is_test(roots.get(ex.request_id, ex.request_id), HELD_OUT_THRESHOLD)]


def split_outcomes(evaluation: dict[str, Any], paths: list[str], split_of: dict[str, str],
                   split: str) -> dict[str, Any]:
    """Preference accuracy before and after on the held-out pairs of one split, and the two-sided
    sign test on the pairs whose ranking changed (the gate's own exact test)."""
    from amigo_train.eval.stats import sign_test

    if len(paths) != len(evaluation["promoted"]):
        raise RuntimeError(f"{len(paths)} held-out pairs found in the export, {len(evaluation['promoted'])} scored")
    keep = [i for i, path in enumerate(paths) if split_of.get(path) == split]
    before = [evaluation["promoted"][i] for i in keep]
    after = [evaluation["candidate"][i] for i in keep]
    wins = sum(1 for b, a in zip(before, after) if a > b)
    losses = sum(1 for b, a in zip(before, after) if a < b)
    n = len(keep)
    return {"pairs": n, "accuracy_before": sum(before) / n if n else None,
            "accuracy_after": sum(after) / n if n else None, "turned_right": wins, "turned_wrong": losses,
            "sign_test_p_two_sided": sign_test(wins, losses)[1] if wins + losses else 1.0}


def split_edits(edits: dict[str, Any] | None, split_of: dict[str, str], split: str) -> dict[str, Any] | None:
    """The nightly gate's edits measure (held-out requests whose greedy answer applies and passes
    the checks) on one split's requests, promoted and candidate."""
    if not edits:
        return None
    keep = [i for i, rid in enumerate(edits["request_ids"]) if split_of.get(rid) == split]
    before = [edits["promoted"][i] for i in keep]
    after = [edits["candidate"][i] for i in keep]
    n = len(keep)
    return {"requests": n, "pass_before": sum(before) / n if n else None, "pass_after": sum(after) / n if n else None}


def choose_setting(args: argparse.Namespace, recipe: Path, db: Path, tasks: list[dict[str, Any]], out: Path,
                   log: Any, night_at: float) -> tuple[Path, list[dict[str, Any]]]:
    """Each ``--sweep`` setting trained on the train split and scored on the validation pairs (a nightly
    run of its own at ``night_at`` on the feedback without the test tasks); the recipe of the best, and
    every result."""
    from amigo_train.base_model import EMBEDDED
    from amigo_train.models import Registry
    from amigo_train.nightly import NightlySettings, run_nightly

    tests = [task["path"] for task in tasks if task["split"] == "test"]
    sweep_db = without_tasks(db, tests, out / "sweep" / "feedback-without-test.db")
    release = out / "release"
    results = []
    for k, text in enumerate(args.sweep):
        home = out / "sweep" / f"setting-{k}"
        registry = Registry(home / "registry.json")
        if registry.promoted("loop") is None:
            registry.register("loop-release", kind="release", served_name="loop", base=EMBEDDED,
                              files={"release": str(release), "gguf": str(release / "model.gguf")})
            registry.promote("loop-release")
        variant = recipe_variant(recipe, parse_setting(text), home / "recipe.yaml")
        started = time.time()
        state = run_nightly(NightlySettings(served_name="loop", recipe=variant, db=sweep_db, root=home / "nightly",
                                            registry=registry.path, min_pairs=args.min_pairs,
                                            test_fraction=HELD_OUT_THRESHOLD, tolerance=1.0,
                                            eval_max_tokens=args.max_tokens, edit_requests=len(tasks),
                                            threads=args.train_threads, now=night_at), log=log)
        ev = state["steps"].get("evaluate", {})
        edits = ev.get("edits") or {}
        results.append({"setting": text, "recipe": str(variant), "train_pairs": state["steps"]["export"].get("pairs"),
                        "validation_pairs": ev.get("pairs"), "validation_accuracy_before": ev.get("accuracy_before"),
                        "validation_accuracy_after": ev.get("accuracy_after"),
                        "validation_requests": edits.get("requests"), "validation_edits_before": edits.get("pass_promoted"),
                        "validation_edits_after": edits.get("pass_candidate"), "skipped": state.get("skipped"),
                        "seconds": round(time.time() - started, 1)})
        log(f"setting {text}: validation preference accuracy {ev.get('accuracy_before')} -> "
            f"{ev.get('accuracy_after')} on {ev.get('pairs')} pairs; answers that apply and pass "
            f"{edits.get('pass_promoted')} -> {edits.get('pass_candidate')} on {edits.get('requests')} requests")
    scored = [r for r in results if r["validation_accuracy_after"] is not None]
    if not scored:
        raise RuntimeError(f"no --sweep setting could be scored on validation pairs: {results}")
    # answers that apply and pass first (what the reviewer accepts), then preference; max keeps the first of equals
    best = max(scored, key=lambda r: (r["validation_edits_after"] or 0.0, r["validation_accuracy_after"]))
    return Path(best["recipe"]), results


def served_model(port: int) -> str | None:
    """The GGUF the llama.cpp server on ``port`` runs (its command line, from /proc)."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv]
        if "amigo.llama_cpp_server" in args and str(port) in args and "--model" in args:
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
    parser.add_argument("--sweep", nargs="+", metavar="SETTING", help="recipe settings to choose from on the "
                        "validation split, each steps=N, lr=X, beta=X and/or sft=X joined by commas, or recipe (as it is) "
                        "(e.g. steps=4 steps=8,lr=1e-3 recipe); applied over --recipe (and --steps)")
    parser.add_argument("--repair-attempts", type=int, default=2, help="the engine's repair loop (its default 2); "
                        "0 makes the replay about three times faster on a loaded machine")
    parser.add_argument("--train-threads", type=int, help="torch threads for the nightly training and evaluation")
    parser.add_argument("--test-fraction", type=float, default=0.4, help="share of the feedback tasks whose pairs "
                        "are held out for the test (by request)")
    parser.add_argument("--validation-fraction", type=float, default=0.25, help="share of the feedback tasks whose "
                        "pairs choose the --sweep setting (by request; none without --sweep)")
    parser.add_argument("--min-pairs", type=int, default=4)
    parser.add_argument("--tolerance", type=float, default=0.01, help="the gate's allowed drop")
    parser.add_argument("--out", default="/tmp/amigo-loop")
    parser.add_argument("--feedback-only", action="store_true", help="stop after the two replays (the day's "
                        "feedback and the acceptance before); a later --resume runs the night on it")
    parser.add_argument("--close-feedback", action="store_true", help="a --feedback-only run in --out was stopped "
                        "(killed) part way: keep the tasks it reached (same --tasks/--replay/--seed) for --resume")
    parser.add_argument("--next-day", action="store_true", help="run the night a day after the feedback (the "
                        "retention delay): accepted edits whose retention is then measured become SFT examples, as "
                        "the day's accepts do for a real night")
    parser.add_argument("--resume", action="store_true", help="continue a --feedback-only run in --out: the "
                        "nightly cycle, the switch and the replay after")
    args = parser.parse_args(argv)
    for setting in args.sweep or ():
        parse_setting(setting)  # a bad setting is refused before anything runs
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
        closed = close_feedback(out, *all_tasks(args))
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

    def log(message: str) -> None:
        print(f"[nightly] {message}", file=sys.stderr)

    recipe = Path(args.recipe)
    if args.steps:
        recipe = recipe_variant(recipe, {"steps": args.steps}, out / "recipe.yaml")
    times: dict[str, float] = {}
    if args.resume:
        saved = json.loads(phase1.read_text())
        train_tasks, other, times = saved["train_tasks"], saved["other"], saved["seconds"]
    else:
        t = time.time()
        train_tasks, other = all_tasks(args)
        build_tasks(out / "repo", train_tasks + other)
        release = build_release(EMBEDDED, [], out / "release", {"recipe": "embedded (no training)"})
        registry = Registry()
        registry.register("loop-release", kind="release", served_name="loop", base=EMBEDDED,
                          files={"release": str(release), "gguf": str(release / "model.gguf")})
        registry.promote("loop-release")
        times["setup"] = time.time() - t
    split_of = {task["path"]: task["split"] for task in train_tasks}

    from amigo.config import EMBEDDED_MODEL
    from amigo.serve import free_port

    port, server_log = free_port(), out / "serve.log"
    base_url = f"http://127.0.0.1:{port}/v1"
    server = start_server(port, server_log, args.threads)
    traffic = Traffic(base_url, EMBEDDED_MODEL)
    state: dict[str, Any] = {"steps": {}}
    served_before = served_after = None
    sweep: list[dict[str, Any]] = []
    test = validation = test_edits = validation_edits = next_day = None
    try:
        if args.resume:
            recording, before = saved["recording"], saved.get("replay_before")
            if before is None:  # a replay closed with --close-feedback: the acceptance before, measured now
                t = time.time()
                session = open_session(out / "repo", base_url, args.max_tokens, record=False,
                                       repair_attempts=args.repair_attempts)
                before = replay(session, other, correct=False)
                session.close()
                times["replay before"] = time.time() - t
                phase1.write_text(json.dumps({**saved, "replay_before": before, "seconds": times}))
        else:
            t = time.time()
            session = open_session(out / "repo", base_url, args.max_tokens, record=True, repair_attempts=args.repair_attempts)
            recording = replay(session, train_tasks, correct=True)
            session.close()
            follow_up(out / "repo", session.config.feedback)  # corrections (sessions also follow up when they open)
            times["replay (feedback)"] = time.time() - t
            t = time.time()
            session = open_session(out / "repo", base_url, args.max_tokens, record=False, repair_attempts=args.repair_attempts)
            before = replay(session, other, correct=False)
            session.close()
            times["replay before"] = time.time() - t
            phase1.write_text(json.dumps({"train_tasks": train_tasks, "other": other, "seconds": times,
                                          "recording": recording, "replay_before": before}))
            if args.feedback_only:
                return {"recording": recording, "replay_before": before,
                        "seconds": {k: round(v, 1) for k, v in times.items()}}

        from amigo.config import load_config

        feedback_settings = load_config(out / "repo").feedback
        db = db_path(feedback_settings)
        night_at = time.time()
        if args.next_day:
            # the night after the accepted edits' retention is due (retention_delay_s, a day): what a real
            # night learns from a day's accepts, compressed into the benchmark's one cycle
            night_at += feedback_settings.retention_delay_s
            followed = follow_up(out / "repo", feedback_settings, now=night_at)
            night_at += 60  # the night's window ends after what the day's follow-up measured
            next_day = {"retention_measured": followed.retention_measured, "corrections": followed.corrections}
            log(f"the next day: {followed.retention_measured} accepted edits' retention measured")
        if args.sweep and len(args.sweep) > 1:
            t = time.time()
            recipe, sweep = choose_setting(args, recipe, db, train_tasks, out, log, night_at)
            times["choose the setting (validation)"] = time.time() - t
        elif args.sweep:  # one setting: nothing to choose, the night trains with it
            recipe = recipe_variant(recipe, parse_setting(args.sweep[0]), out / "recipe-chosen.yaml")
        served_before = served_model(port)
        t = time.time()
        starts = server_log.read_text(errors="replace").count(SERVER_STARTS)
        traffic.start()
        settings = NightlySettings(served_name="loop", recipe=recipe, db=db, min_pairs=args.min_pairs,
                                   test_fraction=HELD_OUT_THRESHOLD, tolerance=args.tolerance,
                                   eval_max_tokens=args.max_tokens, edit_requests=len(train_tasks),
                                   threads=args.train_threads, now=night_at)
        state = run_nightly(settings, log=log)
        times["nightly total"] = time.time() - t
        for step, result in state["steps"].items():
            times[f"  {step}"] = result["seconds"]
        if "evaluate" in state["steps"]:
            paths = heldout_paths(db, state["since"], state["until"])
            test = split_outcomes(state["steps"]["evaluate"], paths, split_of, "test")
            validation = split_outcomes(state["steps"]["evaluate"], paths, split_of, "validation")
            split_of_request = {task["request_id"]: task["split"] for task in train_tasks}
            edits = state["steps"]["evaluate"].get("edits")
            test_edits = split_edits(edits, split_of_request, "test")
            validation_edits = split_edits(edits, split_of_request, "validation")
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
    export = state["steps"].get("export", {})
    ev = state["steps"].get("evaluate", {})
    summary = {
        "tasks": len(train_tasks), "replay_tasks": len(other),
        "tasks_by_split": {split: sum(t["split"] == split for t in train_tasks) for split in SPLITS},
        "pairs_by_source": export.get("dpo", {}).get("by_source"),
        "sft_by_source": export.get("sft", {}).get("by_source"), "next_day": next_day,
        "export": {"pairs_total": export.get("dpo", {}).get("total"), "held_out": export.get("heldout"),
                   "decontaminated": export.get("preferences_decontaminated")},
        "recording": recording,
        "pairs_used": export.get("pairs"), "heldout_pairs": ev.get("pairs"),
        "preference_accuracy_before": ev.get("accuracy_before"), "preference_accuracy_after": ev.get("accuracy_after"),
        "test": test, "validation": validation, "test_edits": test_edits, "validation_edits": validation_edits,
        "sweep": sweep, "chosen_recipe": str(recipe),
        "acceptance_before": before["accepted"], "acceptance_after": after["accepted"],
        "did_what_was_asked_before": before["did_what_was_asked"], "did_what_was_asked_after": after["did_what_was_asked"],
        "gate": state["steps"].get("decide", {}).get("reasons"), "promoted": state["steps"].get("decide", {}).get("ok"),
        "skipped": state.get("skipped"), "switch": switched, "seconds": {k: round(v, 1) for k, v in times.items()},
        "load_average": os.getloadavg(), "run": state.get("run_id"),
    }
    return summary


def main(argv: list[str] | None = None) -> int:
    print(json.dumps(run_cycle(parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

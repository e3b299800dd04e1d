"""``amigo train nightly``: feedback since the last watermark -> DPO (and SFT on corrections)
from the promoted model -> evaluate beside it -> promote or reject -> switch the server.

Every step records its result in ``RUN/state.json`` when it is done and is skipped
when it is found done, and every file a step writes lands by rename, so a run killed
at any point (``kill -9`` included) is finished by running the command again: the
unfinished run is picked up with the same feedback window, nothing is trained twice,
and the watermark moves only once the run's outcome is recorded. A ``flock`` keeps
two runs from overlapping; the kernel drops it when its holder dies.

Layout: ``$XDG_DATA_HOME/amigo/nightly/<served name>/``::

    lock                     held while a run is in progress
    watermark.json           the end of the feedback window already learnt from
    runs/<run id>/state.json plan and finished steps
    runs/<run id>/feedback/  dpo/, sft/ (the feedback package's exports), stage data
    runs/<run id>/train/     sft/ and dpo/ stages: adapter/, metrics.jsonl, loss.png
    runs/<run id>/report.html
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from amigo import xdg
from amigo.errors import ConfigError, InputError
from amigo_train.models import Registry

Log = Callable[[str], None]
STEPS = ("export", "train", "evaluate", "decide", "serve", "watermark")
PREFERENCE_TASK = "feedback-preference"
COMPLETION_PREFERENCE_TASK = "completion-preference"
# Held-out requests replayed through each model: does its greedy answer apply and pass the checks?
# The measure that says whether people would accept more edits, which preference accuracy alone
# does not (a candidate can rank held-out pairs better while writing answers that no longer apply).
EDITS_TASK = "feedback-edits"


@dataclass
class NightlySettings:
    """What one nightly run needs; the CLI fills it from flags."""

    served_name: str
    recipe: Path
    db: Path
    root: Path | None = None
    min_pairs: int = 20
    test_fraction: float = 0.2
    tolerance: float = 0.01
    alpha: float = 0.05
    eval_data_dir: str | None = None
    server_url: str | None = None
    registry: Path | None = None
    eval_tasks: tuple[str, ...] = ()
    eval_limit: int = 20
    eval_max_tokens: int = 512
    edit_requests: int = 40  # held-out requests replayed for the gate's edits measure (0: none)
    threads: int | None = None  # torch's CPU threads for training and evaluation (None: torch's default)
    now: float = field(default_factory=time.time)

    @property
    def home(self) -> Path:
        return (self.root or xdg.data_dir() / "nightly") / self.served_name


def rows(path: Path) -> list[dict[str, Any]]:
    """The JSON Lines rows of ``path``; none when a step wrote no such file (an empty split)."""
    from amigo_train.data import read_jsonl

    return read_jsonl(path) if path.is_file() else []


def write_json(path: Path, data: Any) -> None:
    """Write JSON by rename (a reader sees the old file or the new one, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


@contextmanager
def nightly_lock(home: Path) -> Iterator[None]:
    """Exclusive for the whole run; a second run fails at once, naming the holder."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise InputError(f"a nightly run for {home.name!r} is already in progress ({holder}); "
                             "wait for it, it holds " + str(home / "lock")) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC\n")
        fh.flush()
        yield


def watermark(home: Path) -> float:
    """The end of the feedback window the last finished run learnt from (0: none yet)."""
    path = home / "watermark.json"
    return float(json.loads(path.read_text())["until"]) if path.is_file() else 0.0


def open_run(settings: NightlySettings, registry: Registry) -> tuple[Path, dict[str, Any]]:
    """The unfinished run to continue, else a new one planned now (window, starting model)."""
    runs = settings.home / "runs"
    if runs.is_dir():
        for run in sorted(runs.iterdir(), reverse=True):
            state_path = run / "state.json"
            if state_path.is_file() and not json.loads(state_path.read_text()).get("finished"):
                return run, json.loads(state_path.read_text())
    return new_plan(settings, registry)


def new_plan(settings: NightlySettings, registry: Registry) -> tuple[Path, dict[str, Any]]:
    """Fix a new run's window and starting model (written to state.json before any work)."""
    promoted = registry.promoted(settings.served_name)
    if promoted is None:
        raise InputError(f"nothing is promoted under {settings.served_name!r}: register and promote a release "
                         f"first (`amigo train release RUN_DIR --name {settings.served_name} --promote`)")
    run_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime(settings.now))
    run = settings.home / "runs" / run_id
    state = {
        "run_id": run_id, "served_name": settings.served_name, "since": watermark(settings.home),
        "until": settings.now, "recipe": str(settings.recipe.resolve()), "db": str(settings.db),
        "promoted": promoted["id"], "release": promoted["files"]["release"],
        "start_adapter": promoted["files"].get("adapter"), "steps": {},
    }
    return run, state


def describe_plan(state: dict[str, Any], settings: NightlySettings) -> str:
    """The ``--dry-run`` text: what would run, on what, and what is already done."""
    done = state.get("steps", {})
    window = (f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(state['since'])) if state['since'] else 'the start'}"
              f" -> {time.strftime('%Y-%m-%d %H:%M', time.gmtime(state['until']))} UTC")
    lines = [f"nightly run {state['run_id']} for {state['served_name']!r}",
             f"  starting model: {state['promoted']} (release {state['release']}"
             + (f", adapter {state['start_adapter']})" if state.get("start_adapter") else ")"),
             f"  feedback window: {window} from {state['db']}",
             f"  recipe: {state['recipe']}"]
    what = {
        "export": "export DPO pairs and SFT (accepts + corrections) of edits and of inline completions, "
                  f"decontaminate; skip below {settings.min_pairs} pairs",
        "train": "SFT on corrections, then DPO, continuing the promoted adapter",
        "evaluate": "held-out feedback preference accuracy, and up to "
                    f"{settings.edit_requests} held-out requests answered (applies and passes the checks): "
                    "candidate beside promoted"
                    + (f"; {', '.join(settings.eval_tasks)} (first {settings.eval_limit} problems each, llama.cpp)"
                       if settings.eval_tasks else ""),
        "decide": f"paired gate (tolerance {settings.tolerance:.1%}, alpha {settings.alpha}): promote or reject; report.html",
        "serve": ("load the adapter into " + settings.server_url) if settings.server_url else
                 "write the GGUF for llama.cpp (no --server-url: no running server to switch)",
        "watermark": "advance the watermark to the window's end",
    }
    for step in STEPS:
        lines.append(f"  {'done' if step in done else 'todo'}  {step}: {what[step]}")
    return "\n".join(lines)


def planned_recipe(state: dict[str, Any], settings: NightlySettings, log: Log = print) -> Path:
    """The recipe a run trains with: the one its plan recorded, so that a resumed run trains as it
    was planned (and registers the recipe it really used), whatever ``--recipe`` the rerun names."""
    planned = Path(state["recipe"])
    if planned != settings.recipe.resolve():
        log(f"continuing run {state['run_id']} with the recipe it was planned with, {planned} "
            f"(--recipe {settings.recipe} applies from the next run)")
    if not planned.is_file():
        raise InputError(f"run {state['run_id']} was planned with the recipe {planned}, which is gone: put it back, "
                         f"or remove {settings.home / 'runs' / state['run_id']} to plan a new run")
    return planned


def run_nightly(settings: NightlySettings, *, dry_run: bool = False, log: Log = print) -> dict[str, Any]:
    """Run (or continue) the nightly cycle; returns the final state."""
    from amigo_train.recipe import load_recipe

    registry = Registry(settings.registry)
    load_recipe(settings.recipe)  # a bad --recipe is refused before anything runs
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    if dry_run:
        run, state = open_run(settings, registry)
        print(describe_plan(state, settings))
        return state
    with nightly_lock(settings.home):
        run, state = open_run(settings, registry)
        recipe = load_recipe(planned_recipe(state, settings, log))
        write_json(run / "state.json", state)
        steps: dict[str, Callable[[], dict[str, Any]]] = {
            "export": lambda: step_export(run, state, settings, recipe, log),
            "train": lambda: step_train(run, state, recipe, registry, log),
            "evaluate": lambda: step_evaluate(run, state, settings, log),
            "decide": lambda: step_decide(run, state, settings, registry, log),
            "serve": lambda: step_serve(run, state, settings, log),
            "watermark": lambda: step_watermark(state, settings),
        }
        for name in STEPS:
            if name in state["steps"]:
                continue
            if state.get("skipped") and name != "watermark":
                continue
            started = time.time()
            result = steps[name]()
            result["seconds"] = round(time.time() - started, 2)
            state["steps"][name] = result
            write_json(run / "state.json", state)
        state["finished"] = time.time()
        write_json(run / "state.json", state)
    return state


# The feedback package's exports each stage kind learns from: edits, and inline completions
# (accepted ones for SFT; typed-over suggestions as pairs, chosen = what the person typed).
FEEDBACK_EXPORTS = {"sft": ("sft", "sft-completions"), "dpo": ("dpo", "dpo-completions")}


def step_export(run: Path, state: dict[str, Any], settings: NightlySettings, recipe: Any, log: Log) -> dict[str, Any]:
    """The feedback package's exports for the window, then the recipe's stage data (decontaminated)."""
    from amigo_train.data import build_stage_data, write_jsonl
    from amigo_train.stage_data import decontaminator
    from feedback.export import export
    from feedback.store import Store

    if not Path(state["db"]).is_file():
        raise InputError(f"no feedback database at {state['db']}: nothing has been recorded yet; pass --db")
    fb = run / "feedback"
    result: dict[str, Any] = {}
    with Store(Path(state["db"])) as store:
        for fmt in ("dpo", "sft", "dpo-completions", "sft-completions", "requests"):
            # the window of what became known in it: a retention measured today of an edit accepted
            # before the last watermark is learnt tonight, not lost
            done = export(store, fmt, fb / fmt, state["since"], state["until"], settings.test_fraction,
                          corrections=fmt == "sft", window="ready")
            result[fmt] = done.manifest["counts"]
    index = decontaminator(recipe, settings.eval_data_dir, log)
    for stage in recipe.stages:
        sources = [fb / fmt / "jsonl" / "train.jsonl" for fmt in FEEDBACK_EXPORTS[stage.kind]]
        sources = [source for source in sources if source.is_file()]
        if not sources:
            result[stage.name] = 0
            continue
        # every export of the stage's kind through the stage's own adapter (they share the TRL shape)
        template = stage.data[0]
        data = build_stage_data(stage.model_copy(update={"data": [template.model_copy(update={"path": str(source)})
                                                                   for source in sources]}),
                                run, recipe.seed, 0.0, index)
        write_jsonl(fb / f"{stage.name}.jsonl", data.train)
        result[stage.name] = len(data.train)
        result[f"{stage.name}_decontaminated"] = len(data.dropped)
    result["heldout"] = len(rows(fb / "dpo" / "jsonl" / "test.jsonl"))
    result["heldout_completions"] = len(rows(fb / "dpo-completions" / "jsonl" / "test.jsonl"))
    result["heldout_requests"] = len(rows(fb / "requests" / "jsonl" / "test.jsonl"))
    pairs = sum(result.get(s.name, 0) for s in recipe.stages if s.kind == "dpo")
    result["pairs"] = pairs
    if pairs < settings.min_pairs:
        state["skipped"] = (f"only {pairs} new preference pairs since the last run (fewer than --min-pairs "
                            f"{settings.min_pairs}); nothing trained, the feedback waits for the next run")
        log(state["skipped"])
    return result


def step_train(run: Path, state: dict[str, Any], recipe: Any, registry: Registry, log: Log) -> dict[str, Any]:
    """The recipe's stages in order, each continuing the adapter the one before left."""
    from amigo_train.nightly_train import train_continued

    adapter = Path(state["start_adapter"]) if state.get("start_adapter") else None
    stages = {}
    for stage in recipe.stages:
        examples = rows(run / "feedback" / f"{stage.name}.jsonl")
        if not examples:
            log(f"nightly {stage.name}: no examples in this window, skipped")
            continue
        stages[stage.name] = train_continued(recipe, stage, examples, Path(state["release"]), adapter,
                                             run / "train" / stage.name, log)
        adapter = run / "train" / stage.name / "adapter"
    if adapter is None or not stages:
        raise ConfigError("no nightly stage had data; check the recipe's stage kinds (sft, dpo)")
    candidate = f"{state['served_name']}-nightly-{state['run_id']}"
    registry.register(candidate, kind="adapter", served_name=state["served_name"], base=state["promoted"],
                      recipe=state["recipe"], files={"release": state["release"], "adapter": str(adapter)},
                      data_window={"since": state["since"], "until": state["until"],
                                   "datasets": state["steps"]["export"]})
    state["candidate"] = candidate
    return {"candidate": candidate, "adapter": str(adapter), "stages": stages}


def step_evaluate(run: Path, state: dict[str, Any], settings: NightlySettings, log: Log) -> dict[str, Any]:
    """Held-out preference accuracy of the promoted model and of the candidate, pair by pair (edit
    pairs; inline-completion pairs apart, when there are some), and the ``--eval-task`` benchmarks on both."""
    from amigo_train.nightly_train import preference_outcomes

    pairs = rows(run / "feedback" / "dpo" / "jsonl" / "test.jsonl")
    completion_pairs = rows(run / "feedback" / "dpo-completions" / "jsonl" / "test.jsonl")
    release = Path(state["release"])
    start = Path(state["start_adapter"]) if state.get("start_adapter") else None
    before = preference_outcomes(release, start, pairs + completion_pairs)
    after = preference_outcomes(release, Path(state["steps"]["train"]["adapter"]), pairs + completion_pairs)
    n = len(pairs)
    result = {"pairs": n, "promoted": before[:n], "candidate": after[:n],
              "accuracy_before": _mean(before[:n]), "accuracy_after": _mean(after[:n])}
    log(f"held-out preference accuracy on {n} edit pairs: promoted {result['accuracy_before']}, "
        f"candidate {result['accuracy_after']}")
    if completion_pairs:
        result["completions"] = {"pairs": len(completion_pairs), "promoted": before[n:], "candidate": after[n:],
                                 "accuracy_before": _mean(before[n:]), "accuracy_after": _mean(after[n:])}
        log(f"held-out preference accuracy on {len(completion_pairs)} inline-completion pairs: promoted "
            f"{result['completions']['accuracy_before']}, candidate {result['completions']['accuracy_after']}")
    requests = rows(run / "feedback" / "requests" / "jsonl" / "test.jsonl")[:settings.edit_requests]
    if requests:
        result["edits"] = replay_both(run, state, requests, settings, log)
    if settings.eval_tasks:
        result["tasks"] = benchmark_both(run, state, settings, log)
    return result


def replay_both(run: Path, state: dict[str, Any], requests: list[dict[str, Any]], settings: NightlySettings,
                log: Log) -> dict[str, Any]:
    """Each held-out request through the promoted model and the candidate (greedy): 1 where the
    answer applies to the file as it was and passes the engine's checks. Answers land in
    ``RUN/eval/edits-<label>.jsonl`` (the report shows those whose verdict changed); a rerun
    after a crash keeps a model's answers already written.

    Both models answer the same way: served by llama.cpp from their GGUFs when both have one
    (the candidate's is the one the serve step then switches to), else generated by
    transformers from the release and adapters."""
    from amigo_train.data import write_jsonl
    from amigo_train.nightly_train import edit_outcomes, greedy_answers, served_answers

    release = Path(state["release"])
    adapters = {"promoted": Path(state["start_adapter"]) if state.get("start_adapter") else None,
                "candidate": Path(state["steps"]["train"]["adapter"])}
    ggufs = evaluation_ggufs(run, state, settings, log)
    route = "llama.cpp (GGUF)" if ggufs else "transformers"
    ids = [r["request_id"] for r in requests]
    prompts = [r["prompt"] for r in requests]
    result: dict[str, Any] = {"requests": len(requests), "request_ids": ids, "route": route}
    for label, adapter in adapters.items():
        path = run / "eval" / f"edits-{label}.jsonl"
        outcomes = rows(path) if path.is_file() else []
        if [o["request_id"] for o in outcomes] != ids or any(o.get("route") != route for o in outcomes):
            started = time.time()
            if ggufs:
                answers = served_answers(Path(ggufs[label]), prompts, settings.eval_max_tokens, settings.threads,
                                         run / f"eval-{label}-server.log")
            else:
                answers = list(greedy_answers(release, adapter, prompts, settings.eval_max_tokens))
            outcomes = [{**o, "route": route} for o in edit_outcomes(requests, answers)]
            write_jsonl(path, outcomes)
            result[f"seconds_{label}"] = round(time.time() - started, 1)
        result[label] = [o["passes"] for o in outcomes]
        result[f"pass_{label}"] = _mean(result[label])
    log(f"held-out requests whose answer applies and passes the checks ({len(requests)}, {route}): "
        f"promoted {result['pass_promoted']}, candidate {result['pass_candidate']}")
    return result


def evaluation_ggufs(run: Path, state: dict[str, Any], settings: NightlySettings, log: Log) -> dict[str, str]:
    """The promoted model's GGUF (from the registry) and the candidate's (its adapter merged onto
    the release, in ``RUN/serve`` where the serve step finds it); empty unless both exist."""
    from amigo_train.release import adapter_on_release

    promoted = Registry(settings.registry).get(state["promoted"])["files"].get("gguf")
    if not promoted or not Path(promoted).is_file():
        log(f"{state['promoted']} has no GGUF: held-out answers are generated with transformers")
        return {}
    try:
        candidate = adapter_on_release(Path(state["release"]), Path(state["steps"]["train"]["adapter"]),
                                       run / "serve", log)
    except ConfigError as exc:
        log(f"the candidate has no GGUF ({exc}): held-out answers are generated with transformers")
        return {}
    return {"promoted": str(promoted), "candidate": str(candidate)}


def _mean(outcomes: list[int]) -> float | None:
    return sum(outcomes) / len(outcomes) if outcomes else None


def benchmark_both(run: Path, state: dict[str, Any], settings: NightlySettings, log: Log) -> dict[str, Any]:
    """The evaluation tasks (a subset of each) on the promoted model and on the candidate, each
    served by llama.cpp from its GGUF exactly as it would be served; run folders under ``RUN/eval``.

    A rerun after a crash reuses every answer already generated (the runs' generation cache)."""
    from amigo.serve import ServerProcess
    from amigo_train.eval.runner import RunConfig, run_eval

    ggufs = evaluation_ggufs(run, state, settings, log)
    if not ggufs:
        raise ConfigError(f"{state['promoted']} or the candidate has no GGUF to serve for the evaluation tasks; "
                          "run without --eval-task or give it one (amigo train release writes it for llama models)")
    scores: dict[str, Any] = {}
    for label, gguf in ggufs.items():
        with ServerProcess(model_path=Path(gguf), backend="llama-cpp-python", n_ctx=4096,
                           log_path=run / f"eval-{label}-server.log") as server:
            for task in settings.eval_tasks:
                config = RunConfig(task=task, model=server.alias, endpoint=server.base_url, limit=settings.eval_limit,
                                   max_tokens=settings.eval_max_tokens, concurrency=1, data_dir=settings.eval_data_dir)
                record = run_eval(config, run / "eval" / label / task, progress=log)
                scores.setdefault(task, {})[label] = record["summary"].get("pass@1")
    log(f"evaluation tasks: {json.dumps(scores)}")
    return scores


def _as_run(label: str, outcomes: list[int], task: str) -> Any:
    """Per-pair outcomes as an evaluation run, so the existing paired gate judges them."""
    from amigo_train.eval.runner import RunResult

    problems = {f"pair-{i}": {"c": c, "n": 1} for i, c in enumerate(outcomes)}
    return RunResult(Path(label), {"task": task}, problems)


def step_decide(run: Path, state: dict[str, Any], settings: NightlySettings, registry: Registry,
                log: Log) -> dict[str, Any]:
    """The paired gate on the evaluation; promote or reject; write report.html."""
    from amigo_train.eval.gate import gate, gate_markdown

    from amigo_train.eval.runner import load_run

    ev = state["steps"]["evaluate"]
    baseline = {PREFERENCE_TASK: _as_run("promoted", ev["promoted"], PREFERENCE_TASK)}
    candidate = {PREFERENCE_TASK: _as_run("candidate", ev["candidate"], PREFERENCE_TASK)}
    if ev.get("completions"):
        for runs, label in ((baseline, "promoted"), (candidate, "candidate")):
            runs[COMPLETION_PREFERENCE_TASK] = _as_run(label, ev["completions"][label], COMPLETION_PREFERENCE_TASK)
    if ev.get("edits"):
        for runs, label in ((baseline, "promoted"), (candidate, "candidate")):
            runs[EDITS_TASK] = _as_run(label, ev["edits"][label], EDITS_TASK)
    for task in ev.get("tasks", {}):
        baseline[task] = load_run(run / "eval" / "promoted" / task)
        candidate[task] = load_run(run / "eval" / "candidate" / task)
    result = gate(baseline, candidate, tolerance=settings.tolerance, alpha=settings.alpha)
    section = gate_markdown(result, state["promoted"], state["candidate"])
    report = write_report(run, state, section)
    verdict = {"ok": result.ok, "reasons": [v.reason for v in result.verdicts], "report": str(report)}
    measures = {PREFERENCE_TASK: {"before": ev["accuracy_before"], "after": ev["accuracy_after"], "pairs": ev["pairs"]}}
    if ev.get("edits"):
        measures[EDITS_TASK] = {"before": ev["edits"]["pass_promoted"], "after": ev["edits"]["pass_candidate"],
                                "requests": ev["edits"]["requests"]}
    registry.set_fields(state["candidate"], eval=measures, gate=verdict, report=str(report))
    if result.ok:
        registry.promote(state["candidate"])
        log(f"promoted {state['candidate']} as {state['served_name']!r}; report {report}")
    else:
        entry = registry.get(state["candidate"])
        if entry["status"] == "candidate":
            registry.reject(state["candidate"], "; ".join(verdict["reasons"]))
        log(f"rejected {state['candidate']}: {'; '.join(verdict['reasons'])}; report {report}")
    return verdict


def write_report(run: Path, state: dict[str, Any], gate_section: str) -> Path:
    """report.html: the window, the loss curves, the gate table, pairs whose ranking changed."""
    from amigo_train.eval.report import markdown_to_html

    ev = state["steps"]["evaluate"]
    parts = [f"# Nightly run {state['run_id']} ({state['served_name']})", "",
             f"Starting model `{state['promoted']}`, candidate `{state['candidate']}`; "
             f"{state['steps']['export']['pairs']} training pairs, {ev['pairs']} held-out pairs.", "",
             "| measure | promoted | candidate |", "| --- | ---: | ---: |",
             f"| held-out preference accuracy (edits) | {ev['accuracy_before']} | {ev['accuracy_after']} |"]
    if ev.get("completions"):
        parts.append(f"| held-out preference accuracy (inline completions, {ev['completions']['pairs']} pairs) | "
                     f"{ev['completions']['accuracy_before']} | {ev['completions']['accuracy_after']} |")
    if ev.get("edits"):
        parts.append(f"| held-out requests whose answer applies and passes the checks ({ev['edits']['requests']}) | "
                     f"{ev['edits']['pass_promoted']} | {ev['edits']['pass_candidate']} |")
    parts += ["", gate_section, ""]
    images = {}
    for stage in sorted((run / "train").glob("*/loss.png")):
        name = f"{stage.parent.name}-loss.png"
        images[name] = stage.read_bytes()
        parts += [f"## Loss: {stage.parent.name}", "", f"![{stage.parent.name}]({name})", ""]
    changed = [i for i, (a, b) in enumerate(zip(ev["promoted"], ev["candidate"])) if a != b]
    parts += ["## Held-out pairs whose ranking changed", "", "| pair | promoted | candidate |", "| --- | --- | --- |"]
    parts += [f"| {i} | {'right' if ev['promoted'][i] else 'wrong'} | {'right' if ev['candidate'][i] else 'wrong'} |"
              for i in changed] or ["| (none) | - | - |"]
    parts += _changed_answers(run)
    path = run / "report.html"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(markdown_to_html("\n".join(parts), images), encoding="utf-8")
    tmp.replace(path)
    return path


def _changed_answers(run: Path, shown: int = 5) -> list[str]:
    """Report lines: held-out requests whose verdict changed, with both answers."""
    before, after = rows(run / "eval" / "edits-promoted.jsonl"), rows(run / "eval" / "edits-candidate.jsonl")
    if not before:
        return []
    changed = [(b, a) for b, a in zip(before, after) if b["passes"] != a["passes"]]
    parts = ["## Held-out requests whose answer changed verdict", "",
             f"{len(changed)} of {len(before)} ({sum(a['passes'] > b['passes'] for b, a in changed)} now pass); "
             f"the first {min(shown, len(changed))}:", ""]
    for b, a in changed[:shown]:
        parts += [f"### {b['request_id']}", ""]
        for label, row in (("promoted", b), ("candidate", a)):
            verdict = "passes" if row["passes"] else f"fails: {row['why']}"
            parts += [f"{label} ({verdict}):", "", "````", row["answer"][:2000], "````", ""]
    return parts


def step_serve(run: Path, state: dict[str, Any], settings: NightlySettings, log: Log) -> dict[str, Any]:
    """Make the promoted model servable by llama.cpp (GGUF) and switch a running vLLM to it."""
    from amigo_train.release import adapter_on_release

    if not state["steps"]["decide"]["ok"]:
        return {"switched": False, "why": "candidate rejected; the server keeps the promoted model"}
    adapter = Path(state["steps"]["train"]["adapter"])
    result: dict[str, Any] = {"switched": False}
    try:
        result["gguf"] = str(adapter_on_release(Path(state["release"]), adapter, run / "serve", log))
    except ConfigError as exc:
        result["gguf"] = None
        result["gguf_note"] = str(exc)
    if result["gguf"]:
        entry = Registry(settings.registry).get(state["candidate"])
        Registry(settings.registry).set_fields(state["candidate"], files={**entry["files"], "gguf": result["gguf"]})
    result["restarted"] = signal_llama_cpp_server(state["served_name"], settings.registry)
    if settings.server_url:
        from amigo.serve import load_lora_adapter

        load_lora_adapter(settings.server_url, settings.served_name, adapter)
        result.update(switched=True, server=settings.server_url)
        log(f"{settings.server_url} now serves {adapter} as {settings.served_name!r}")
    return result


def signal_llama_cpp_server(served_name: str, registry: Path | None) -> bool:
    """Tell a running ``amigo serve --promoted NAME`` (llama.cpp) to restart on the new GGUF."""
    import signal

    from amigo_train.models import serve_pid_path

    try:
        os.kill(int(serve_pid_path(served_name, registry).read_text().strip()), signal.SIGHUP)
    except (OSError, ValueError):
        return False  # no such server running: it loads the promoted model when it starts
    return True


def step_watermark(state: dict[str, Any], settings: NightlySettings) -> dict[str, Any]:
    """Advance the watermark, unless the run was skipped for lack of pairs (the feedback waits)."""
    if state.get("skipped"):
        return {"advanced": False, "why": state["skipped"]}
    write_json(settings.home / "watermark.json", {"until": state["until"], "run_id": state["run_id"]})
    return {"advanced": True, "until": state["until"]}

"""`amigo train nightly` on a tiny model: feedback recorded through the real recorder, export since
the watermark, DPO from the promoted release, gate, registry, report; a run killed between steps
is finished by running it again; a second run with no new feedback is skipped; two never overlap."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amigo_train import cli

from eval.eval_data import write_fixture_data
from train_records import tiny_recipe

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "feedback"))
from feedback_helpers import CALC, Maker, commit_all, git  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
RELEASE_STAGES = """  - name: one
    data: [{path: data/commits.jsonl, adapter: commitpackft}]
    train: {max_steps: 1}
"""
NIGHTLY = """name: tiny-nightly
base_model: {model}
output_dir: unused
precision: fp32
gradient_checkpointing: false
lora: {{r: 4, alpha: 8, dropout: 0.0}}
defaults: {{max_steps: 3, max_length: 1024, logging_steps: 1, per_device_batch_size: 2, learning_rate: 0.01}}
stages:
  - name: corrections
    data: [{{path: feedback/sft.jsonl, adapter: feedback_sft}}]
    train: {{max_steps: 1}}
  - name: preferences
    kind: dpo
    data: [{{path: feedback/dpo.jsonl, adapter: preference_edit}}]
    train: {{sft_weight: 1.0}}
"""
FUNCS = ["add", "sub", "mul"]


def record_completions(bus: object, count: int, tag: str) -> None:
    """``count`` inline completions on the chat route, as amigo.complete makes them: even ones
    taken (one partly), odd ones typed over (the person wrote something else there)."""
    from amigo.complete import Shape, chat_messages
    from amigo.events import CompletionAcceptedEvent, CompletionRejectedEvent, CompletionShownEvent, Suggestion

    for i in range(count):
        prefix, suffix = f"def scale_{i}(x):\n    return ", "\n"
        prompt = json.dumps(chat_messages("calc.py", prefix, suffix, Shape("line")))
        s = Suggestion(f"{tag}-c{i}", "calc.py", "python", prefix, suffix, f"x + {i}", "line", "chat", prompt,
                       "smollm2-135m-instruct")
        bus.publish(CompletionShownEvent(s))  # type: ignore[attr-defined]
        if i % 2 == 0:
            bus.publish(CompletionAcceptedEvent(s, s.text if i % 4 == 0 else "x"))  # type: ignore[attr-defined]
        else:
            bus.publish(CompletionRejectedEvent(s, "typed-over", f"x * {i}"))  # type: ignore[attr-defined]


def record_feedback(root: Path, count: int, tag: str, completions: int = 0) -> Path:
    """``count`` retry pairs (a wrong answer, then an accepted retry), one correction and
    ``completions`` inline completions, recorded through the feedback recorder on a real
    EventBus; returns the database."""
    from amigo.events import AcceptedEvent, EventBus, ProposalEvent, RejectedEvent, RetriedEvent
    from feedback import attach, follow_up
    from feedback.settings import FeedbackSettings, db_path

    settings = FeedbackSettings(correction_window_s=600)
    bus = EventBus()
    recorder = attach(bus, root, settings)
    record_completions(bus, completions, tag)
    make = Maker(root)
    for i in range(count):
        name = FUNCS[i % 3]
        instruction = f"{tag} {i}: make {name} check that both arguments are numbers"
        good = CALC.replace(f"def {name}(a, b):\n", f"def {name}(a, b):\n    assert isinstance(a, (int, float))\n")
        bad = make(instruction=instruction, answer=f"I changed {name} (attempt {i}).")
        retry = make(instruction=instruction, new=good, parent=bad)
        for event in (ProposalEvent(bad), ProposalEvent(retry), RetriedEvent(bad, retry),
                      AcceptedEvent(retry, None, None, (("calc.py", good),))):
            bus.publish(event)
    rejected = make(instruction=f"{tag}: make mul return an int", answer="a wrong answer")
    bus.publish(ProposalEvent(rejected))
    bus.publish(RejectedEvent(rejected))
    recorder.close()
    (root / "calc.py").write_text(CALC.replace("    return a * b\n", "    return int(a * b)\n"))
    assert follow_up(root, settings).corrections == 1  # the person's own fix, captured
    (root / "calc.py").write_text(CALC)
    return db_path(settings)


@pytest.fixture
def setup(tmp_path: Path, tiny_model: Path, commit_file: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(var, "Test")
    for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(var, "test@example.com")
    from amigo_train.base_model import embedded_gguf

    recipe = tiny_recipe(tmp_path, tiny_model, RELEASE_STAGES)
    assert cli.main(["run", str(recipe)]) == 0
    registry = tmp_path / "registry.json"
    assert cli.main(["release", str(tmp_path / "run"), "--template-gguf", str(embedded_gguf()), "--name", "tiny",
                     "--promote", "--registry", str(registry)]) == 0
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "calc.py").write_text(CALC)
    commit_all(repo, "initial")
    nightly = tmp_path / "nightly-tiny.yaml"
    nightly.write_text(NIGHTLY.format(model=tiny_model))
    return {"repo": repo, "registry": registry, "recipe": nightly, "root": tmp_path / "nightly", "tmp": tmp_path,
            "eval_data": write_fixture_data(tmp_path / "eval-data")}


def _argv(s: dict[str, Path], db: Path) -> list[str]:
    return ["nightly", "--name", "tiny", "--recipe", str(s["recipe"]), "--db", str(db), "--root", str(s["root"]),
            "--registry", str(s["registry"]), "--min-pairs", "6", "--test-fraction", "0.3",
            "--eval-task", "humaneval", "--eval-limit", "2", "--data-dir", str(s["eval_data"])]


def _state(root: Path) -> tuple[Path, dict]:
    (run,) = sorted((root / "tiny" / "runs").iterdir())[-1:]
    return run, json.loads((run / "state.json").read_text())


def _steps_so_far(root: Path) -> dict:
    """The newest run's finished steps, none while it has no state yet (its folder is made
    before its state.json is written)."""
    runs = root / "tiny" / "runs"
    newest = sorted(runs.iterdir())[-1:] if runs.is_dir() else []
    if not newest or not (newest[0] / "state.json").is_file():
        return {}
    return json.loads((newest[0] / "state.json").read_text())["steps"]


def test_a_nightly_cycle_killed_between_steps_finishes_once(setup: dict[str, Path], capsys) -> None:  # type: ignore[no-untyped-def]
    from amigo_train.models import Registry

    db = record_feedback(setup["repo"], 12, "first", completions=16)
    assert cli.main(_argv(setup, db) + ["--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "todo  export" in plan and "todo  train" in plan and "starting model: tiny-release-run" in plan
    assert not (setup["root"] / "tiny" / "runs").exists()  # a dry run changes nothing

    # kill -9 once the export is recorded, before training finishes
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "amigo_train.cli", *_argv(setup, db)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            assert proc.poll() is None, "the run ended before it could be killed"
            if "export" in _steps_so_far(setup["root"]):
                break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    run, state = _state(setup["root"])
    assert "export" in state["steps"] and "decide" not in state["steps"] and not state.get("finished")
    export_mtime = (run / "feedback" / "dpo" / "manifest.json").stat().st_mtime
    exported = state["steps"]["export"]
    assert exported["pairs"] >= 6 and exported["dpo"]["by_source"] == {"retry": 12, "correction": 1}
    assert exported["sft"]["by_source"] == {"correction": 1}  # the person's fix is an SFT target too
    # (on the split's same side as its pair: a held-out pair's correction is never trained on)
    # inline completions: taken ones are SFT examples, typed-over ones preference pairs, both trained on
    completion_pairs, taken = exported["dpo-completions"], exported["sft-completions"]
    assert completion_pairs["by_source"] == {"completion-typed": 8} and taken["by_source"] == {"completion-accepted": 8}
    assert completion_pairs["test"] > 0 and completion_pairs["train"] > 0
    assert exported["preferences"] == exported["dpo"]["train"] + completion_pairs["train"]
    assert exported["corrections"] == exported["sft"]["train"] + taken["train"]
    preferences = [json.loads(x) for x in (run / "feedback" / "preferences.jsonl").read_text().splitlines()]
    typed = [p for p in preferences if p["chosen"][0]["content"].startswith("x * ")]
    assert len(typed) == completion_pairs["train"] and all("<|cursor|>" in p["prompt"][-1]["content"] for p in typed)

    assert cli.main(_argv(setup, db)) == 0  # the same run, finished
    run2, state = _state(setup["root"])
    assert run2 == run and state["finished"]
    assert (run / "feedback" / "dpo" / "manifest.json").stat().st_mtime == export_mtime  # not exported twice
    assert set(state["steps"]) == {"export", "train", "evaluate", "decide", "serve", "watermark"}
    entry = Registry(setup["registry"]).get(state["candidate"])
    assert entry["files"]["adapter"] == state["steps"]["train"]["adapter"] and entry["base"] == "tiny-release-run"
    assert entry["status"] == ("promoted" if state["steps"]["decide"]["ok"] else "rejected")
    assert entry["data_window"]["until"] == state["until"] and entry["gate"]["report"].endswith("report.html")
    report = (run / "report.html").read_text()
    assert "Promotion gate" in report and "feedback-preference" in report and "humaneval" in report
    assert set(state["steps"]["evaluate"]["tasks"]["humaneval"]) == {"promoted", "candidate"}
    assert state["steps"]["evaluate"]["pairs"] == len(state["steps"]["evaluate"]["candidate"]) > 0
    # every request asked (12 retried, 1 corrected), once; the held-out ones answered by both models
    assert exported["requests"]["total"] == 13 and exported["heldout_requests"] == exported["requests"]["test"]
    edits = state["steps"]["evaluate"].get("edits", {"requests": 0})
    assert edits["requests"] == exported["requests"]["test"]
    if edits["requests"]:
        assert len(edits["promoted"]) == len(edits["candidate"]) == edits["requests"]
        assert "feedback-edits" in report and (run / "eval" / "edits-candidate.jsonl").is_file()
        # both answered by llama.cpp from their GGUFs; the candidate's is the file the serve step uses
        assert edits["route"] == "llama.cpp (GGUF)" and (run / "serve" / "model.gguf").is_file()
    completions = state["steps"]["evaluate"]["completions"]  # held out apart, and gated on too
    assert completions["pairs"] == len(completions["candidate"]) == exported["dpo-completions"]["test"]
    assert "completion-preference" in report and "inline completions" in report
    if state["steps"]["decide"]["ok"]:
        assert Path(state["steps"]["serve"]["gguf"]).is_file() and entry["files"]["gguf"] == state["steps"]["serve"]["gguf"]
    watermark = json.loads((setup["root"] / "tiny" / "watermark.json").read_text())
    assert watermark["until"] == state["until"]
    if edits["requests"]:
        # a promoted model with no GGUF: both models answer through transformers instead
        from amigo_train.nightly import NightlySettings, replay_both

        registry = Registry(setup["registry"])
        files = registry.get(state["promoted"])["files"]
        registry.set_fields(state["promoted"], files={k: v for k, v in files.items() if k != "gguf"})
        said: list[str] = []
        settings = NightlySettings(served_name="tiny", recipe=setup["recipe"], db=db, registry=setup["registry"],
                                   eval_max_tokens=32)
        requests = [json.loads(x) for x in (run / "feedback" / "requests" / "jsonl" / "test.jsonl").read_text().splitlines()]
        again = replay_both(run, state, requests, settings, said.append)
        assert again["route"] == "transformers" and "has no GGUF" in said[0]
        assert len(again["promoted"]) == len(again["candidate"]) == len(requests)
        answered = [json.loads(x) for x in (run / "eval" / "edits-promoted.jsonl").read_text().splitlines()]
        assert [o["request_id"] for o in answered] == again["request_ids"] and {o["route"] for o in answered} == {"transformers"}
        registry.set_fields(state["promoted"], files=files)

    # nothing new since the watermark: skipped, says why, the watermark stays
    assert cli.main(_argv(setup, db)) == 0
    out = capsys.readouterr().out
    assert "only 0 new preference pairs" in out and "--min-pairs 6" in out
    assert json.loads((setup["root"] / "tiny" / "watermark.json").read_text()) == watermark


def test_two_runs_never_overlap(setup: dict[str, Path], capsys) -> None:  # type: ignore[no-untyped-def]
    import fcntl

    db = record_feedback(setup["repo"], 2, "lock")
    home = setup["root"] / "tiny"
    home.mkdir(parents=True)
    with open(home / "lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("pid 1 (the test)\n")
        held.flush()
        assert cli.main(_argv(setup, db)) == 1  # refused (exit codes: 1 refused or failed)
    err = capsys.readouterr().err
    assert "already in progress (pid 1 (the test))" in err


def test_a_resumed_run_trains_with_the_recipe_it_was_planned_with(tmp_path: Path) -> None:
    """A rerun naming another --recipe continues the unfinished run as planned (and says so);
    a planned recipe that is gone is refused with what to do, not replaced silently."""
    from amigo.errors import InputError
    from amigo_train.nightly import NightlySettings, planned_recipe

    planned, other = tmp_path / "planned.yaml", tmp_path / "other.yaml"
    planned.write_text("name: planned\n")
    other.write_text("name: other\n")
    settings = NightlySettings(served_name="loop", recipe=other, db=tmp_path / "fb.db", root=tmp_path / "home")
    state = {"run_id": "20261202-000000", "recipe": str(planned.resolve())}
    said: list[str] = []
    assert planned_recipe(state, settings, said.append) == planned.resolve()
    assert said and "planned with" in said[0] and str(other) in said[0]
    planned.unlink()
    with pytest.raises(InputError, match="which is gone"):
        planned_recipe(state, settings, said.append)


def test_the_gate_rejects_a_candidate_whose_answers_stop_applying(tmp_path: Path) -> None:
    """Held-out preference accuracy can rise while the answers a person would get stop applying
    (measured on the embedded model: 0.80 -> 0.93 while the reviewer's acceptance fell 75% -> 6%).
    The held-out requests' verdicts are a gate task of their own; the report shows the answers."""
    from amigo_train.models import Registry
    from amigo_train.nightly import NightlySettings, step_decide, write_json

    registry = Registry(tmp_path / "registry.json")
    registry.register("rel", kind="release", served_name="loop", base="tiny", files={"release": "R"})
    registry.promote("rel")
    registry.register("cand", kind="adapter", served_name="loop", base="rel", files={"release": "R"})
    run = tmp_path / "run"
    n = 16
    state = {"run_id": "r1", "served_name": "loop", "promoted": "rel", "candidate": "cand", "steps": {
        "export": {"pairs": 30},
        "evaluate": {"pairs": n, "promoted": [0] * 4 + [1] * 12, "candidate": [1] * n,
                     "accuracy_before": 0.75, "accuracy_after": 1.0,
                     "edits": {"requests": n, "request_ids": [f"q{i}" for i in range(n)],
                               "promoted": [1] * 12 + [0] * 4, "candidate": [0] * 14 + [1] * 2,
                               "pass_promoted": 0.75, "pass_candidate": 0.125}}}}
    for label, outcomes in (("promoted", state["steps"]["evaluate"]["edits"]["promoted"]),
                            ("candidate", state["steps"]["evaluate"]["edits"]["candidate"])):
        rows = [{"request_id": f"q{i}", "passes": c, "why": None if c else "the answer changes nothing",
                 "answer": f"```python\nanswer {i} of the {label}\n```"} for i, c in enumerate(outcomes)]
        (run / "eval").mkdir(parents=True, exist_ok=True)
        (run / "eval" / f"edits-{label}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_json(run / "state.json", state)
    settings = NightlySettings(served_name="loop", recipe=tmp_path / "r.yaml", db=tmp_path / "fb.db",
                               registry=registry.path)
    verdict = step_decide(run, state, settings, registry, print)
    assert not verdict["ok"]
    assert any(reason.startswith("regressed") for reason in verdict["reasons"])  # the edits task, not preference
    entry = registry.get("cand")
    assert entry["status"] == "rejected" and registry.promoted("loop")["id"] == "rel"
    assert entry["eval"]["feedback-edits"] == {"before": 0.75, "after": 0.125, "requests": n}
    report = (run / "report.html").read_text()
    assert "feedback-edits" in report and "applies and passes the checks (16)" in report
    assert "14 of 16 (2 now pass)" in report and "<pre>```python\nanswer 0 of the promoted\n```</pre>" in report

    # the same candidate with answers that still apply is promoted on its preference gain
    state["steps"]["evaluate"]["edits"]["candidate"] = [1] * 12 + [0] * 4
    state["candidate"] = "cand2"
    registry.register("cand2", kind="adapter", served_name="loop", base="rel", files={"release": "R"})
    assert step_decide(run, state, settings, registry, print)["ok"]
    assert registry.promoted("loop")["id"] == "cand2"


def test_a_request_longer_than_the_servers_context_is_a_failed_answer_with_its_cause() -> None:
    """One held-out request the served model cannot take must not lose the night's evaluation:
    it is judged a failure for that model, with the server's own reason."""
    from amigo.errors import ModelServerError
    from amigo.serve import embedded_model_path
    from amigo_train.nightly_train import edit_outcomes, served_answers

    short = [{"role": "user", "content": "Say hello."}]
    too_long = [{"role": "user", "content": "word " * 3000}]
    answers = served_answers(embedded_model_path(), [short, too_long], max_tokens=8, n_ctx=1024)
    assert isinstance(answers[0], str) and answers[0].strip()
    # the server's own reason, on either route (llama-server: "exceeds the available context size";
    # llama-cpp-python: "maximum context length", given to a plain request after an empty stream)
    assert isinstance(answers[1], ModelServerError) and "context" in str(answers[1])
    row = {"request_id": "r", "instruction": "say hello", "path": "a.py", "file_text": "x = 1\n",
           "selection_start": None, "selection_end": None, "edit_format": "whole"}
    refused = edit_outcomes([row], [answers[1]])[0]
    assert refused["passes"] == 0 and refused["why"] == f"no answer: {answers[1]}"

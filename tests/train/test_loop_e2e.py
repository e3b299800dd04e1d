"""The closed loop end to end on CPU with the embedded model (issue 17's proof), CI-sized.

Real edit sessions (real standard-library functions, one plausible commit each) are replayed
through the engine against `amigo serve --promoted loop` (llama.cpp); the scripted reviewer
accepts answers that apply, change the file and pass the checks (the engine's check stage and
``python -m py_compile`` as the session's check command) and rejects the rest, then makes the
committed change by hand; the real feedback recorder keeps everything and follow-up captures the
corrections; `amigo train nightly` (run_nightly) exports, trains (SFT + DPO, one step each),
evaluates held-out pairs and held-out requests (the model's answers, judged like the reviewer
judges them), gates, promotes and writes the GGUF; the running server restarts on
it with draining while a client keeps sending requests (none may fail); a second replay on
other tasks runs against the new model. It drives ``benchmarks/loop.py``, the benchmark that
measures the same cycle at full size, with tiny counts.

Marked ``slow`` and ``e2e``; in the default run (``make test``; alone: ``make test-e2e``). Each
task's split (train or test) is fixed by the benchmark and its request id chosen so that the
export's hash split agrees, so both sides always hold tasks. With random request ids the hash could
put every pair on one side, the likely cause of the two failures recorded before (one run held no
pair out, one exported none to train on); a failure prints the export's counts and the reviewer's
rates, so it names its cause.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(1800)]
ROOT = Path(__file__).resolve().parents[2]


def _loop_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("loop_benchmark", ROOT / "benchmarks" / "loop.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_feedback_trains_promotes_and_the_served_model_changes(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("trl")
    pytest.importorskip("llama_cpp")
    from amigo_train.models import Registry

    out = tmp_path / "loop"
    for var in ("XDG_DATA_HOME", "XDG_STATE_HOME"):  # run_cycle points them into `out`; restored after
        monkeypatch.setenv(var, str(tmp_path / var))
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(var, "loop-test")
    loop = _loop_module()
    # --tolerance 1: the gate's judgement is tested in tests/eval; on two or three held-out pairs one
    # flipped ranking is a third of them, and this test is about the promotion and the switch.
    # --max-tokens 48: answers cut that short seldom apply, so the reviewer rejects most and both
    # splits get correction pairs whatever the model writes (an answer that does not apply makes its
    # whole file the correction's region; one that applies elsewhere than the commit's change gets
    # no correction, and at 160 tokens the model's answers pass the reviewer about half the time)
    args = loop.parse_args(["--tasks", "6", "--replay", "2", "--max-tokens", "48", "--steps", "1",
                            "--repair-attempts", "0", "--train-threads", "1", "--test-fraction", "0.5",
                            "--min-pairs", "1", "--tolerance", "1", "--out", str(out)])
    summary = loop.run_cycle(args)

    assert summary["tasks_by_split"] == {"train": 3, "validation": 0, "test": 3}
    assert not summary["skipped"], (summary["skipped"], summary["export"], summary["recording"])
    assert summary["pairs_used"] >= 1 and summary["heldout_pairs"] >= 1, (summary["export"], summary["recording"])
    assert summary["test"]["pairs"] == summary["heldout_pairs"]  # no validation split without --sweep
    assert "correction" in summary["pairs_by_source"]  # the reviewer's own changes, captured by follow-up
    assert summary["preference_accuracy_before"] is not None and summary["preference_accuracy_after"] is not None
    assert summary["promoted"] is True
    promoted = Registry().promoted("loop")
    assert promoted is not None and promoted["id"].startswith("loop-nightly-") and promoted["status"] == "promoted"

    switch = summary["switch"]
    assert switch["served_before"] == str(out / "release" / "model.gguf")
    assert switch["served_after"] == promoted["files"]["gguf"] != switch["served_before"]  # llama.cpp restarted on it
    assert switch["requests_failed"] == 0 and switch["requests_ok"] > 0, switch["errors"]
    assert "replay after" in summary["seconds"]
    for column in ("acceptance", "did_what_was_asked"):
        assert 0 <= summary[f"{column}_before"] <= 1 and 0 <= summary[f"{column}_after"] <= 1
    report = Path(promoted["report"]).read_text()
    assert "feedback-preference" in report and "Promotion gate" in report
    # the three test requests, answered by the embedded model before and after and judged like the reviewer
    assert summary["test_edits"]["requests"] == 3, summary["test_edits"]
    assert 0 <= summary["test_edits"]["pass_before"] <= 1 and 0 <= summary["test_edits"]["pass_after"] <= 1
    assert "feedback-edits" in report and "applies and passes the checks (3)" in report

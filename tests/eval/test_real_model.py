"""A real model end to end: the embedded llama.cpp server answers, the harness scores and caches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amigo_train.eval.cli import main
from amigo_train.eval.runner import load_run
from amigo_train.eval.sandbox import strict_available

pytestmark = pytest.mark.model
STRICT, _ = strict_available()


def test_small_model_run_is_scored_and_cached(model_server: str, eval_data: Path, tmp_path: Path) -> None:
    from amigo.config import EMBEDDED_MODEL

    args = ["run", "--task", "humaneval,gsm8k", "--model", EMBEDDED_MODEL, "--data-dir", str(eval_data),
            "--out", str(tmp_path / "run"), "--max-tokens", "96", "--concurrency", "2", "--workers", "1",
            "--sandbox", "strict" if STRICT else "basic"]
    assert main([*args, "--endpoint", model_server]) == 0
    for task in ("humaneval", "gsm8k"):
        run = load_run(tmp_path / "run" / task)
        assert run.record["summary"]["problems"] == 2
        assert 0.0 <= run.record["summary"]["pass@1"] <= 1.0
        samples = [json.loads(x) for x in (tmp_path / "run" / task / "samples.jsonl").read_text().splitlines()]
        assert len(samples) == 2 and all(isinstance(s["answer"], str) for s in samples)
        assert all("finish_reason" in s["meta"] for s in samples)
        assert all(s["status"] in ("passed", "failed", "timeout") for s in samples)
    # every answer is cached: the same run against a dead endpoint completes without the model
    assert main([*args, "--endpoint", "http://127.0.0.1:9/v1"]) == 0

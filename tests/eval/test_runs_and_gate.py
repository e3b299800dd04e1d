"""Whole runs through the CLI: a real HTTP endpoint, the generation cache, reports and the gate."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest

from amigo_train.eval.cli import main
from amigo_train.eval.runner import find_runs, load_run
from amigo_train.eval.sandbox import strict_available

STRICT, _ = strict_available()
SANDBOX = "strict" if STRICT else "basic"


class ScriptedModel:
    """An OpenAI-compatible chat server (real HTTP, SSE streaming) whose answers a test chooses."""

    def __init__(self, answer: Callable[[str], str]) -> None:
        self.answer = answer
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                text = outer.answer(body["messages"][-1]["content"])
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for piece in (text[: len(text) // 2], text[len(text) // 2:]):
                    chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
                self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def good_answer(prompt: str) -> str:
    if "def add" in prompt:
        return "Sure.\n```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```\n"
    return "```python\ndef quad(x):\n    return 4 * x\n```"


def bad_on_add(prompt: str) -> str:
    if "def add" in prompt:
        return "```python\ndef add(a, b):\n    return a - b\n```"
    return good_answer(prompt)


@pytest.fixture()
def model() -> Iterator[Callable[[Callable[[str], str]], ScriptedModel]]:
    servers: list[ScriptedModel] = []

    def start(answer: Callable[[str], str]) -> ScriptedModel:
        servers.append(ScriptedModel(answer))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _run(out: Path, data: Path, url: str, *extra: str) -> int:
    return main(["run", "--task", "humaneval", "--endpoint", url, "--model", "m", "--data-dir", str(data),
                 "--out", str(out), "--workers", "1", "--sandbox", SANDBOX, *extra])


def test_model_run_scores_writes_results_and_resumes_from_cache(model, eval_data: Path, tmp_path: Path) -> None:
    server = model(good_answer)
    out = tmp_path / "run"
    assert _run(out, eval_data, server.url, "--n", "3", "--temperature", "0.8", "--seed", "1") == 0
    assert len(server.requests) == 6
    assert server.requests[0]["temperature"] == 0.8 and server.requests[0]["stream"] is True
    run = load_run(out / "humaneval")
    assert run.record["summary"]["pass@1"] == 1.0 and run.record["sandbox"]["mode"] == SANDBOX
    samples = [json.loads(line) for line in (out / "humaneval" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 6 and all(s["passed"] for s in samples)
    assert samples[0]["meta"]["completion_tokens"] == 5
    # the server goes away: the same command still completes from the cache, asking nothing
    server.close()
    assert _run(out, eval_data, server.url, "--n", "3", "--temperature", "0.8", "--seed", "1") == 0
    # a changed sampling parameter is a different generation: it must not reuse the cache
    assert _run(out, eval_data, server.url, "--n", "3", "--temperature", "0.2", "--seed", "1") == 1


def test_gate_blocks_a_regression_and_writes_evidence(model, eval_data: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = model(good_answer), model(bad_on_add)
    assert _run(tmp_path / "base", eval_data, good.url, "--n", "4", "--temperature", "0.5") == 0
    assert _run(tmp_path / "cand", eval_data, bad.url, "--n", "4", "--temperature", "0.5") == 0
    assert find_runs(tmp_path / "cand")["humaneval"].problems["HumanEval/0"]["c"] == 0
    # one problem lost out of two: a 50-point drop, but one discordant problem is not significant...
    code = main(["gate", "--candidate", str(tmp_path / "cand"), "--baseline", str(tmp_path / "base"),
                 "--tasks", "humaneval"])
    assert code == 0
    assert "not significantly" in capsys.readouterr().out
    # ...while the strict gate blocks any drop beyond the tolerance
    code = main(["gate", "--candidate", str(tmp_path / "cand"), "--baseline", str(tmp_path / "base"),
                 "--strict", "--report", str(tmp_path / "gate.md")])
    assert code == 1
    evidence = (tmp_path / "gate.md").read_text()
    assert "**FAIL**" in evidence and "| humaneval | BLOCK | 2 |" in evidence
    assert (tmp_path / "gate.html").read_text().count("<table>") >= 3
    # the same run against itself passes
    assert main(["gate", "--candidate", str(tmp_path / "base"), "--baseline", str(tmp_path / "base")]) == 0
    # a task missing from the candidate blocks: no evidence is no promotion
    assert main(["gate", "--candidate", str(tmp_path / "cand"), "--baseline", str(tmp_path / "base"),
                 "--tasks", "humaneval,mbpp"]) == 1


def test_reference_run_report_has_runs_references_and_chart(eval_data: Path, tmp_path: Path) -> None:
    assert main(["run", "--task", "humaneval,gsm8k", "--source", "reference", "--data-dir", str(eval_data),
                 "--out", str(tmp_path / "ref"), "--workers", "1", "--sandbox", SANDBOX]) == 0
    assert main(["report", str(tmp_path / "ref"), "--out", str(tmp_path / "r.md")]) == 0
    text = (tmp_path / "r.md").read_text()
    assert "| ref | humaneval | reference | 1 |" in text and "| ref | gsm8k |" in text
    assert "Gemma-3-12B-it | humaneval | 85.4" in text and "Qwen2.5-Coder-14B-Instruct" in text
    assert "## Prompt formats" in text
    page = (tmp_path / "r.html").read_text()
    assert "data:image/png;base64," in page
    assert (tmp_path / "r-pass1.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_input_gets_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--task", "nope", "--out", str(tmp_path)]) == 2
    assert main(["gate", "--candidate", str(tmp_path), "--baseline", str(tmp_path)]) == 1
    assert "no evaluation runs" in capsys.readouterr().err
    assert main(["run", "--task", "humaneval", "--out", str(tmp_path / "x"), "--data-dir", str(tmp_path)]) == 1

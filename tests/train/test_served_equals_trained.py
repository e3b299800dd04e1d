"""Served = trained: what `amigo train run` and a nightly run produce, served by `amigo serve`'s
llama.cpp backend, answers token for token as the model did at the end of training.

The training-time model is rebuilt the way training had it in memory (earlier stages merged,
the last stage's adapter live, unmerged), never from the export it is compared with.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from amigo_train import cli

from train_records import PAIRS, tiny_recipe

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
pytest.importorskip("llama_cpp")
STAGES = """  - name: one
    data: [{path: data/commits.jsonl, adapter: commitpackft}]
  - name: two
    data: [{path: data/commits.jsonl, adapter: commit_in_context}]
"""
PROMPTS = [
    [{"role": "user", "content": "Fix the sign error in the add function."}],
    [{"role": "user", "content": "What is 6 times 7?"}],
]
NEW_TOKENS = 16


def _greedy_and_logits(model: Any, ids: list[int]) -> tuple[list[int], Any]:
    """Greedy continuation of ``ids`` and the teacher-forced logits over prompt + continuation."""
    import torch

    with torch.no_grad():
        gen = model.generate(torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False, eos_token_id=None,
                             pad_token_id=0)
        new = gen[0][len(ids):].tolist()
        logits = model(torch.tensor([ids + new])).logits[0].float().numpy()
    return new, logits


def _served_text(gguf: Path, prompt_text: str) -> str:
    """The answer `amigo serve` (llama-cpp-python backend) gives for the raw prompt, greedy."""
    from amigo.serve import ServerProcess

    with ServerProcess(model_path=gguf, backend="llama-cpp-python", n_ctx=1024, threads=2) as server:
        response = httpx.post(f"{server.base_url}/completions", timeout=120, json={
            "model": server.alias, "prompt": prompt_text, "max_tokens": NEW_TOKENS, "temperature": 0.0,
            "top_k": 1, "repeat_penalty": 1.0, "stop": []})
        response.raise_for_status()
        return response.json()["choices"][0]["text"]


def assert_served_equals_trained(trained: Any, tokenizer: Any, gguf: Path) -> dict[str, float]:
    """Greedy tokens and teacher-forced top-1 agree between ``trained`` and llama.cpp on ``gguf``."""
    from amigo_train.gguf_export import compare_logits, greedy_llama_cpp, llama_cpp_logits, open_llama_cpp

    llm = open_llama_cpp(gguf, n_ctx=512, logits_all=True)
    worst = 1.0
    for messages in PROMPTS:
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = [int(i) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]
        assert llm.tokenize(text.encode(), add_bos=False, special=True) == ids  # one tokenizer on both sides
        want, logits = _greedy_and_logits(trained, ids)
        assert greedy_llama_cpp(llm, ids, NEW_TOKENS) == want
        agreement = compare_logits(logits, llama_cpp_logits(llm, ids + want), start=len(ids) - 1)
        assert agreement["top1_agreement"] == 1.0, agreement
        worst = min(worst, agreement["top1_agreement"])
    messages = PROMPTS[0]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = [int(i) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]
    want, _ = _greedy_and_logits(trained, ids)
    assert _served_text(gguf, text) == tokenizer.decode(want)  # through the HTTP server itself
    return {"top1": worst}


def _pairs_rows() -> list[dict[str, Any]]:
    from amigo_train.adapters import preference_qa

    rows = [preference_qa(p) for p in PAIRS]
    return [r for r in rows if r] * 2


def _answer(port: int, prompt_text: str) -> str | None:
    try:
        response = httpx.post(f"http://127.0.0.1:{port}/v1/completions", timeout=60, json={
            "prompt": prompt_text, "max_tokens": NEW_TOKENS, "temperature": 0.0, "top_k": 1, "repeat_penalty": 1.0})
    except httpx.HTTPError:
        return None
    return response.json()["choices"][0]["text"] if response.status_code == 200 else None


def _wait_for(port: int, prompt_text: str, want: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "amigo serve exited"
        if _answer(port, prompt_text) == want:
            return
        time.sleep(0.3)
    raise AssertionError(f"the server never answered {want!r}; last: {_answer(port, prompt_text)!r}")


def test_a_staged_release_and_nightly_adapters_serve_as_trained(tmp_path: Path, tiny_model: Path,
                                                               commit_file: Path, capsys,  # type: ignore[no-untyped-def]
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from amigo_train.base_model import embedded_gguf
    from amigo_train.models import Registry
    from amigo_train.nightly_train import train_continued
    from amigo_train.recipe import load_recipe
    from amigo_train.release import adapter_on_release
    from amigo_train.modeling import load_stage_model

    recipe_path = tiny_recipe(tmp_path, tiny_model, STAGES, defaults=", learning_rate: 0.05")
    assert cli.main(["run", str(recipe_path)]) == 0
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the default registry, which `amigo serve` reads
    from amigo_train.models import registry_path

    run, registry = tmp_path / "run", registry_path()
    assert cli.main(["release", str(run), "--template-gguf", str(embedded_gguf()), "--f32", "--name", "tiny",
                     "--promote"]) == 0
    release = run / "release"
    assert json.loads((release / "release.json").read_text())["gguf"] == "model.gguf"
    promoted = Registry(registry).promoted("tiny")
    assert promoted is not None and promoted["files"]["release"] == str(release.resolve())
    tokenizer = AutoTokenizer.from_pretrained(str(release))

    # 1. the multi-stage run: stage one merged in, stage two's adapter live, as stage two trained
    trained = load_stage_model(str(tiny_model), [run / "stages" / "one" / "adapter"], torch.float32)
    trained = PeftModel.from_pretrained(trained, str(run / "stages" / "two" / "adapter")).eval()
    plain = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32).eval()
    ids = tokenizer.apply_chat_template(PROMPTS[0], add_generation_prompt=True, tokenize=True, return_dict=False)
    assert _greedy_and_logits(trained, list(ids))[0] != _greedy_and_logits(plain, list(ids))[0]  # training mattered
    assert_served_equals_trained(trained, tokenizer, release / "model.gguf")

    # 2. nightly adapters on the promoted release: a fresh one, then one continued from it (DPO ref = "ref")
    recipe = load_recipe(recipe_path).model_copy(update={"defaults": load_recipe(recipe_path).defaults.model_copy(
        update={"learning_rate": 0.05, "max_steps": 2})})
    stage = recipe.stages[0].model_copy(update={"name": "pref", "kind": "dpo"})
    first = train_continued(recipe, stage, _pairs_rows(), release, None, tmp_path / "n1", log=lambda _: None)
    second = train_continued(recipe, stage, _pairs_rows(), release, tmp_path / "n1" / "adapter", tmp_path / "n2",
                             log=lambda _: None)
    assert first["global_step"] == 2 and second["start_adapter"] == str(tmp_path / "n1" / "adapter")
    saved = json.loads((tmp_path / "n2" / "adapter" / "adapter_config.json").read_text())
    assert saved["base_model_name_or_path"] == str(release)  # the adapter names the base it belongs on
    assert not (tmp_path / "n2" / "adapter" / "ref").exists()  # only the trained adapter is saved
    rows = [json.loads(line) for line in (tmp_path / "n2" / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["rewards/margins"] == 0.0  # reference == starting policy (the promoted model)
    base = AutoModelForCausalLM.from_pretrained(str(release), dtype=torch.float32)
    nightly = PeftModel.from_pretrained(base, str(tmp_path / "n2" / "adapter")).eval()
    gguf = adapter_on_release(release, tmp_path / "n2" / "adapter", tmp_path / "serve", log=lambda _: None)
    assert_served_equals_trained(nightly, tokenizer, gguf)

    # 3. `amigo serve --promoted` follows the registry: promoting the nightly model and SIGHUP
    #    (what `amigo train nightly` sends) restart llama.cpp on it, on the same port
    from amigo.serve import free_port
    from amigo_train.nightly import signal_llama_cpp_server

    text = tokenizer.apply_chat_template(PROMPTS[0], add_generation_prompt=True, tokenize=False)
    ids = [int(i) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]
    want_release = tokenizer.decode(_greedy_and_logits(trained, ids)[0])
    want_nightly = tokenizer.decode(_greedy_and_logits(nightly, ids)[0])
    assert want_release != want_nightly
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "amigo.cli", "serve", "--promoted", "tiny", "--port", str(port),
                             "--backend", "llama-cpp-python", "--threads", "2", "--n-ctx", "1024"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port, text, want_release, proc)
        assert signal_llama_cpp_server("tiny", None)  # the pid file is there
        reg = Registry(registry)
        reg.register("tiny-nightly-1", kind="adapter", served_name="tiny", base=promoted["id"],
                     files={"release": str(release), "adapter": str(tmp_path / "n2" / "adapter"), "gguf": str(gguf)})
        reg.promote("tiny-nightly-1")
        assert signal_llama_cpp_server("tiny", None)
        _wait_for(port, text, want_nightly, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    assert not signal_llama_cpp_server("tiny", None)  # the pid file went with the server

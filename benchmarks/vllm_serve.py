"""vLLM on this machine: start time, decode speed, and an adapter switch under a steady stream.

    python benchmarks/vllm_serve.py                    # embedded SmolLM2-135M, `amigo serve` defaults
    python benchmarks/vllm_serve.py --stream-s 40 --clients 2 --json out.json

Needs `make setup-vllm`. The server is started exactly as `amigo serve --backend vllm
--lora NAME=DIR` starts it (memory, KV cache and dtype chosen for the machine), with an
adapter served by name. Printed:

- start: seconds from launch to the first completion (what `amigo serve` calls "up");
- decode tokens/s for the base model and for the adapter (one request at a time, greedy,
  ``--tokens`` each, ``ignore_eos``), and the aggregate rate of ``--clients`` at once;
- the switch: ``--clients`` threads send requests to the adapter's name back to back for
  ``--stream-s`` seconds; half-way, a second adapter is loaded under the same name with
  ``POST /v1/load_lora_adapter`` (what `amigo train nightly` does after a promotion; Amigo's
  middleware in vLLM makes it a new version the name then points at). Counted: requests ok /
  failed (goal: 0 failed), the load call's time, and, from the answers (each adapter gives its
  own greedy tokens), requests answered wholly by the old adapter, wholly by the new one, and
  mixed (started on the old, finished on the new; goal: 0), and of the requests in flight at
  the switch, how many finished on the old adapter (goal: all).

The adapters are random rank-8 LoRAs on q/v (peft), different enough that every answer
says which adapter made it; what is measured is the serving, not their quality.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from amigo.serve import ServerProcess, embedded_hf_model_dir, load_lora_adapter  # noqa: E402

PROMPT = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
NAME = "nightly"


def random_adapter(model_dir: Path, out: Path, seed: int) -> Path:
    """A rank-8 LoRA on q/v with random A and B (peft), saved to ``out``."""
    import peft
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    config = peft.LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                             task_type="CAUSAL_LM")
    peft.get_peft_model(model, config).save_pretrained(str(out))
    return out


def complete(base_url: str, model: str, tokens: int) -> tuple[list[str], float]:
    """One greedy chat completion of exactly ``tokens`` tokens: (the tokens, seconds)."""
    started = time.monotonic()
    response = httpx.post(f"{base_url}/chat/completions", timeout=600, json={
        "model": model, "messages": PROMPT, "max_tokens": tokens, "temperature": 0.0, "ignore_eos": True,
        "logprobs": True, "top_logprobs": 0})
    response.raise_for_status()
    content = response.json()["choices"][0]["logprobs"]["content"]
    return [item["token"] for item in content], time.monotonic() - started


def decode_rate(base_url: str, model: str, tokens: int, repeats: int) -> float:
    """Median tokens/s of ``repeats`` single requests."""
    complete(base_url, model, 4)  # warm the path (adapter load, graphs)
    return statistics.median(tokens / complete(base_url, model, tokens)[1] for _ in range(repeats))


def parallel_rate(base_url: str, model: str, tokens: int, clients: int) -> float:
    """Aggregate tokens/s of ``clients`` requests at once."""
    started = time.monotonic()
    threads = [threading.Thread(target=complete, args=(base_url, model, tokens)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return clients * tokens / (time.monotonic() - started)


def switch_under_stream(base_url: str, new_adapter: Path, old: list[str], new: list[str], tokens: int,
                        clients: int, stream_s: float) -> dict[str, Any]:
    """Requests to NAME from ``clients`` threads for ``stream_s`` s; the adapter is swapped half-way."""
    results: list[tuple[float, float, list[str] | None, str | None]] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                got, _ = complete(base_url, NAME, tokens)
                results.append((started, time.monotonic(), got, None))
            except httpx.HTTPError as exc:
                results.append((started, time.monotonic(), None, repr(exc)[:200]))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(stream_s / 2)
    load_started = time.monotonic()
    load_lora_adapter(base_url, NAME, new_adapter)
    load_done = time.monotonic()
    time.sleep(stream_s / 2)
    stop.set()
    for thread in threads:
        thread.join()
    failed = [error for _, _, _, error in results if error]
    answered = [(start, end, got) for start, end, got, error in results if not error]
    spanning = [got for start, end, got in answered if start < load_done and end > load_started]
    return {
        "requests_ok": len(answered), "requests_failed": len(failed), "failures": failed[:5],
        "load_call_s": round(load_done - load_started, 2),
        "old_only": sum(got == old for _, _, got in answered),
        "new_only": sum(got == new for _, _, got in answered),
        "mixed": sum(got not in (old, new) for _, _, got in answered),
        "in_flight_at_switch": len(spanning),
        "in_flight_finished_on_old": sum(got == old for got in spanning),
        "started_after_switch_on_new": f"{sum(got == new for s, _, got in answered if s > load_done)}/"
                                       f"{sum(1 for s, _, _ in answered if s > load_done)}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=64, help="tokens per request (default 64)")
    parser.add_argument("--repeats", type=int, default=3, help="single requests per decode rate (default 3)")
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients (default 2)")
    parser.add_argument("--stream-s", type=float, default=30.0, help="length of the switch stream (default 30)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    model_dir = embedded_hf_model_dir()
    with tempfile.TemporaryDirectory(prefix="amigo-vllm-bench-") as tmp:
        first = random_adapter(model_dir, Path(tmp) / "first", seed=0)
        second = random_adapter(model_dir, Path(tmp) / "second", seed=1)
        server = ServerProcess(backend="vllm", lora_modules={NAME: first}, log_path=Path(tmp) / "vllm.log")
        figures: dict[str, Any] = {"command": server.command(), "cpus": os.cpu_count(),
                                   "load_before": os.getloadavg()}
        with server.start():
            figures["start_s"] = round(server.ready_s or 0.0, 1)
            figures["base_tokens_per_s"] = round(decode_rate(server.base_url, server.alias, args.tokens,
                                                             args.repeats), 1)
            figures["adapter_tokens_per_s"] = round(decode_rate(server.base_url, NAME, args.tokens, args.repeats), 1)
            figures[f"adapter_tokens_per_s_{args.clients}_clients"] = round(
                parallel_rate(server.base_url, NAME, args.tokens, args.clients), 1)
            old, _ = complete(server.base_url, NAME, args.tokens)
            # what the second adapter answers, from a name of its own, so each answer says who made it
            load_lora_adapter(server.base_url, f"{NAME}-next", second)
            new, _ = complete(server.base_url, f"{NAME}-next", args.tokens)
            figures["adapters_differ"] = old != new
            figures["switch"] = switch_under_stream(server.base_url, second, old, new, args.tokens, args.clients,
                                                    args.stream_s)
            figures["adapter_tokens_per_s_after_switch"] = round(
                decode_rate(server.base_url, NAME, args.tokens, args.repeats), 1)
        figures["load_after"] = os.getloadavg()
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if figures["switch"]["requests_failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

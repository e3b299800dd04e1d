"""What N concurrent candidates cost on llama-server's parallel slots, against one answer.

    python benchmarks/parallel_slots.py --parallel 4 --max-tokens 64 [--unified] [--long-prompt] [--threads N]
        [--model FILE.gguf]

Starts the embedded model on llama-server with ``--parallel`` slots (the
command ``amigo serve`` uses: each slot its own KV cache; ``--unified`` shares
one pool instead, llama.cpp's ``--kv-unified``), asks the same edit prompt once alone and
then ``--parallel`` times at once, each with its own seed and a temperature
(as candidates are asked), then once more as one request for ``--parallel``
answers (OpenAI's ``n``: the prompt evaluated once and copied to a slot per
answer, how amigo.shared_prompt asks), and prints the wall time of each and the
ratios. ``--long-prompt`` sends a real module (the standard library's
textwrap.py, about 1,800 tokens) as an edit would send its file and context;
each measurement gets a prompt no slot has evaluated yet.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amigo.client import ChatClient, StreamStats  # noqa: E402
from amigo.serve import ServerProcess  # noqa: E402

PROMPT = [{"role": "system", "content": "You are a careful Python programmer."},
          {"role": "user", "content": "Rewrite this function so that it returns None for an empty list:\n"
                                      "```python\ndef oldest(users):\n    return max(users, key=lambda u: u.age)\n```"}]


def long_prompt(variant: str) -> list[dict[str, str]]:
    """An edit-sized prompt: a real module and an instruction; ``variant`` makes it new to every slot."""
    import textwrap

    source = Path(textwrap.__file__).read_text()[:6000]
    return [{"role": "system", "content": "You are a careful Python programmer."},
            {"role": "user", "content": f"Add a parameter `strict=False` to indent() ({variant}).\n"
                                        f"```python\n{source}\n```"}]


def answer(client: ChatClient, seed: int, max_tokens: int, prompt: list[dict[str, str]] = PROMPT) -> tuple[float, int]:
    """(seconds, completion tokens) of one streamed answer."""
    stats = StreamStats()
    started = time.monotonic()
    for _ in client.stream(prompt, stats=stats, temperature=0.8, seed=seed, max_tokens=max_tokens,
                           ignore_eos=True):
        pass
    return time.monotonic() - started, stats.completion_tokens or 0


def shared(client: ChatClient, n: int, seed: int, max_tokens: int, prompt: list[dict[str, str]]) -> tuple[float, int]:
    """(seconds, completion tokens of all choices) of one request for ``n`` answers."""
    stats = [StreamStats() for _ in range(n)]
    started = time.monotonic()
    pieces = sum(1 for _ in client.stream_choices(prompt, n, stats=stats, temperature=0.8, seed=seed,
                                                  max_tokens=max_tokens, ignore_eos=True))
    return time.monotonic() - started, pieces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--unified", action="store_true", help="one KV pool shared by the slots (--kv-unified)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--long-prompt", action="store_true", help="an edit-sized prompt (a real module)")
    parser.add_argument("--threads", type=int, help="llama-server threads for decoding and for prompts "
                        "(default: the ones amigo serve picks, half the cores to decode)")
    parser.add_argument("--model", type=Path, help="a GGUF file (default: the embedded model)")
    args = parser.parse_args(argv)
    server = ServerProcess(model_path=args.model, n_ctx=4096, backend="llama-server", parallel=args.parallel,
                           threads=args.threads)
    if args.unified:  # the same slots sharing one pool (the last flag wins)
        server.extra_args = ["--kv-unified"]
    print(f"# load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; {' '.join(server.command()[3:])}")
    with server.start(timeout=300):
        client = ChatClient(server.base_url, "smollm2-135m-instruct", read_timeout=600.0)
        answer(client, 0, 8)  # warm up
        for r in range(args.rounds):
            def prompt(what: str) -> list[dict[str, str]]:
                return long_prompt(f"round {r}, {what}") if args.long_prompt else PROMPT

            alone, tokens = answer(client, 1, args.max_tokens, prompt("alone"))
            started = time.monotonic()
            many = prompt("requests")
            with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
                results = list(pool.map(lambda k: answer(client, 10 + k, args.max_tokens, many), range(args.parallel)))
            together = time.monotonic() - started
            one_request, pieces = shared(client, args.parallel, 20, args.max_tokens, prompt("n"))
            print(f"one answer: {alone:.1f} s ({tokens} tokens); {args.parallel} requests at once: {together:.1f} s "
                  f"({sum(t for _, t in results)} tokens): {together / alone:.2f}x; one request for "
                  f"{args.parallel} (n): {one_request:.1f} s ({pieces} pieces): {one_request / alone:.2f}x; "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

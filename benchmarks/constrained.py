"""Free vs constrained decoding on real edit tasks, side by side in one run.

    python benchmarks/constrained.py                       # embedded model, all tasks
    python benchmarks/constrained.py --endpoint URL --model NAME --limit 10
    python benchmarks/constrained.py --sizes               # grammar cost on 100/1,000/5,000-line files
    python benchmarks/constrained.py --backend llama-server # llama.cpp's own server (scripts/build-llama-server.sh)

For every task (a real standard-library function + an instruction, see
benchmarks/data/edit_tasks.jsonl) the same prompt is sent twice at
temperature 0, once free and once with the grammar from amigo.decoding, and
each answer goes through amigo.edits exactly as the engine would. Printed:
well-formed % (blocks that parse), applies % (every block matched), changed %
(the file differs), parses % (the new file is valid Python), expected % (a
substring a correct edit contains), decode tokens/s and time to first token.
``--sizes`` measures grammar building (Python), the server's compile time
(time to first token minus the free one) and the per-token overhead on files
of 100, 1,000 and 5,000 lines, with a short prompt so that only the grammar
grows.
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from amigo import edits  # noqa: E402
from amigo.client import ChatClient, StreamStats  # noqa: E402
from amigo.decoding import Backend, blocks_grammar, plan_constraint, probe_backend  # noqa: E402
from amigo.decoding.params import DEFAULT_PROSE_CHARS  # noqa: E402
from amigo.edits.lines import keys_of  # noqa: E402
from amigo.prompt import EditRequest, build_messages  # noqa: E402
from amigo.config import SERVE_BACKENDS  # noqa: E402

DEFAULT_TASKS = REPO / "benchmarks" / "data" / "edit_tasks.jsonl"


@dataclass
class Outcome:
    task: str
    mode: str
    decoding: str
    well_formed: bool
    applies: bool
    changed: bool
    parses: bool
    expected: bool
    completion_tokens: int
    seconds: float
    first_token_s: float
    finish_reason: str | None
    error: str = ""

    @property
    def decode_tps(self) -> float:
        span = self.seconds - self.first_token_s
        return (self.completion_tokens - 1) / span if span > 0 and self.completion_tokens > 1 else 0.0


def gguf_path() -> Path:
    """The embedded model's GGUF file."""
    from amigo.serve import embedded_model_path

    return embedded_model_path()


class InProcessClient:
    """llama-cpp-python's Llama in this process, behind ChatClient's ``stream``.

    Same sampling code as the server (``create_chat_completion`` with a
    ``LlamaGrammar``) without HTTP, for timing on a quiet machine.
    """

    def __init__(self, model_path: Path, n_ctx: int, threads: int | None) -> None:
        import llama_cpp

        self._llama_cpp = llama_cpp
        self.llm = llama_cpp.Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=threads, verbose=False)
        self.base_url, self.model = "in-process", str(model_path.name)

    def stream(self, messages: list[dict], stats: StreamStats | None = None, **params: Any) -> Iterator[str]:
        stats = stats if stats is not None else StreamStats()
        grammar = params.pop("grammar", None)
        started = time.monotonic()
        chunks = self.llm.create_chat_completion(
            messages=messages, stream=True, temperature=params.get("temperature", 0), seed=params.get("seed", 0),
            max_tokens=params.get("max_tokens", 256),
            grammar=self._llama_cpp.LlamaGrammar.from_string(grammar) if grammar else None,
        )
        for chunk in chunks:
            choice = chunk["choices"][0]
            text = choice.get("delta", {}).get("content") or ""
            if choice.get("finish_reason"):
                stats.finish_reason = choice["finish_reason"]
            if text:
                if stats.first_token_s is None:
                    stats.first_token_s = time.monotonic() - started
                stats.chunks += 1
                yield text
        stats.seconds = time.monotonic() - started

    def __enter__(self) -> "InProcessClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.llm.close()


def load_tasks(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def judge(task: dict[str, Any], answer: str) -> tuple[bool, bool, bool, bool, bool, str]:
    """well-formed, applies, changed, parses, expected, first error."""
    parsed = edits.parse_blocks(answer)
    well_formed = bool(parsed.blocks) and not parsed.errors
    applied = edits.apply_answer(answer, {task["path"]: task["file_text"]}, task["path"])
    applies = bool(parsed.blocks) and not applied.errors
    new = applied.new_texts.get(task["path"], task["file_text"]) if applies else task["file_text"]
    changed = applies and new != task["file_text"]
    try:
        ast.parse(new)
        parses = changed
    except SyntaxError:
        parses = False
    expected = changed and task.get("expect", "") in new
    error = (parsed.errors or applied.errors or ("",))[0]
    return well_formed, applies, changed, parses, expected, error


def run_one(client: ChatClient, backend: Backend, task: dict[str, Any], mode: str, max_tokens: int,
            max_prose_chars: int) -> tuple[Outcome, str]:
    request = EditRequest(instruction=task["instruction"], path=task["path"], file_text=task["file_text"])
    plan = plan_constraint(request, backend, mode, max_prose_chars=max_prose_chars)
    stats = StreamStats()
    answer = "".join(client.stream(build_messages(request), stats=stats, temperature=0, seed=0,
                                   max_tokens=max_tokens, **plan.body))
    wf, ap, ch, pa, ex, err = judge(task, answer)
    tokens = stats.completion_tokens or stats.chunks  # llama-cpp-python streams one token per chunk
    return Outcome(task["id"], mode, plan.decoding, wf, ap, ch, pa, ex, tokens,
                   stats.seconds, stats.first_token_s or stats.seconds, stats.finish_reason, err), answer


def pct(values: list[bool]) -> str:
    return f"{100.0 * sum(values) / len(values):5.1f}%" if values else "   - "


def summarize(outcomes: list[Outcome], modes: list[str]) -> str:
    rows = [("", *modes)]
    by = {m: [o for o in outcomes if o.mode == m] for m in modes}
    for label, attr in (("well-formed", "well_formed"), ("applies", "applies"), ("changed", "changed"),
                        ("parses (ast)", "parses"), ("expected", "expected")):
        rows.append((label, *(pct([getattr(o, attr) for o in by[m]]) for m in modes)))
    rows.append(("decode tok/s (median)",
                 *(f"{statistics.median([o.decode_tps for o in by[m] if o.decode_tps] or [0]):6.1f}" for m in modes)))
    rows.append(("decode tok/s (total)",
                 *(f"{sum(o.completion_tokens for o in by[m]) / max(1e-9, sum(o.seconds - o.first_token_s for o in by[m])):6.1f}"
                   for m in modes)))
    rows.append(("first token s (median)",
                 *(f"{statistics.median([o.first_token_s for o in by[m]] or [0]):6.2f}" for m in modes)))
    # The mean too: with --order interleaved each mode pays the prompt on half
    # the tasks, and a median of such a mix lands on either side at random.
    rows.append(("first token s (mean)",
                 *(f"{statistics.mean([o.first_token_s for o in by[m]] or [0]):6.2f}" for m in modes)))
    rows.append(("tokens (mean)", *(f"{statistics.mean([o.completion_tokens for o in by[m]] or [0]):6.1f}" for m in modes)))
    rows.append(("cut off at max_tokens", *(pct([o.finish_reason == "length" for o in by[m]]) for m in modes)))
    rows.append(("tasks", *(str(len(by[m])) for m in modes)))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{r[0]:<{width}}  " + "  ".join(f"{c:>12}" for c in r[1:]) for r in rows)


def summarize_file(path: Path) -> str:
    """The summary table of a saved run, over the tasks that ran in every mode."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    fields = {f for f in Outcome.__dataclass_fields__}
    outcomes = [Outcome(**{k: v for k, v in row.items() if k in fields}) for row in rows]
    modes = list(dict.fromkeys(o.mode for o in outcomes))
    complete = set.intersection(*({o.task for o in outcomes if o.mode == m} for m in modes))
    kept = [o for o in outcomes if o.task in complete]
    return f"{len(complete)} tasks run in every mode ({path.name})\n" + summarize(kept, modes)


def sized_files(sizes: list[int]) -> Iterator[tuple[int, str]]:
    """Real code of the requested lengths: standard-library modules, concatenated when short."""
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    pool: list[str] = []
    for name in ("typing.py", "argparse.py", "inspect.py", "tarfile.py", "collections/__init__.py"):
        pool.extend(keys_of((stdlib / name).read_text(encoding="utf-8")))
    for size in sizes:
        yield size, "".join(line + "\n" for line in pool[:size])


def measure_sizes(client: ChatClient, backend: Backend, sizes: list[int], max_tokens: int, repeats: int) -> str:
    """Grammar cost as the file grows: build, server compile (TTFT delta), per-token."""
    lines_out = [f"{'lines':>6} {'grammar KB':>10} {'build s':>8} {'TTFT free':>9} {'TTFT gbnf':>9} "
                 f"{'compile s':>9} {'tok/s free':>10} {'tok/s gbnf':>10} {'overhead':>8}"]
    print(lines_out[0], flush=True)
    for size, text in sized_files(sizes):
        selection_text = "".join(line + "\n" for line in keys_of(text)[size // 2 : size // 2 + 12])
        free, gbnf, builds = [], [], []
        for repeat in range(repeats):
            # A new path each repeat makes a new grammar: vLLM (xgrammar) caches
            # compiled grammars by their text, and a real request's grammar is
            # new whenever the file changed, so the uncached compile is the cost.
            path = f"big{repeat}.py"
            request = EditRequest(instruction="Add a comment above the first line.", path=path,
                                  file_text=selection_text)
            messages = build_messages(request)
            started = time.perf_counter()
            grammar = blocks_grammar({path: text}, max_prose_chars=0, max_blocks=1)
            builds.append(time.perf_counter() - started)
            body = {"grammar": grammar} if backend.grammar_via == "grammar" else {
                "structured_outputs": {"grammar": grammar}}
            # Evaluate the prompt once, so that both runs below reuse it and the
            # difference in time to first token is the grammar's compile time.
            "".join(client.stream(messages, temperature=0, max_tokens=1))
            for extra, sink in (({}, free), (body, gbnf)):
                stats = StreamStats()
                "".join(client.stream(messages, stats=stats, temperature=0, seed=0, max_tokens=max_tokens, **extra))
                ft = stats.first_token_s or stats.seconds
                tps = ((stats.completion_tokens or stats.chunks or 1) - 1) / max(1e-9, stats.seconds - ft)
                sink.append((ft, tps))
        build_s = statistics.median(builds)
        ttft_free = statistics.median(f for f, _ in free)
        ttft_g = statistics.median(f for f, _ in gbnf)
        tps_free = statistics.median(t for _, t in free)
        tps_g = statistics.median(t for _, t in gbnf)
        lines_out.append(
            f"{size:>6} {len(grammar) / 1024:>10.0f} {build_s:>8.2f} {ttft_free:>9.2f} {ttft_g:>9.2f} "
            f"{ttft_g - ttft_free:>9.2f} {tps_free:>10.1f} {tps_g:>10.1f} {100 * (1 - tps_g / tps_free):>7.0f}%"
        )
        print(lines_out[-1], flush=True)
    return "\n".join(lines_out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=Path, default=DEFAULT_TASKS)
    parser.add_argument("--endpoint", help="OpenAI-compatible base URL (default: start the embedded server)")
    parser.add_argument("--model", default="smollm2-135m-instruct", help="model name sent to the server")
    parser.add_argument("--limit", type=int, default=0, help="only the first N tasks")
    parser.add_argument("--max-tokens", type=int, default=768)
    parser.add_argument("--max-prose-chars", type=int, default=DEFAULT_PROSE_CHARS)
    parser.add_argument("--modes", default="free,constrained")
    parser.add_argument("--sizes", action="store_true", help="measure grammar cost on 100/1,000/5,000-line files")
    parser.add_argument("--size-list", default="100,1000,5000")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--order", choices=("blocked", "interleaved"), default="blocked",
                        help="blocked: all tasks in one mode, then the next; interleaved: per task, "
                             "alternating which mode goes first (fairer on a machine whose load drifts)")
    parser.add_argument("--out", type=Path, help="write every answer and outcome as JSON lines here")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--in-process", action="store_true",
                        help="run llama-cpp-python in this process instead of through a server")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--gguf", type=Path, help="model file for --in-process (default: the embedded one)")
    parser.add_argument("--backend", default="llama-cpp-python", choices=SERVE_BACKENDS,
                        help="which server to start when no --endpoint is given (see amigo.serve)")
    parser.add_argument("--server-arg", action="append", metavar="ARG",
                        help="extra argument for the started server, repeatable (e.g. --server-arg=--dtype "
                             "--server-arg=float32 for vLLM on a CPU without fast bfloat16)")
    parser.add_argument("--summarize", type=Path, metavar="OUT_JSONL",
                        help="print the table for a saved --out file (tasks run in every mode only)")
    args = parser.parse_args(argv)

    if args.summarize:
        print(summarize_file(args.summarize))
        return 0
    server = None
    endpoint = args.endpoint
    if args.in_process:
        return run(args, InProcessClient(args.gguf or gguf_path(), args.n_ctx, args.threads),
                   Backend("in-process", args.model, "llama-cpp-python", "grammar", note="in-process"))
    if not endpoint:
        from amigo.serve import ServerProcess

        server = ServerProcess(model_path=args.gguf if args.backend != "vllm" and args.gguf else None,
                               n_ctx=args.n_ctx, threads=args.threads, backend=args.backend,
                               extra_args=args.server_arg or ()).start()
        endpoint = server.base_url
        print(f"started the embedded model server ({server.backend}) at {endpoint}", flush=True)
    try:
        client = ChatClient(endpoint, args.model, read_timeout=600, retries=0)
        return run(args, client, probe_backend(endpoint, args.model))
    finally:
        if server:
            server.stop()


def run(args: argparse.Namespace, client: Any, backend: Backend) -> int:
    """The benchmark proper, over a ChatClient or an InProcessClient."""
    with client:
        print(f"backend: {backend.describe()}", flush=True)
        if args.sizes:
            sizes = [int(s) for s in args.size_list.split(",")]
            print(measure_sizes(client, backend, sizes, max_tokens=48, repeats=args.repeats))
            return 0
        tasks = load_tasks(args.tasks)[: args.limit or None]
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        outcomes: list[Outcome] = []
        out = args.out.open("w", encoding="utf-8") if args.out else None
        # Blocked (default): modes in the outer loop, since llama.cpp reuses the
        # previous request's prompt cache and running one task twice in a row
        # would flatter the second. Interleaved: per task, the modes alternate
        # which goes first, so that a load that drifts on a shared machine and
        # the prompt cache each favour every mode equally.
        if args.order == "interleaved":
            schedule = [(mode, number, task) for number, task in enumerate(tasks, 1)
                        for mode in (modes if number % 2 else modes[::-1])]
        else:
            schedule = [(mode, number, task) for mode in modes for number, task in enumerate(tasks, 1)]
        for mode, number, task in schedule:
            outcome, answer = run_one(client, backend, task, mode, args.max_tokens, args.max_prose_chars)
            outcomes.append(outcome)
            flags = "".join(c if ok else "." for c, ok in zip(
                "WACPE", (outcome.well_formed, outcome.applies, outcome.changed, outcome.parses,
                          outcome.expected)))
            print(f"[{number:>2}/{len(tasks)}] {mode:<11} {flags} {outcome.completion_tokens:>4} tok "
                  f"{outcome.decode_tps:6.1f} tok/s ttft {outcome.first_token_s:5.2f}s  {task['id']}"
                  + (f"  ({outcome.error[:70]})" if outcome.error else ""), flush=True)
            if out:
                out.write(json.dumps({**asdict(outcome), "answer": answer}) + "\n")
        if out:
            out.close()
        print()
        print(f"{len(tasks)} tasks from {args.tasks.name}, model {args.model}, temperature 0, "
              f"max_tokens {args.max_tokens}, backend {backend.kind}")
        print(summarize(outcomes, modes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

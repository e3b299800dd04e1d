"""Inline completion: latency, cancellation and accuracy on held-out real code.

Held-out code: lines of real files of a repository the model did not see
(default: this repository at HEAD, written in 2026, after SmolLM2's training
data was collected). For each sampled line the rest of the line after the
cursor is removed from the file; the file after it stays (the suffix). Two
cursor places: after the indentation (the model must write the line: a block
suggestion) and inside the line (finish it: a line suggestion).

Part 1 (engine, ``amigo.complete`` in-process, real model server): for each
route side by side (FIM with the StarCoder-family template, the prefix only
left to right, the chat fallback), time to the first token, to the first
line and to the whole suggestion, and exact / first-line match against the
removed text.

Part 2 (editor, ``amigo lsp`` over stdio, real model server behind a counting
proxy): a person types the last characters of the line at ``--keystroke-ms``
per key; every keystroke sends didChange and textDocument/inlineCompletion,
as VS Code does. Keystroke (the last one) to suggestion p50/p95, the share of
requests cancelled or superseded, and whether any generation was left
running: the proxy counts model streams still open once each case settles.

    python benchmarks/completion.py --cases 12 --typing-cases 8
    python benchmarks/completion.py --endpoint http://127.0.0.1:8080/v1 --repo /path/to/unseen/repo
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from amigo.client import ChatClient  # noqa: E402
from amigo.complete import Completer, Timing, analyse, route_for  # noqa: E402
from amigo.config import CompletionSettings, Config  # noqa: E402
from amigo.events import EventBus  # noqa: E402
from amigo.repofiles import git_ls_files  # noqa: E402
from amigo_lsp.stdio_client import StdioClient  # noqa: E402

ROUTES = {"fim:starcoder": "starcoder", "prefix": "prefix", "chat": "none"}


@dataclass
class Case:
    path: str
    text: str  # the file with the rest of the held-out line removed
    offset: int  # the cursor
    target: str  # what was removed
    kind: str  # line-start | mid-line


def held_out_cases(repo: Path, count: int, seed: int) -> list[Case]:
    """Sample lines of tracked Python files; remove the rest of each line after a cursor place."""
    listed = git_ls_files(repo)
    if listed is None:
        raise SystemExit(f"{repo}: git could not list its files; give a git work tree")
    files = [f for f in listed if f.endswith(".py")]
    files = [f for f in files if not f.startswith(("tests/", "benchmarks/")) and (repo / f).stat().st_size < 60_000]
    rng = random.Random(seed)
    cases: list[Case] = []
    rng.shuffle(files)
    for rel in files:
        if len(cases) >= count:
            break
        source = (repo / rel).read_text(encoding="utf-8")
        lines = source.split("\n")
        picks = [i for i, line in enumerate(lines) if 12 <= len(line.strip()) <= 80
                 and not line.strip().startswith(("#", '"""', "'''", "@")) and i > 5]
        if not picks:
            continue
        i = rng.choice(picks)
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        kind = "line-start" if len(cases) % 2 == 0 else "mid-line"
        cut = indent if kind == "line-start" else _mid(line, indent, rng)
        text = "\n".join(lines[:i] + [line[:cut]] + lines[i + 1:])
        offset = len("\n".join(lines[:i])) + (1 if i else 0) + cut
        if analyse(text, offset, rel).mode == "none":
            continue  # inside a string or comment: nothing would be suggested there
        cases.append(Case(rel, text, offset, line[cut:], kind))
    return cases


def _mid(line: str, indent: int, rng: random.Random) -> int:
    """A cursor inside the line, after a word or punctuation, roughly 30-60% of the way."""
    body = range(indent + (len(line) - indent) * 3 // 10, indent + (len(line) - indent) * 6 // 10 + 1)
    spots = [c for c in body if c > indent and not line[c - 1].isalnum()] or [indent + (len(line) - indent) // 2]
    return rng.choice(spots)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _first(text: str) -> str:
    return next((ln.strip() for ln in text.split("\n") if ln.strip()), "")


# -- part 1: the engine, route by route ----------------------------------------------------


def engine_part(endpoint: str, model: str, repo: Path, cases: list[Case], context_budget: int) -> list[dict]:
    rows = []
    for label, fim in ROUTES.items():
        config = Config(endpoint=endpoint, model=model,
                        completion=CompletionSettings(fim=fim, context_budget=context_budget))
        completer = Completer(config, ChatClient.from_config(config), EventBus(), repo)
        route = route_for(config.completion, model)
        assert route.label == label, (route.label, label)
        for case in cases:
            timing = Timing()
            suggestion = completer.complete(case.path, case.text, case.offset, timing=timing, route=route)
            text = suggestion.text if suggestion else ""
            rows.append({"route": label, "kind": case.kind, "path": case.path, "target": case.target,
                         "suggestion": text, "exact": text.strip() == case.target.strip() and bool(text.strip()),
                         "first_line": _first(text) == case.target.strip() and bool(text.strip()),
                         "first_token_s": timing.first_token_s, "first_line_s": timing.first_line_s,
                         "total_s": timing.total_s, "context_s": timing.context_s, "tokens": timing.tokens})
        completer.client.close()
    return rows


def print_engine(rows: list[dict]) -> None:
    print("\nengine (amigo.complete in-process; latencies in ms; match against the removed code)")
    print(f"{'route':<15} {'cases':>5} {'exact':>6} {'1st line':>8} {'empty':>6} "
          f"{'first tok p50/p95':>18} {'first line p50/p95':>19} {'whole p50/p95':>15}")
    for label in ROUTES:
        mine = [r for r in rows if r["route"] == label]
        ms = lambda key: [r[key] * 1000 for r in mine if r[key] is not None]  # noqa: E731
        exact = sum(r["exact"] for r in mine) / len(mine)
        first = sum(r["first_line"] for r in mine) / len(mine)
        empty = sum(not r["suggestion"].strip() for r in mine) / len(mine)
        ft, fl, wh = ms("first_token_s"), ms("first_line_s"), ms("total_s")
        print(f"{label:<15} {len(mine):>5} {exact:>6.0%} {first:>8.0%} {empty:>6.0%} "
              f"{pct(ft, .5):>8.0f}/{pct(ft, .95):<9.0f} {pct(fl, .5):>8.0f}/{pct(fl, .95):<10.0f} "
              f"{pct(wh, .5):>6.0f}/{pct(wh, .95):<8.0f}")


# -- part 2: the editor, keystroke by keystroke ---------------------------------------------


class CountingProxy:
    """Forwards POSTs to the model server, streaming, and counts the streams open at any moment.

    When the language server hangs up mid-stream (cancelled), the proxy closes
    its upstream request too, as the model server would see it directly.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.open = 0
        self.opened = 0
        self.aborted = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                response = httpx.get(outer.upstream + self.path.removeprefix("/v1"), timeout=30)
                self._reply(response.status_code, response.content)

            def _reply(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer._lock:
                    outer.open += 1
                    outer.opened += 1
                try:
                    with httpx.stream("POST", outer.upstream + self.path.removeprefix("/v1"), content=body,
                                      headers={"Content-Type": "application/json"}, timeout=120) as up:
                        self.send_response(up.status_code)
                        self.send_header("Content-Type", up.headers.get("content-type", "text/event-stream"))
                        self.send_header("Connection", "close")
                        self.end_headers()
                        for chunk in up.iter_raw():
                            self.wfile.write(chunk)
                            self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    with outer._lock:
                        outer.aborted += 1
                finally:
                    with outer._lock:
                        outer.open -= 1
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def close(self) -> None:
        self._server.shutdown()


def typing_part(endpoint: str, model: str, repo: Path, cases: list[Case], keystrokes: int, keystroke_ms: int,
                debounce_ms: int, fim: str) -> dict:
    proxy = CountingProxy(endpoint)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_DATA_HOME=str(Path(tmp) / "data"), XDG_STATE_HOME=str(Path(tmp) / "state"),
                   XDG_CACHE_HOME=str(Path(tmp) / "cache"), PYTHONPATH=str(ROOT))
        client = StdioClient([sys.executable, "-m", "amigo_lsp"], env=env)
        client.initialize(repo.as_uri(), {"endpoint": proxy.base_url, "model": model,
                                          "completion": {"debounceMs": debounce_ms, "fim": fim}})
        latencies, answered, nulls, errors, sent, left_running = [], 0, 0, 0, 0, []
        version = 0
        try:
            for n, case in enumerate(cases):
                uri = (repo / case.path).as_uri()  # the editor's buffer: the file on disk is never touched
                start = max(0, case.offset - keystrokes)
                version += 1
                client.notify("textDocument/didOpen", {"textDocument": {
                    "uri": uri, "languageId": "python", "version": version,
                    "text": case.text[:start] + case.text[case.offset:]}})
                ids = []
                last_sent = 0.0
                for k in range(start + 1, case.offset + 1):
                    version += 1
                    text = case.text[:k] + case.text[case.offset:]
                    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                             "contentChanges": [{"text": text}]})
                    line = text.count("\n", 0, k)
                    col = k - (text.rfind("\n", 0, k) + 1)
                    last_sent = time.monotonic()
                    ids.append(client.request_async("textDocument/inlineCompletion", {
                        "textDocument": {"uri": uri}, "position": {"line": line, "character": col},
                        "context": {"triggerKind": 2}}))
                    sent += 1
                    if k < case.offset:
                        time.sleep(keystroke_ms / 1000)
                responses = [client.wait(i, timeout=120) for i in ids]
                done = time.monotonic()
                final = responses[-1]
                if "error" in final:
                    errors += 1
                elif final.get("result") and final["result"].get("items"):
                    answered += 1
                    latencies.append((done - last_sent) * 1000)
                for r in responses[:-1]:
                    nulls += 1 if "error" in r or not (r.get("result") or {}).get("items") else 0
                time.sleep(0.3)
                left_running.append(proxy.open)
                client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        finally:
            client.close()
            proxy.close()
    return {"cases": len(cases), "requests": sent, "answered_last": answered, "errors": errors,
            "cancelled_or_superseded": nulls, "earlier_requests": sent - len(cases),
            "model_streams": proxy.opened, "streams_aborted": proxy.aborted,
            "left_running_max": max(left_running or [0]), "latency_ms": latencies}


def print_typing(result: dict, keystroke_ms: int, debounce_ms: int) -> None:
    lat = result["latency_ms"]
    earlier = result["earlier_requests"] or 1
    print(f"\neditor (amigo lsp over stdio; keystrokes every {keystroke_ms} ms, debounce {debounce_ms} ms)")
    print(f"cases {result['cases']}, requests {result['requests']}, last keystroke answered with a suggestion "
          f"{result['answered_last']}, errors {result['errors']}")
    print(f"keystroke -> suggestion shown (includes the debounce): p50 {pct(lat, .5):.0f} ms, "
          f"p95 {pct(lat, .95):.0f} ms")
    print(f"earlier keystrokes answered empty (superseded before asking, or cancelled mid-generation): "
          f"{result['cancelled_or_superseded']}/{result['earlier_requests']} "
          f"({result['cancelled_or_superseded'] / earlier:.0%}); model streams opened {result['model_streams']}, "
          f"closed early {result['streams_aborted']}; streams still open after a case settled: "
          f"max {result['left_running_max']}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", help="model server base URL (default: start the embedded one)")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--repo", type=Path, default=ROOT, help="held-out code: a git repository the model did not see")
    parser.add_argument("--cases", type=int, default=12, help="held-out lines for the engine part (per route)")
    parser.add_argument("--typing-cases", type=int, default=8)
    parser.add_argument("--keystrokes", type=int, default=4, help="characters typed per typing case")
    parser.add_argument("--keystroke-ms", type=int, default=90)
    parser.add_argument("--debounce-ms", type=int, default=150)
    parser.add_argument("--fim", default="auto", help="completion.fim for the editor part")
    parser.add_argument("--context-budget", type=int, default=256)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--save", type=Path, help="write every suggestion and timing as JSON here")
    args = parser.parse_args(argv)

    server = None
    endpoint = args.endpoint
    if endpoint is None:
        from amigo.serve import ServerProcess

        server = ServerProcess(n_ctx=4096)
        server.start(timeout=180)
        endpoint = server.base_url
    try:
        print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs); endpoint {endpoint}")
        cases = held_out_cases(args.repo.resolve(), args.cases, args.seed)
        print(f"held-out lines: {len(cases)} from {len({c.path for c in cases})} files of {args.repo.resolve()}")
        rows = engine_part(endpoint, args.model, args.repo.resolve(), cases, args.context_budget) if args.cases else []
        if rows:
            print_engine(rows)
        typing = held_out_cases(args.repo.resolve(), args.typing_cases, args.seed + 1)
        result = typing_part(endpoint, args.model, args.repo.resolve(), typing, args.keystrokes, args.keystroke_ms,
                             args.debounce_ms, args.fim) if typing else None
        if result:
            print_typing(result, args.keystroke_ms, args.debounce_ms)
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
        if args.save:
            args.save.write_text(json.dumps({"engine": rows, "typing": result}, indent=1))
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

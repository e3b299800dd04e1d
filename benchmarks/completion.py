"""Inline completion as a person types it: latency, cancellation and accuracy on held-out real code.

Held-out code: lines of a real repository's Python files that ``git blame``
dates after ``--since`` (default 2025-01-01, after SmolLM2's training data was
collected), so the model cannot have seen them. For each sampled line the rest
of the line after a cursor place is removed from the file (the file after it
stays). Two kinds of place, alternately: a new line (the person typed the end
of the line before and pressed Enter; the editor indents: a block suggestion)
and inside the line (the person typed the line's first characters: a line
suggestion).

Each place is a typing session replayed keystroke by keystroke through the
real ``amigo lsp`` (stdio) and the real embedded model (``--backend``, as ``amigo serve``):
every keystroke sends ``didChange`` and ``textDocument/inlineCompletion`` (and
``$/cancelRequest`` for the previous one still open), as VS Code does, with a
random 80-200 ms between keys. Places go through each file from top to bottom,
the way a person moves. A proxy in front of the model server sees every model
request: when it started, its first token, its end, whether it was cut off,
and how much of its prompt it shares with the request before it (what
llama.cpp's prefix cache can skip).

Per route (FIM template, the text before the cursor continued left to right,
the chat prompt): p50/p95 from the last keystroke to the first token, to the
first suggestion shown (an inline completion answer; past ``latency_ms`` it may
hold only the words ready, marked ``more``) and to the whole suggestion (for an
early answer the script asks again at the place, as Amigo's Neovim and VS Code
clients do; accuracy is judged on the whole one), cold (the model's prompt is new: its start differs from the last request's) and
warm apart; the share of requests cancelled; model streams left running; exact
and first-line match.

    git clone /work/.mirror/python-humanize+humanize/repo /tmp/humanize
    python benchmarks/completion.py --repo /tmp/humanize --positions 32
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from amigo.complete import analyse  # noqa: E402
from amigo.repofiles import git_ls_files  # noqa: E402
from amigo_lsp.stdio_client import StdioClient  # noqa: E402

ROUTES = {"prefix": "prefix", "chat": "none", "fim:starcoder": "starcoder"}


@dataclass
class Place:
    path: str
    text: str  # the file with the held-out rest of the line removed
    offset: int  # the cursor
    target: str  # what was removed
    kind: str  # new-line | mid-line
    typed: list[str] = field(default_factory=list)  # the keystrokes that end at the cursor


def recent_lines(repo: Path, path: str, since: float) -> set[int]:
    """0-based numbers of the lines of ``path`` at HEAD whose last change is after ``since`` (epoch s)."""
    blame = subprocess.run(["git", "-C", str(repo), "blame", "--line-porcelain", "HEAD", "--", path],
                           capture_output=True, text=True, check=True).stdout
    recent, when, number = set(), 0, 0
    for line in blame.split("\n"):
        if line.startswith("committer-time "):
            when = int(line.split()[1])
        elif line.startswith("\t"):
            if when > since:
                recent.add(number)
            number += 1
    return recent


def held_out_places(repo: Path, count: int, since: float, seed: int) -> list[Place]:
    """``count`` places on lines changed after ``since``, spread over the files, in file order."""
    files = [rel for rel in git_ls_files(repo) or [] if rel.endswith(".py")]
    rng = random.Random(seed)
    candidates: list[tuple[str, int]] = []
    for rel in files:
        lines = (repo / rel).read_text(encoding="utf-8").split("\n")
        for i in sorted(recent_lines(repo, rel, since)):
            body = lines[i].strip()
            if i > 5 and 12 <= len(body) <= 80 and not body.startswith(("#", '"""', "'''", "@", ")", "]", "}")):
                candidates.append((rel, i))
    rng.shuffle(candidates)
    places: list[Place] = []
    for rel, i in candidates:
        if len(places) >= count:
            break
        place = _place(repo, rel, i, "new-line" if len(places) % 2 == 0 else "mid-line", rng)
        if place is not None:
            places.append(place)
    return sorted(places, key=lambda p: (p.path, p.offset))


def _place(repo: Path, rel: str, i: int, kind: str, rng: random.Random) -> Place | None:
    lines = (repo / rel).read_text(encoding="utf-8").split("\n")
    line = lines[i]
    indent = len(line) - len(line.lstrip())
    before = "\n".join(lines[:i])
    if kind == "new-line":
        cut = indent
        # the end of the line before, typed, then Enter (the editor indents the new line)
        tail = before[-4:] if "\n" not in before[-4:] else before[before.rfind("\n") + 1:]
        typed = list(tail) + ["\n" + line[:indent]]
    else:
        body = range(indent + (len(line) - indent) * 3 // 10, indent + (len(line) - indent) * 6 // 10 + 1)
        spots = [c for c in body if c > indent + 2 and not line[c - 1].isalnum()] or [indent + (len(line) - indent) // 2]
        cut = rng.choice(spots)
        typed = list(line[max(indent, cut - 6):cut])
    text = "\n".join(lines[:i] + [line[:cut]] + lines[i + 1:])
    offset = len(before) + 1 + cut
    if not line[cut:].strip() or analyse(text, offset, rel).mode == "none":
        return None
    return Place(rel, text, offset, line[cut:], kind, typed)


# -- the model server's side: a proxy that sees every request -------------------------------


@dataclass
class Stream:
    started: float
    prompt_chars: int
    shared_chars: int  # the beginning it shares with the request before it
    tail: str = ""  # the prompt's last characters, to check which keystroke it was
    first_chunk: float | None = None
    ended: float | None = None
    aborted: bool = False


def _prompt_of(body: bytes) -> str:
    data = json.loads(body or b"{}")
    return data.get("prompt") if "prompt" in data else json.dumps(data.get("messages"), ensure_ascii=False)


def _shared(a: str, b: str) -> int:
    """How many leading characters two prompts share."""
    return len(os.path.commonprefix([a, b]))


class Proxy:
    """Forwards POSTs to the model server, streaming, and records each stream.

    When the language server hangs up mid-stream (cancelled), the proxy closes
    its upstream request too, as the model server would see it directly.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.streams: list[Stream] = []
        self.open = 0
        self._last_prompt = ""
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                response = httpx.get(outer.upstream + self.path.removeprefix("/v1"), timeout=30)
                self.send_response(response.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                prompt = _prompt_of(body)
                with outer._lock:
                    stream = Stream(time.monotonic(), len(prompt), _shared(prompt, outer._last_prompt), prompt[-40:])
                    outer._last_prompt = prompt
                    outer.streams.append(stream)
                    outer.open += 1
                try:
                    with httpx.stream("POST", outer.upstream + self.path.removeprefix("/v1"), content=body,
                                      headers={"Content-Type": "application/json"}, timeout=300) as up:
                        self.send_response(up.status_code)
                        self.send_header("Content-Type", up.headers.get("content-type", "text/event-stream"))
                        self.send_header("Connection", "close")
                        self.end_headers()
                        for chunk in up.iter_raw():
                            if stream.first_chunk is None and b"data:" in chunk:  # not a ": ping" comment
                                stream.first_chunk = time.monotonic()
                            self.wfile.write(chunk)
                            self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    stream.aborted = True
                finally:
                    stream.ended = time.monotonic()
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


# -- one route: every place typed through the language server --------------------------------


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.split("\n") if ln.strip()), "")


def run_route(endpoint: str, model: str, repo: Path, places: list[Place], fim: str,
              seed: int, completion: dict | None = None, env_extra: dict[str, str] | None = None) -> dict:
    proxy = Proxy(endpoint)
    rng = random.Random(seed)
    sessions: list[dict] = []
    requests = answered_early = 0
    with tempfile.TemporaryDirectory() as tmp:
        # the repository's context index is shared (built before the first route, as a user's would be)
        env = dict(os.environ, XDG_DATA_HOME=str(Path(tmp) / "data"), XDG_STATE_HOME=str(Path(tmp) / "state"),
                   PYTHONPATH=str(ROOT), **(env_extra or {}))
        client = StdioClient([sys.executable, "-m", "amigo_lsp"], env=env)
        client.initialize(repo.as_uri(), {"endpoint": proxy.base_url, "model": model,
                                          "completion": {"fim": fim, **(completion or {})}})
        version, opened = 0, None
        try:
            for place in places:
                uri = (repo / place.path).as_uri()  # the editor's buffer: the file on disk is never touched
                typed_len = sum(len(k) for k in place.typed)
                start = place.offset - typed_len
                version += 1
                first_in_file = opened != uri
                if first_in_file:
                    if opened:
                        client.notify("textDocument/didClose", {"textDocument": {"uri": opened}})
                    client.notify("textDocument/didOpen", {"textDocument": {
                        "uri": uri, "languageId": "python", "version": version,
                        "text": place.text[:start] + place.text[place.offset:]}})
                    opened = uri
                else:
                    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                             "contentChanges": [{"text": place.text[:start] + place.text[place.offset:]}]})
                ids: list[int] = []
                streams_before = len(proxy.streams)
                k = start
                for n, key in enumerate(place.typed):
                    if n:
                        time.sleep(rng.uniform(0.08, 0.2))
                    k += len(key)
                    version += 1
                    text = place.text[:k] + place.text[place.offset:]
                    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                             "contentChanges": [{"text": text}]})
                    if ids and ids[-1] not in client.responses:
                        client.notify("$/cancelRequest", {"id": ids[-1]})
                    line = text.count("\n", 0, k)
                    col = k - (text.rfind("\n", 0, k) + 1)
                    last_key = time.monotonic()
                    ids.append(client.request_async("textDocument/inlineCompletion", {
                        "textDocument": {"uri": uri}, "position": {"line": line, "character": col},
                        "context": {"triggerKind": 2}}))
                    requests += 1
                final = client.wait(ids[-1], timeout=300)
                shown_at = whole_at = time.monotonic()
                items = (final.get("result") or {}).get("items") or []
                first = suggestion = items[0]["insertText"] if items else ""
                early = bool(items) and bool(((items[0].get("command") or {}).get("arguments") or [{}])[0].get("more"))
                if early:  # the words ready came first: ask again at the place, as Amigo's editor clients do
                    again = client.wait(client.request_async("textDocument/inlineCompletion", {
                        "textDocument": {"uri": uri}, "position": {"line": line, "character": col},
                        "context": {"triggerKind": 2}}), timeout=300)
                    whole_at = time.monotonic()
                    rest = (again.get("result") or {}).get("items") or []
                    suggestion = rest[0]["insertText"] if rest else first
                earlier = [client.wait(i, timeout=300) for i in ids[:-1]]
                answered_early += sum(1 for r in earlier if (r.get("result") or {}).get("items"))
                time.sleep(0.3)
                mine = proxy.streams[streams_before:]
                last = mine[-1] if mine and mine[-1].started >= last_key else None
                sessions.append({
                    "path": place.path, "kind": place.kind, "target": place.target, "suggestion": suggestion,
                    "error": final.get("error"), "first_in_file": first_in_file,
                    "shown_ms": (shown_at - last_key) * 1000 if suggestion else None,
                    "whole_ms": (whole_at - last_key) * 1000 if suggestion else None,
                    "early": early, "first_shown": first,
                    "answer_ms": (shown_at - last_key) * 1000,
                    "first_token_ms": (last.first_chunk - last_key) * 1000 if last and last.first_chunk else None,
                    "request_ms": (last.started - last_key) * 1000 if last else None,
                    "stream_ms": ((last.ended or last.started) - last.started) * 1000 if last else None,
                    "cold": bool(last) and last.shared_chars < 0.5 * last.prompt_chars,
                    "prompt_chars": last.prompt_chars if last else None,
                    "new_prompt_chars": (last.prompt_chars - last.shared_chars) if last else None,
                    "prompt_tails": [m.tail for m in mine],
                    "exact": bool(suggestion.strip()) and suggestion.strip() == place.target.strip(),
                    "first_line": bool(suggestion.strip()) and _first_line(suggestion) == place.target.strip(),
                    "left_running": proxy.open,
                })
        finally:
            client.close()
            proxy.close()
    streams = proxy.streams
    return {"fim": fim, "sessions": sessions, "requests": requests, "earlier_answered": answered_early,
            "model_streams": len(streams), "streams_cut_off": sum(s.aborted for s in streams),
            "stream_seconds": [((s.ended or s.started) - s.started) for s in streams]}


# -- the report ------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _p(values: list[float]) -> str:
    return f"{pct(values, .5):,.0f} / {pct(values, .95):,.0f} (n={len(values)})" if values else "-"


def report(label: str, result: dict) -> list[str]:
    s = result["sessions"]
    shown = lambda rows: [r["shown_ms"] for r in rows if r["shown_ms"] is not None]  # noqa: E731
    first = lambda rows: [r["first_token_ms"] for r in rows if r["first_token_ms"] is not None]  # noqa: E731
    warm, cold = [r for r in s if not r["cold"]], [r for r in s if r["cold"]]
    earlier = result["requests"] - len(s)
    new_chars = [r["new_prompt_chars"] for r in s if r["new_prompt_chars"] is not None]
    return [
        f"| {label} | places | {len(s)} ({sum(r['kind'] == 'new-line' for r in s)} new-line, "
        f"{sum(r['kind'] == 'mid-line' for r in s)} mid-line) |",
        f"| {label} | last key -> model asked (debounce + language server), all | "
        f"{_p([r['request_ms'] for r in s if r['request_ms'] is not None])} |",
        f"| {label} | model stream open (prompt + generation), warm / cold | "
        f"{_p([r['stream_ms'] for r in warm if r['stream_ms'] is not None])}; "
        f"{_p([r['stream_ms'] for r in cold if r['stream_ms'] is not None])} |",
        f"| {label} | last key -> first token, warm / cold (ms, p50 / p95) | {_p(first(warm))}; {_p(first(cold))} |",
        f"| {label} | last key -> suggestion shown, warm / cold (ms, p50 / p95) | {_p(shown(warm))}; {_p(shown(cold))} |",
        f"| {label} | last key -> suggestion shown, all | {_p(shown(s))} |",
        f"| {label} | last key -> whole suggestion shown (asked again after early words), all | "
        f"{_p([r['whole_ms'] for r in s if r.get('whole_ms') is not None])} |",
        f"| {label} | suggestions whose first words came early | {sum(bool(r.get('early')) for r in s)} of "
        f"{len(shown(s))} |",
        f"| {label} | last key -> answer (empty ones too), all | {_p([r['answer_ms'] for r in s])} |",
        f"| {label} | prompt characters new to the model at the last key, p50 / p95 | "
        f"{pct(new_chars, .5):,.0f} / {pct(new_chars, .95):,.0f} of p50 "
        f"{pct([r['prompt_chars'] for r in s if r['prompt_chars']], .5):,.0f} |",
        f"| {label} | exact / first-line match / empty | {sum(r['exact'] for r in s)}/{len(s)} / "
        f"{sum(r['first_line'] for r in s)}/{len(s)} / {sum(not r['suggestion'].strip() for r in s)}/{len(s)} |",
        f"| {label} | earlier keystrokes: requests / answered with a suggestion / model streams opened, "
        f"cut off | {earlier} / {result['earlier_answered']} / {result['model_streams']}, "
        f"{result['streams_cut_off']} |",
        f"| {label} | model streams still open after a session settled (max) | "
        f"{max([r['left_running'] for r in s] or [0])} |",
    ]


def server_speeds(log_path: Path, since: int) -> str:
    """Prompt evaluation and generation speed from llama.cpp's own log (what was appended since ``since``)."""
    text = log_path.read_text(errors="replace")[since:] if log_path.exists() else ""
    prompt = [(float(a), int(b)) for a, b in re.findall(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens", text)]
    gen = [(float(a), int(b)) for a, b in re.findall(r"\s eval time =\s*([\d.]+) ms /\s*(\d+) (?:runs|tokens)", text)]
    # llama-cpp-python logs its prefix-cache hits; llama-server logs only what each request evaluated
    hits = [int(n) for n in re.findall(r"remaining (\d+) prompt tokens to eval", text)] or [b for _, b in prompt]
    ms_p, n_p = sum(a for a, _ in prompt), sum(b for _, b in prompt)
    ms_g, n_g = sum(a for a, _ in gen), sum(b for _, b in gen)
    return (f"llama.cpp log: {n_p} prompt tokens evaluated in {ms_p / 1000:.1f} s "
            f"({n_p / max(ms_p / 1000, 1e-9):.0f} tok/s), {n_g} tokens generated in {ms_g / 1000:.1f} s "
            f"({n_g / max(ms_g / 1000, 1e-9):.0f} tok/s); {len(hits)} requests (llama-cpp-python: prefix-cache hits), "
            f"tokens left to evaluate "
            f"p50 {pct(hits, .5):.0f}, p95 {pct(hits, .95):.0f}")


def index_repository(repo: Path, places: list[Place]) -> None:
    """Build the repository's context index (``XDG_CACHE_HOME``) the way the first completion would."""
    from amigo.context import build_context

    for place in {p.path: p for p in places}.values():
        line = place.text.count("\n", 0, place.offset) + 1
        build_context(repo, place.path, place.text, (line, line), "", budget_tokens=64)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, required=True, help="held-out code: a git work tree the model did not see")
    parser.add_argument("--since", default="2025-01-01", help="only lines last changed after this date")
    parser.add_argument("--endpoint", help="model server base URL (default: start the embedded one)")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--positions", type=int, default=32)
    parser.add_argument("--routes", default=",".join(ROUTES), help=f"comma-separated, of {', '.join(ROUTES)}")
    parser.add_argument("--debounce-ms", type=int, help="completion.debounce_ms (default: Amigo's)")
    parser.add_argument("--threads", type=int, help="llama.cpp threads for the embedded server (default: Amigo's)")
    parser.add_argument("--backend", default="auto", choices=("auto", "llama-server", "llama-cpp-python"),
                        help="the embedded server (default: auto, as `amigo serve`: llama-server when built)")
    parser.add_argument("--latency-ms", type=int, help="completion.latency_ms (default: Amigo's)")
    parser.add_argument("--context-budget", type=int, help="completion.context_budget (default: Amigo's)")
    parser.add_argument("--prefix-tokens", type=int, help="completion.prefix_tokens (default: Amigo's)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--save", type=Path, help="write every session as JSON here")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    since = datetime.fromisoformat(args.since).replace(tzinfo=timezone.utc).timestamp()

    server = None
    served = ""
    endpoint = args.endpoint
    log_path = Path(tempfile.gettempdir()) / f"amigo-completion-bench-{os.getpid()}.log"
    if endpoint is None:
        from amigo.serve import ServerProcess

        server = ServerProcess(n_ctx=4096, threads=args.threads, log_path=log_path, backend=args.backend)
        server.start(timeout=180)
        endpoint = server.base_url
        served = f"; {server.backend}: {' '.join(server.command()[1:])}"
    results: dict[str, dict] = {}
    completion = {key: value for key, value in (("latencyMs", args.latency_ms), ("contextBudget", args.context_budget),
                                                ("debounceMs", args.debounce_ms)) if value is not None}
    env_extra = {"AMIGO_COMPLETION__PREFIX_TOKENS": str(args.prefix_tokens)} if args.prefix_tokens else {}
    cache = tempfile.TemporaryDirectory()
    os.environ["XDG_CACHE_HOME"] = cache.name
    try:
        print(f"load average at start: {os.getloadavg()} ({os.cpu_count()} CPUs); endpoint {endpoint}"
              + served)
        places = held_out_places(repo, args.positions, since, args.seed)
        head = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%h %cs"], capture_output=True,
                              text=True).stdout.strip()
        print(f"held-out places: {len(places)} in {len({p.path for p in places})} files of {repo} at {head}, "
              f"lines changed after {args.since}; completion settings other than Amigo's defaults: {completion}"
              f"{', ' + str(env_extra) if env_extra else ''}")
        started = time.monotonic()
        index_repository(repo, places)
        print(f"context index built in {time.monotonic() - started:.0f} s (before timing, as a user's already is)")
        lines = ["| route | measure | result |", "| --- | --- | --- |"]
        for label in args.routes.split(","):
            mark = log_path.stat().st_size if log_path.exists() else 0
            started = time.monotonic()
            results[label] = run_route(endpoint, args.model, repo, places, ROUTES[label], args.seed,
                                       completion, env_extra)
            print(f"{label}: {time.monotonic() - started:.0f} s, load average {os.getloadavg()}; "
                  f"{server_speeds(log_path, mark) if server else ''}", flush=True)
            lines += report(label, results[label])
            print("\n".join(report(label, results[label])), flush=True)
            if args.save:
                args.save.write_text(json.dumps(results, indent=1))
        print("\n".join(lines))
        print(f"load average at end: {os.getloadavg()}")
        if args.save:
            args.save.write_text(json.dumps(results, indent=1))
    finally:
        if server is not None:
            server.stop()
        cache.cleanup()
        log_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

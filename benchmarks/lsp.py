"""Language server figures: code action latency, time to progress and applyEdit, memory.

    python benchmarks/lsp.py                      # starts the embedded model server itself
    python benchmarks/lsp.py --endpoint http://127.0.0.1:8080/v1

Prints: textDocument/codeAction round-trip p50/p99 while idle and while a
generation streams (target: p99 < 10 ms), time from amigo.edit to the first
$/progress and to workspace/applyEdit on the model, and the server's RSS idle
and at its peak during the request. The client is amigo_lsp.stdio_client over
real stdio with a real server process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from amigo.config import DECODING_MODES  # noqa: E402
from amigo_lsp.stdio_client import StdioClient  # noqa: E402
from helpers import SAMPLE_USERS as SAMPLE  # noqa: E402  (the tests' sample repository's users.py)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def code_action_params(uri: str) -> dict:
    return {"textDocument": {"uri": uri}, "range": {"start": {"line": 16, "character": 0}, "end": {"line": 18, "character": 0}},
            "context": {"diagnostics": [{"range": {"start": {"line": 17, "character": 4}, "end": {"line": 17, "character": 10}},
                                         "message": "max() arg is an empty sequence", "severity": 1}]}}


def time_code_actions(client: StdioClient, uri: str, count: int, stop: threading.Event | None = None) -> list[float]:
    out = []
    for _ in range(count):
        if stop is not None and stop.is_set():
            break
        t = time.perf_counter()
        client.request("textDocument/codeAction", code_action_params(uri))
        out.append((time.perf_counter() - t) * 1000)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", help="model server base URL (default: start the embedded one)")
    parser.add_argument("--actions", type=int, default=1000, help="code action requests while idle")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3, help="amigo.edit runs")
    parser.add_argument("--decoding", choices=DECODING_MODES, default=None,
                        help="override the decoding mode (default: the configuration's)")
    args = parser.parse_args(argv)

    server = None
    endpoint = args.endpoint
    if endpoint is None and args.runs > 0:
        from amigo.serve import ServerProcess

        server = ServerProcess(n_ctx=4096)
        server.start(timeout=180)
        endpoint = server.base_url
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", repo], check=True)
        (repo / "users.py").write_text(SAMPLE)
        env = dict(os.environ, XDG_DATA_HOME=str(Path(tmp) / "data"), XDG_STATE_HOME=str(Path(tmp) / "state"),
                   PYTHONPATH=str(ROOT))
        client = StdioClient([sys.executable, "-m", "amigo_lsp"], env=env)
        try:
            started = time.perf_counter()
            client.initialize(repo.as_uri(), {"endpoint": endpoint or "http://127.0.0.1:9/v1", "maxTokens": args.max_tokens, "editFormat": "whole",
                                               **({"decoding": args.decoding} if args.decoding else {})})
            print(f"server start + initialize: {(time.perf_counter() - started) * 1000:.0f} ms")
            uri = (repo / "users.py").as_uri()
            client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": SAMPLE}})
            time_code_actions(client, uri, 50)  # warm up
            idle = time_code_actions(client, uri, args.actions)
            rss_idle = rss_kib(client.proc.pid)
            print(f"codeAction idle      ({len(idle)} requests): p50 {pct(idle, .5):.2f} ms  p99 {pct(idle, .99):.2f} ms")

            busy: list[float] = []
            firsts, applies, peaks, begins = [], [], [], []
            version = 1
            for run in range(args.runs):
                peak = [rss_kib(client.proc.pid)]
                stop = threading.Event()

                def sample() -> None:
                    while not stop.is_set():
                        peak[0] = max(peak[0], rss_kib(client.proc.pid))
                        time.sleep(0.02)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                n_notes, n_reqs = len(client.notifications), len(client.server_requests)
                t0 = time.monotonic()
                msg_id = client.request_async("workspace/executeCommand", {
                    "command": "amigo.edit", "workDoneToken": f"bench-{run}",
                    "arguments": [{"uri": uri, "range": code_action_params(uri)["range"], "instruction": "add a docstring to oldest"}]})
                actions = threading.Thread(target=lambda: busy.extend(time_code_actions(client, uri, 100000, stop)), daemon=True)
                actions.start()
                result = client.wait(msg_id, timeout=600).get("result") or {}
                stop.set()
                actions.join()
                sampler.join()
                notes = [(t, (m.get("params") or {}).get("value", {}).get("kind")) for t, m in client.notifications[n_notes:]
                         if m.get("method") == "$/progress"]
                begins.extend((t - t0) * 1000 for t, kind in notes[:1] if kind == "begin")
                progress = [t for t, kind in notes if kind == "report"]
                applied = [t for t, m in client.server_requests[n_reqs:] if m.get("method") == "workspace/applyEdit"]
                if progress:
                    firsts.append((progress[0] - t0) * 1000)
                if applied:
                    applies.append((applied[0] - t0) * 1000)
                peaks.append(peak[0])
                print(f"run {run + 1}: ok={result.get('ok')} applied={result.get('applied')} "
                      f"first progress {firsts[-1] if progress else float('nan'):.0f} ms, "
                      f"applyEdit {applies[-1] if applied else float('nan'):.0f} ms, peak RSS {peak[0] / 1024:.1f} MiB")
                if result.get("applied"):  # put the text back for the next run
                    client.request("workspace/executeCommand", {"command": "amigo.undo", "arguments": []}, timeout=60)
                version += 1
            if busy:
                print(f"codeAction streaming ({len(busy)} requests): p50 {pct(busy, .5):.2f} ms  p99 {pct(busy, .99):.2f} ms")
            if begins:
                print(f"amigo.edit -> $/progress begin: median {statistics.median(begins):.1f} ms")
            if firsts:
                print(f"amigo.edit -> first progress report (first token): median {statistics.median(firsts):.0f} ms")
            if applies:
                print(f"amigo.edit -> workspace/applyEdit: median {statistics.median(applies):.0f} ms")
            print(f"load average during the run: {Path('/proc/loadavg').read_text().split()[0]} on {os.cpu_count()} CPUs")
            print(f"server RSS idle {rss_idle / 1024:.1f} MiB, peak during a request {max(peaks) / 1024:.1f} MiB")
        finally:
            client.close()
            if server is not None:
                server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

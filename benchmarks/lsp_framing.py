"""What the language server's frame reader costs: clean streams, large bodies, corrupted streams.

    python benchmarks/lsp_framing.py [--repeat 5]

The reader (amigo_lsp.transport.FrameReader) checks every body for a header
block inside it (proof of a wrong Content-Length) and resynchronises after
framing errors; this measures that cost in-process, on messages an editor
really sends: code actions, and didOpen of this repository's own source files
(the largest ones, as one message each). The corrupted stream is the clean
one with one frame in ten damaged (a byte flipped in its header or body).
Prints MB/s and frames/s per stream (the best of --repeat runs) and the load
average, since these machines are shared.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from amigo_lsp.stdio_client import frame  # noqa: E402
from amigo_lsp.transport import FrameReader  # noqa: E402


def code_action(n: int) -> bytes:
    rng = {"start": {"line": n % 40, "character": 0}, "end": {"line": n % 40 + 3, "character": 0}}
    return frame(json.dumps({"jsonrpc": "2.0", "id": n, "method": "textDocument/codeAction", "params": {
        "textDocument": {"uri": "file:///repo/users.py"}, "range": rng, "context": {"diagnostics": []}}}).encode())


def did_open(path: Path) -> bytes:
    return frame(json.dumps({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": path.as_uri(), "languageId": "python", "version": 1, "text": path.read_text()}}}).encode())


def corrupt(frames: list[bytes], rng: random.Random) -> list[bytes]:
    out = []
    for i, data in enumerate(frames):
        if i % 10 == 5:
            damaged = bytearray(data)
            damaged[rng.randrange(min(len(damaged), 40))] = rng.randrange(256)
            data = bytes(damaged)
        out.append(data)
    return out


def measure(stream: bytes, repeat: int) -> tuple[float, int]:
    """Best seconds to read ``stream`` whole, and the frames it gave."""
    best, count = float("inf"), 0
    for _ in range(repeat):
        source = io.BytesIO(stream)
        started = time.perf_counter()
        count = sum(1 for _ in FrameReader(source.read).frames())
        best = min(best, time.perf_counter() - started)
    return best, count


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # the damaged stream logs each framing error: not what is timed
    sources = sorted(ROOT.glob("amigo*/**/*.py"), key=lambda p: p.stat().st_size, reverse=True)[:20]
    actions = [code_action(n) for n in range(20_000)]
    opens = [did_open(p) for p in sources]
    streams = {
        "20,000 code actions": actions,
        f"didOpen of the {len(opens)} largest source files": opens,
        "code actions, 1 in 10 damaged": corrupt(actions, random.Random(7)),
    }
    for name, frames in streams.items():
        data = b"".join(frames)
        seconds, count = measure(data, args.repeat)
        print(f"{name:48} {len(data) / 1e6:7.2f} MB  {len(data) / 1e6 / seconds:8.1f} MB/s  "
              f"{count / seconds:10,.0f} frames/s  ({count} of {len(frames)} frames read)")
    print(f"load average {Path('/proc/loadavg').read_text().split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Benchmark `amigo tui`: start-up in a 10k-file repository, memory, and frames while a generation streams.

    python benchmarks/tui.py [--files 10000] [--tokens 3000] [--token-delay 0.004]

Prints:
* start-up, end to end in a real terminal: tmux runs `amigo tui` and the
  screen is polled until the file tree and the footer are drawn (includes
  Python's start and imports); skipped when tmux is missing;
* start-up in process: App start -> first frame, and -> tree filled;
* peak RSS of the in-process run;
* while a recorded answer streams (a real HTTP server, real client): frame
  intervals of the screen (target: the slowest frame still >= 30 fps, i.e.
  no gap > 33 ms while tokens arrive) and keystroke-to-render latency (a letter
  typed into the instruction box every 100 ms, to the first frame showing it).

Frames are counted at Textual's driver (headless): the terminal's own drawing
is not included. Figures depend on the machine's load; run it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers import RecordedModelServer  # noqa: E402  (the tests' recorded-answer server)


def make_repo(where: Path, files: int) -> Path:
    """A git repository with ``files`` small Python files in 100 folders, committed."""
    repo = where / "big-repo"
    repo.mkdir()
    per_dir = max(1, files // 100)
    for i in range(files):
        folder = repo / f"pkg{i // per_dir:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"mod{i:05d}.py").write_text(f'"""Module {i}."""\n\n\ndef f{i}(x):\n    return x + {i}\n')
    (repo / "users.py").write_text('"""A tiny user registry."""\n\n\ndef oldest(users):\n'
                                   "    return max(users, key=lambda u: u.age)\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "b@x"}
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "init"]):
        subprocess.run(cmd, cwd=repo, check=True, env=env)
    return repo


def tmux_startup(repo: Path, endpoint: str) -> float | None:
    """Seconds from launching `amigo tui` in tmux to a screen with the tree and the footer drawn."""
    if shutil.which("tmux") is None:
        return None
    socket = f"amigo-bench-{os.getpid()}"
    script = Path(sys.executable).parent / "amigo"
    command = f"{script if script.exists() else sys.executable + ' -m amigo'} tui --repo {repo} users.py"
    env_args = ["-e", f"AMIGO_ENDPOINT={endpoint}", "-e", "AMIGO_FEEDBACK__ENABLED=false",
                "-e", f"PYTHONPATH={os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')]))}",
                "-e", "TERM=xterm-256color"]
    started = time.perf_counter()
    subprocess.run(["tmux", "-L", socket, "new-session", "-d", "-s", "b", "-x", "100", "-y", "30", *env_args,
                    command], check=True)
    try:
        while time.perf_counter() - started < 60:
            screen = subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-t", "b"],
                                    capture_output=True, text=True).stdout
            if "▶ pkg0" in screen and "Find file" in screen and "A tiny user registry" in screen:
                return time.perf_counter() - started
            time.sleep(0.01)
        return None
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


async def in_process(repo: Path, endpoint: str, slow: RecordedModelServer) -> dict[str, object]:
    from textual import events
    from textual._compositor import CompositorUpdate

    from amigo.config import load_config
    from amigo.engine import EditSession
    from amigo_tui.app import AmigoApp
    from amigo_tui.widgets.stream_panel import StreamPanel

    config = dataclasses.replace(load_config(repo), endpoint=slow.base_url, model="recorded", edit_format="blocks",
                                 decoding="free", context_budget=0, retries=0)
    config.feedback.enabled = False
    session = EditSession.open(repo, config=config)
    app = AmigoApp(session, path="users.py")
    frames: list[float] = []
    frame_tokens: list[int] = []  # tokens shown in the panel at each frame
    stream_ref: list[object] = []
    frame_views: list[str] = []  # which main view each frame shows
    t0 = time.perf_counter()
    results: dict[str, object] = {}
    async with app.run_test(size=(100, 30)) as pilot:
        original_display = app._display

        def display(screen, renderable) -> None:  # noqa: ANN001
            """Headless Textual skips turning updates into terminal bytes; do it here so it is counted."""
            if renderable is not None:
                if isinstance(renderable, CompositorUpdate):
                    renderable.render_segments(app.console)
                frames.append(time.perf_counter())
                frame_tokens.append(stream_ref[0].tokens if stream_ref else 0)  # type: ignore[attr-defined]
                frame_views.append(str(app.query_one("#main").current))
            original_display(screen, renderable)
        app._display = display  # type: ignore[method-assign]
        while not app.paths:
            await asyncio.sleep(0.005)
        results["tree filled (s)"] = time.perf_counter() - t0
        await pilot.pause(0.2)
        results["rss after start (MiB)"] = _rss_mib()

        frames.clear()
        frame_tokens.clear()
        frame_views.clear()
        stream_ref.append(app.query_one(StreamPanel))
        await pilot.press("i")
        app.query_one("#instruction").insert_text_at_cursor("document oldest")
        await pilot.press("enter")
        stream = app.query_one(StreamPanel)
        while stream.tokens < 20:
            await asyncio.sleep(0.005)
        stream_start = time.perf_counter()
        latencies: list[float] = []
        box = app.query_one("#instruction")
        app.post_message(events.Key("i", "i"))  # focus the box: the person types the next instruction
        while app.focused is not box:
            await asyncio.sleep(0.001)
        letters = "abcdefghjklmnopqrstuvwxyz" * 20
        typed = 0
        while app.generating and typed < len(letters):
            expected = box.value + letters[typed]
            pressed = time.perf_counter()
            app.post_message(events.Key(letters[typed], letters[typed]))
            typed += 1
            while box.value != expected and app.generating:
                await asyncio.sleep(0.001)
            changed = time.perf_counter()
            while (not frames or frames[-1] < changed) and time.perf_counter() - changed < 1:
                await asyncio.sleep(0.001)  # the first frame written after the letter landed
            if frames and frames[-1] >= changed:
                latencies.append(frames[-1] - pressed)
            await asyncio.sleep(0.1)
        stream_end = time.perf_counter()
        results["tokens streamed"] = stream.tokens
        # Frames from the 20th token until the frame that shows the last one: generation time only
        # (the review that opens afterwards is a one-off, measured separately below).
        final = stream.tokens
        window = [t for t, n in zip(frames, frame_tokens) if stream_start <= t and n < final]
        last = next((t for t, n in zip(frames, frame_tokens) if n >= final), None)
        if last is not None:
            window.append(last)
        gaps = [b - a for a, b in zip(window, window[1:])]
        if gaps:
            span = window[-1] - window[0]
            worst = max(range(len(gaps)), key=gaps.__getitem__)
            results["frames while streaming"] = len(window)
            results["mean fps while streaming"] = len(window) / span if span else float("nan")
            results["slowest frame gap (ms)"] = gaps[worst] * 1000
            results["slowest gap starts at (s into the stream)"] = window[worst] - window[0]
            results["p99 frame gap (ms)"] = sorted(gaps)[max(0, int(len(gaps) * 0.99) - 1)] * 1000
            results["min fps (1 / slowest gap)"] = 1 / gaps[worst]
        if last is not None:
            review = next((t for t, v in zip(frames, frame_views) if t > last and v == "review"), None)
            if review is not None:
                results["review drawn after the last token's frame (ms)"] = (review - last) * 1000
        if latencies:
            results["keystroke->render median (ms)"] = statistics.median(latencies) * 1000
            results["keystroke->render max (ms)"] = max(latencies) * 1000
    session.close()
    results["peak RSS (MiB)"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--tokens", type=int, default=3000, help="pieces in the streamed answer")
    parser.add_argument("--token-delay", type=float, default=0.004, help="seconds between pieces (0.004 = 250/s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")
        made = time.perf_counter()
        repo = make_repo(Path(tmp), args.files)
        print(f"repository: {args.files:,} files ({time.perf_counter() - made:.1f} s to make)")
        prose = "Explaining the change line by line as it streams. " * 4
        block = ('users.py\n<<<<<<< SEARCH\ndef oldest(users):\n=======\ndef oldest(users):\n'
                 '    """The oldest user."""\n>>>>>>> REPLACE\n')
        answer = ((prose + "\n") * (args.tokens * 4 // (len(prose) + 1) + 1))[: args.tokens * 4] + "\n\n" + block
        with RecordedModelServer(answer, chunk_chars=4, delay_s=args.token_delay) as server:
            wall = tmux_startup(repo, server.base_url)
            print("start-up in tmux, to tree + file + footer drawn: "
                  + (f"{wall:.2f} s" if wall is not None else "skipped (no tmux)"))
            results = asyncio.run(in_process(repo, server.base_url, server))
    for key, value in results.items():
        print(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")
    gap = results.get("slowest frame gap (ms)")
    if isinstance(gap, float):
        print(f"target: no frame gap over 33.3 ms while streaming (>= 30 fps): {'met' if gap <= 33.3 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

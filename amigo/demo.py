"""`make demo`: the whole loop on the embedded default, on a throwaway sample repository.

Starts SmolLM2-135M-Instruct on llama.cpp, makes a small git repository,
runs the real ``amigo edit`` command with an instruction, prints the proposed
diff, applies it and shows ``git log``/``git diff``. Nothing outside the
demo folder is touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from amigo.errors import AmigoError
from amigo.serve import ServerProcess

SAMPLE = {
    "users.py": '''"""A tiny user registry."""

from dataclasses import dataclass


@dataclass
class User:
    name: str
    age: int


def load_users(rows):
    """Build users from (name, age) rows."""
    return [User(name, int(age)) for name, age in rows]


def average_age(users):
    total = 0
    for user in users:
        total += user.age
    return total / len(users)
''',
    "README.md": "# sample\n\nA repository that Amigo's demo edits.\n",
}

INSTRUCTION = "Return 0 when the list of users is empty instead of dividing by zero."
TARGET = "users.py"
LINES = "17-21"


# What `amigo edit --yes` says when it refuses a change that fails its checks (amigo.cli).
REFUSED_BY_CHECKS = "the change fails its checks"


def _run_echoing_stderr(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run ``cmd`` with its standard error passed through as it streams, and kept."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    kept = bytearray()
    while chunk := os.read(proc.stderr.fileno(), 4096):
        kept += chunk
        sys.stderr.buffer.write(chunk)
        sys.stderr.flush()
    return proc.wait(), kept.decode("utf-8", "replace")


def make_sample_repo(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "Amigo Demo", "GIT_AUTHOR_EMAIL": "demo@amigo.invalid",
           "GIT_COMMITTER_NAME": "Amigo Demo", "GIT_COMMITTER_EMAIL": "demo@amigo.invalid"}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=folder, check=True, env=env)
    for name, text in SAMPLE.items():
        (folder / name).write_text(text, encoding="utf-8")
    subprocess.run(["git", "add", *SAMPLE], cwd=folder, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "Initial commit"], cwd=folder, check=True, env=env)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amigo.demo")
    parser.add_argument("--dir", default=".amigo-demo/sample", help="where to make the sample repository")
    parser.add_argument("--instruction", default=INSTRUCTION)
    args = parser.parse_args(argv)
    repo = make_sample_repo(Path(args.dir).resolve())
    print(f"== sample repository: {repo}", flush=True)
    print("== starting the embedded model server (SmolLM2-135M-Instruct on llama.cpp)", flush=True)
    try:
        server = ServerProcess(log_path=repo.parent / "server.log").start()
    except AmigoError as exc:
        print(f"== the model server did not come up: {exc}", file=sys.stderr, flush=True)
        return 1
    with server:
        print(f"== server up at {server.base_url} (first completion {server.ready_s:.1f} s after start)", flush=True)
        env = {**os.environ, "AMIGO_ENDPOINT": server.base_url, "AMIGO_FEEDBACK__ENABLED": "false",
               "GIT_AUTHOR_NAME": "Amigo Demo", "GIT_AUTHOR_EMAIL": "demo@amigo.invalid",
               "GIT_COMMITTER_NAME": "Amigo Demo", "GIT_COMMITTER_EMAIL": "demo@amigo.invalid"}
        cmd = [sys.executable, "-m", "amigo", "edit", args.instruction, str(repo / TARGET),
               "--lines", LINES, "--yes", "--commit", "--color", "always"]
        print(f"== amigo edit {args.instruction!r} {TARGET} --lines {LINES} --yes --commit", flush=True)
        code, errors = _run_echoing_stderr(cmd, repo, env)
    print("== git log --oneline", flush=True)
    subprocess.run(["git", "log", "--oneline"], cwd=repo)
    return report(repo, code, errors)


def report(repo: Path, code: int, errors: str = "") -> int:
    """The demo's own exit status: 0 when the loop ran, whatever the small model wrote.

    ``amigo edit`` exits 0 when the change was applied and 1 when Amigo refused
    the model's answer (it did not parse, did not apply, or broke the file):
    both mean the loop worked. Anything else (bad usage, a dead server) is a
    broken loop and fails the demo.
    """
    if code == 0:
        print("== the committed change (git show HEAD)", flush=True)
        subprocess.run(["git", "--no-pager", "show", "--stat", "--patch", "HEAD"], cwd=repo)
        return 0
    if code == 1 and REFUSED_BY_CHECKS in errors:
        print("== every answer failed its checks (shown above), so nothing was written: the repository is "
              "unchanged. The loop ran as it should; a stronger model (or `amigo edit` without --yes to "
              "review) gets further.", flush=True)
        return 0
    if code == 1:
        print("== amigo edit refused the model's answer (exit 1), so the repository is unchanged. The loop ran; "
              "the 135M embedded model often writes edits that do not apply or do not parse. A stronger model "
              "(see README: vLLM or Ollama) does better.", flush=True)
        return 0
    print(f"== amigo edit failed with exit {code}: the loop itself broke (see the message above)", file=sys.stderr,
          flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())

"""Turning pasted error text or a test command's output into a "fix" request (pure helpers)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from amigo.prompt import Diagnostic

MAX_ERROR_CHARS = 4000


def diagnostics_from_output(text: str, path: str, selection: tuple[int, int] | None) -> tuple[Diagnostic, ...]:
    """One diagnostic carrying the (tail of the) error text, at the first line it names in ``path``.

    Tracebacks (``File "x.py", line 12``), compilers (``x.py:12:``) and pytest
    (``x.py:12: AssertionError``) are recognised; otherwise the selection or line 1.
    """
    text = text.strip()[-MAX_ERROR_CHARS:]
    name = re.escape(Path(path).name)
    line = None
    for pattern in (rf'{name}", line (\d+)', rf"{name}:(\d+)"):
        match = re.search(pattern, text)
        if match:
            line = int(match.group(1))
            break
    if line is None:
        line = selection[0] if selection else 1
    return (Diagnostic(message=text, start_line=line, severity="error", source="amigo tui"),)


def run_test_command(command: str, cwd: Path, timeout: float = 300.0) -> str:
    """Run the configured test command and return its output (stdout and stderr, tail kept)."""
    try:
        done = subprocess.run(shlex.split(command), cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        return f"test command not found: {command!r}; check --test-command"
    except subprocess.TimeoutExpired:
        return f"test command {command!r} ran past {timeout:g} s and was stopped"
    output = (done.stdout + done.stderr).strip()
    status = "passed" if done.returncode == 0 else f"failed (exit {done.returncode})"
    return f"$ {command}  -> {status}\n{output[-MAX_ERROR_CHARS:]}"

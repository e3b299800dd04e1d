"""Two front ends applying at once: check-and-replace is atomic across real processes.

The attack of issue 16: a file of unique lines, one answer edits a line near
the top, another a line near the bottom, both started together. Before the
per-repository lock, half of such trials ended with both saying "applied" and
the file holding only one edit. Now each process either applies on top of
the other's change or is refused as stale; no edit that was reported applied
is ever missing. (``benchmarks/safety.py`` runs hundreds of these trials.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from amigo.engine import EditSession
from amigo.errors import StaleError
from amigo.workspace import Workspace

from helpers import git

LINES = 6000
EDITED = (11, 3001, 5901)  # 1-based lines the concurrent answers replace


def _base() -> str:
    return "".join(f"line {i} of a long file\n" for i in range(1, LINES + 1))


def _answer(line: int) -> str:
    return f"big.txt\n<<<<<<< SEARCH\nline {line} of a long file\n=======\nLINE {line} EDITED\n>>>>>>> REPLACE\n"


def _expected(applied: list[int]) -> str:
    text = _base()
    for line in applied:
        text = text.replace(f"line {line} of a long file\n", f"LINE {line} EDITED\n")
    return text


def test_concurrent_applies_never_lose_an_update(repo: Path) -> None:
    answers = []
    for line in EDITED:
        path = repo.parent / f"answer-{line}.txt"
        path.write_text(_answer(line))
        answers.append(path)
    env = {**os.environ, "AMIGO_CONTEXT_BUDGET": "0", "AMIGO_FEEDBACK__ENABLED": "false"}
    for trial in range(3):
        (repo / "big.txt").write_text(_base())
        procs = [subprocess.Popen([sys.executable, "-m", "amigo", "apply", str(a), "--yes"], cwd=repo, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for a in answers]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        applied = []
        for line, (code, err) in zip(EDITED, results):
            assert "Traceback" not in err, err
            if code == 0:
                assert "applied to big.txt" in err
                applied.append(line)
            else:
                assert code == 1 and "stale" in err and "your changes are kept" in err, err
        assert applied, results
        assert (repo / "big.txt").read_text() == _expected(applied), f"trial {trial}: an applied edit was lost"
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == "?? big.txt\n"


def test_the_bytes_are_checked_again_under_the_lock(repo: Path) -> None:
    """A proposal made, then another process changes the file while holding the lock: refused as stale."""
    session = EditSession.open(repo)
    request = session.make_request("(replayed)", "users.py", edit_format="blocks")
    proposal = session.proposal_from_answer(
        request, "users.py\n<<<<<<< SEARCH\ndef oldest(users):\n=======\ndef eldest(users):\n>>>>>>> REPLACE\n")
    assert proposal.ok
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from amigo.workspace import Workspace
        ws = Workspace({str(repo)!r})
        with ws.locked():
            print("locked", flush=True)
            time.sleep(1.0)
            path = Path({str(repo / "users.py")!r})
            path.write_text(path.read_text() + "# typed by another front end\\n")
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        stale = None
        try:
            session.accept(proposal)  # waits for the lock, then sees the new bytes
        except StaleError as exc:
            stale = exc
    finally:
        holder.wait(timeout=30)
        session.close()
    assert stale is not None and stale.path == "users.py"
    text = (repo / "users.py").read_text()
    assert text.endswith("# typed by another front end\n") and "def oldest(users):" in text


def test_a_lock_held_by_a_killed_process_is_released(repo: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from amigo.workspace import Workspace
        with Workspace({str(repo)!r}).locked():
            print("locked", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait(timeout=30)
    ws = Workspace(repo)
    with ws.locked():  # would wait LOCK_TIMEOUT_S and refuse if the dead holder still had it
        pass

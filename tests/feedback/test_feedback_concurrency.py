"""4 processes x 5,000 events at once, one killed with SIGKILL mid-run: nothing committed is lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

WRITER = Path(__file__).with_name("feedback_stress_writer.py")
ROOT = Path(__file__).resolve().parents[2]
PER_WRITER = 5000
WRITERS = 4


def acked(path: Path) -> list[int]:
    if not path.exists():
        return []
    lines = path.read_text().split("\n")
    # the last line may be cut by the kill: only whole lines count
    return [int(x) for x in lines[:-1] if x.isdigit()]


@pytest.mark.slow
def test_four_writers_and_a_kill_lose_nothing_committed(tmp_path):
    db = tmp_path / "feedback.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    acks = [tmp_path / f"ack{w}" for w in range(WRITERS)]
    procs = [subprocess.Popen([sys.executable, str(WRITER), str(db), str(w), str(PER_WRITER), str(acks[w])],
                              env=env, cwd=tmp_path) for w in range(WRITERS)]
    victim = procs[0]
    deadline = time.monotonic() + 240
    while len(acked(acks[0])) < PER_WRITER // 3:
        assert victim.poll() is None, "writer 0 ended before it could be killed"
        assert time.monotonic() < deadline, "writers are too slow to reach the kill point"
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(30) == -signal.SIGKILL
    for proc in procs[1:]:
        assert proc.wait(240) == 0

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        seqs: dict[int, list[int]] = {w: [] for w in range(WRITERS)}
        for (reason,) in conn.execute("SELECT json_extract(data, '$.reason') FROM events"):
            writer, _, seq = reason[1:].partition("-")
            seqs[int(writer)].append(int(seq))
    finally:
        conn.close()
    for w in range(1, WRITERS):
        assert sorted(seqs[w]) == list(range(PER_WRITER)), f"writer {w}"
    killed = acked(acks[0])
    assert PER_WRITER // 3 <= len(killed) < PER_WRITER
    stored = sorted(seqs[0])
    # every acknowledged event is there, in order, and at most the one in flight after the last ack
    assert stored[: len(killed)] == killed == list(range(len(killed)))
    assert stored in (killed, killed + [len(killed)])
    total = sum(len(s) for s in seqs.values())
    assert total == (WRITERS - 1) * PER_WRITER + len(stored)

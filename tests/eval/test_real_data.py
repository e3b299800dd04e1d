"""The harness against the real benchmark files: canonical solutions pass, buggy ones fail.

Runs when the shared data is present (``$AMIGO_DATA_DIR`` or ``../shared/data``
beside the checkout, as in CI); otherwise it is skipped, saying why.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from amigo_train.eval.sandbox import Sandbox, strict_available
from amigo_train.eval.tasks import get_task

CHECKOUT = Path(__file__).resolve().parents[2]
CANDIDATES = [os.environ.get("AMIGO_DATA_DIR") or "", str(CHECKOUT.parent / "shared" / "data")]
DATA = next((Path(c) for c in CANDIDATES if c and (Path(c) / "humaneval").is_dir()), None)
STRICT, WHY = strict_available()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(DATA is None, reason="benchmark data not found: set AMIGO_DATA_DIR or put the shared "
                                            "data at ../shared/data beside the checkout"),
]


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    if not STRICT:
        pytest.skip(f"strict sandbox unavailable: {WHY}")
    with Sandbox(mode="strict") as sb:
        yield sb


def _scores(task_name: str, which: str, sandbox: Sandbox) -> dict[str, bool]:
    task = get_task(task_name)
    problems = task.load(DATA)

    def one(problem):  # type: ignore[no-untyped-def]
        answer = task.reference(problem) if which == "reference" else task.buggy(problem)
        return problem.id, task.score(problem, answer, sandbox).passed

    with ThreadPoolExecutor(max_workers=sandbox.size) as pool:
        return dict(pool.map(one, problems))


def test_humaneval_canonical_solutions_all_pass(sandbox: Sandbox) -> None:
    passed = _scores("humaneval", "reference", sandbox)
    assert len(passed) == 164
    assert [p for p, ok in passed.items() if not ok] == []


def test_humanevalfix_canonical_pass_and_buggy_fail(sandbox: Sandbox) -> None:
    canonical = _scores("humanevalfix", "reference", sandbox)
    buggy = _scores("humanevalfix", "buggy", sandbox)
    assert len(canonical) == len(buggy) == 164
    assert [p for p, ok in canonical.items() if not ok] == []
    assert [p for p, ok in buggy.items() if ok] == []

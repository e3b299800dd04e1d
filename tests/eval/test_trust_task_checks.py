"""The trust benchmark's behaviour checks are sound, and work as a person's check command.

Every task's check file must pass its reference edit and fail the untouched
function (or a wrong edit, where the instruction keeps the behaviour): a check
that cannot fail would count every parsing answer as doing what was asked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from amigo.client import ChatClient
from amigo.config import Config
from amigo.engine import EditSession
from amigo.workspace import Workspace
from amigo_train.eval.sandbox import Sandbox, strict_available

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import task_checks, trust  # noqa: E402

STRICT, WHY = strict_available()
TASKS = task_checks.load_tasks()


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    with Sandbox(workers=2, mode="strict" if STRICT else "basic") as sb:
        yield sb


def test_every_task_has_a_check_file() -> None:
    files = {p.stem for p in task_checks.CHECKS.glob("*.py")}
    assert files == {t["id"] for t in TASKS}


@pytest.mark.parametrize("task", TASKS, ids=[t["id"] for t in TASKS])
def test_checks_pass_the_reference_and_refuse_the_original(sandbox: Sandbox, task: dict) -> None:
    assert task_checks.prove(sandbox, task) == []


def test_the_checks_as_check_command_refuse_a_wrong_edit_and_name_the_check(tmp_path: Path) -> None:
    task = next(t for t in TASKS if t["id"] == "textwrap.indent")
    root = trust.task_repo(tmp_path, task)
    config = Config(endpoint="http://127.0.0.1:9/v1", model="none", edit_format="whole",
                    check_command=trust.tests_command(task))
    session = EditSession(config, Workspace(root), ChatClient(config.endpoint, "none"))
    request = session.make_request(task["instruction"], task["path"])
    # the asked exception under a test of prefix, but too narrow a test: it passes the check stage
    # (the wrong exception would not: the instruction spells out TypeError)
    wrong = task["file_text"].replace("    if predicate is None:", "    if isinstance(prefix, bytes):\n"
                                      "        raise TypeError(prefix)\n    if predicate is None:")
    proposal = session.proposal_from_answer(request, f"```python\n{wrong}```")
    assert not proposal.passes
    (finding,) = [f for f in proposal.findings if f.kind == "check-command"]
    assert "expected TypeError, nothing was raised" in finding.message
    assert 'raises(TypeError, indent, "", None)' in finding.message
    assert (root / task["path"]).read_text() == task["file_text"]  # the person's file untouched

    right = task_checks.TaskCheck.load(task["id"]).reference
    proposal = session.proposal_from_answer(request, f"```python\n{right}```")
    assert proposal.passes, proposal.findings

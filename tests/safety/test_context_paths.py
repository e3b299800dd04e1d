"""Nothing Amigo may not write is read into a prompt (issue 16, defect 8).

``amigo context ../outside/file``, an absolute path elsewhere, a symlink that
leaves the repository and ``.git/config`` used to print the file into the
prompt, which ``edit`` sends to the model server (possibly a remote API).
These try each from the real CLI, through the engine every front end uses,
through the real language server, and through the repository index (a
symlink out of the repository must not reach the repo map either). Each
checks the message and that the secret never appears.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from amigo.config import load_config
from amigo.context import build_context
from amigo.context.index import forget_indexes
from amigo.engine import EditSession
from amigo.errors import RefusedError
from amigo.paths import check_relative
from amigo.prompt import EditRequest, build_messages
from amigo.workspace import Workspace
from amigo_lsp.stdio_client import StdioClient
from helpers import RecordedModelServer, git

ROOT = Path(__file__).resolve().parents[2]
SECRET = "def leaked_secret_token():\n    return 'hunter2-do-not-send'\n"
NEEDLES = ("leaked_secret_token", "hunter2-do-not-send")


@pytest.fixture(autouse=True)
def fresh_indexes() -> Iterator[None]:
    forget_indexes()
    yield
    forget_indexes()


@pytest.fixture
def attack(repo: Path, tmp_path: Path) -> Path:
    """The repository with a secret beside it, links out of it and into .git/."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file.py").write_text(SECRET)
    (repo / "link.py").symlink_to(outside / "file.py")
    (repo / "linkdir").symlink_to(outside)
    (repo / "gitlink").symlink_to(repo / ".git")
    (repo / ".git" / "config").write_text((repo / ".git" / "config").read_text() + "# " + SECRET.replace("\n", " "))
    return repo


CASES = [
    ("../outside/file.py", "outside the repository"),
    ("{outside}/file.py", "outside the repository"),
    ("link.py", "a symlink leads outside the repository"),
    ("linkdir/file.py", "a symlink leads outside the repository"),
    (".git/config", "inside .git/"),
    ("gitlink/config", "a symlink leads into .git/"),
]


REASONS = ("outside the repository", "a symlink leads", "inside .git/", "inside git's own folder")


def _amigo_context(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "amigo", "context", *args], cwd=cwd, text=True,
                          capture_output=True, env=env, timeout=120)


@pytest.mark.parametrize("target,needle", CASES)
def test_the_cli_refuses_and_names_the_path_and_why(attack: Path, target: str, needle: str) -> None:
    target = target.format(outside=attack.parent / "outside")
    for extra in ([], ["--repo", str(attack)]):
        result = _amigo_context(attack, target, "--instruction", "leaked_secret_token", *extra)
        assert result.returncode == 1, result.stdout
        assert needle in result.stderr and target in result.stderr
        assert "Traceback" not in result.stderr
        assert not any(n in result.stdout for n in NEEDLES[1:])
        assert "===== user =====" not in result.stdout


def test_the_cli_still_shows_a_file_of_the_repository(attack: Path) -> None:
    result = _amigo_context(attack, "users.py", "--lines", "12-14", "--instruction", "x")
    assert result.returncode == 0, result.stderr
    assert "def load_users(rows):" in result.stdout
    assert not any(n in result.stdout for n in NEEDLES)


@pytest.mark.parametrize("target,needle", CASES)
def test_the_engine_refuses_before_anything_is_sent(attack: Path, target: str, needle: str) -> None:
    """``make_request`` is where the CLI, the TUI and the language server build a prompt."""
    target = target.format(outside=attack.parent / "outside")
    with RecordedModelServer("") as server:
        config = load_config(attack, environ={"AMIGO_ENDPOINT": server.base_url})
        session = EditSession(config, Workspace(attack))
        try:
            for buffer in (None, "text an editor holds\n"):
                with pytest.raises(RefusedError, match=needle):
                    session.make_request("document this", target, file_text=buffer)
        finally:
            session.close()
        assert server.requests == []


def test_a_symlink_out_of_the_repository_never_reaches_the_repo_map(attack: Path) -> None:
    """The index lists link.py (git sees an untracked file): its definitions must not be shown."""
    (attack / "main.py").write_text("from link import leaked_secret_token\n\nprint(leaked_secret_token())\n")
    git(attack, "add", "link.py", "main.py")
    git(attack, "commit", "-q", "-m", "a link out")
    text = (attack / "main.py").read_text()
    result = build_context(attack, "main.py", text, (3, 3), "call leaked_secret_token", 4000)
    shown = "\n".join(s.text for s in result.sections)
    assert "hunter2" not in shown and "def leaked_secret_token" not in shown
    assert any("symlink out of the repository" in note and "link.py" in note for note in result.notes)
    config = load_config(attack, environ={"AMIGO_CONTEXT_BUDGET": "4000"})
    session = EditSession(config, Workspace(attack))
    try:
        request = session.make_request("call it", "main.py", selection=(3, 3))
    finally:
        session.close()
    prompt = "\n".join(m["content"] for m in build_messages(request))
    assert "hunter2" not in prompt and "def leaked_secret_token" not in prompt


def test_a_link_retargeted_outside_is_dropped_from_a_warm_index(attack: Path, tmp_path: Path) -> None:
    inside = attack / "helpers.py"
    inside.write_text("def helper_inside():\n    return 1\n")
    (attack / "moving.py").symlink_to(inside)
    (attack / "main.py").write_text("from moving import helper_inside, leaked_secret_token\n")
    text = (attack / "main.py").read_text()
    first = build_context(attack, "main.py", text, None, "helper_inside", 4000)
    assert "moving.py" in "\n".join(s.text for s in first.sections)
    (attack / "moving.py").unlink()
    (attack / "moving.py").symlink_to(tmp_path / "outside" / "file.py")
    second = build_context(attack, "main.py", text, None, "leaked_secret_token", 4000)
    assert "hunter2" not in "\n".join(s.text for s in second.sections)
    assert "def leaked_secret_token" not in "\n".join(s.text for s in second.sections)


def test_the_builder_refuses_a_path_it_may_not_read(attack: Path) -> None:
    for target, needle in CASES:
        target = target.format(outside=attack.parent / "outside")
        with pytest.raises(RefusedError, match=needle):
            build_context(attack, target, SECRET, None, "x", 500)


@pytest.mark.parametrize("name", ["/etc/hostname", "../x.py", "a/../../x.py", ".git/config", "sub/.git/HEAD", ""])
def test_the_prompt_names_only_repository_relative_files(name: str) -> None:
    with pytest.raises(RefusedError):
        build_messages(EditRequest("x", name, "text\n"))
    assert check_relative("pkg/.gitignore") == "pkg/.gitignore"


def test_the_language_server_refuses_a_link_out_and_sends_nothing(attack: Path) -> None:
    """amigo.edit on link.py in a real ``amigo lsp``: an error for the person, no request to the model."""
    with RecordedModelServer("") as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "AMIGO_FEEDBACK__ENABLED": "false"}
        client = StdioClient([sys.executable, "-m", "amigo", "lsp"], env=env, cwd=str(attack))
        try:
            client.initialize(attack.as_uri(), options={"endpoint": server.base_url, "model": "recorded",
                                                        "editFormat": "blocks", "decoding": "free"})
            for target, _ in CASES[2:]:
                uri = (attack / target).as_uri()
                result = client.request("workspace/executeCommand", {
                    "command": "amigo.edit", "arguments": [{"uri": uri, "instruction": "document this"}]}, timeout=60)
                # The server finds the repository from the folder the editor names, so a folder
                # link out of it may be reported as outside rather than as a link: refused either way.
                assert result["ok"] is False and target in result["error"], (target, result)
                assert any(why in result["error"] for why in REASONS), (target, result)
            assert client.close() == 0
        finally:
            if client.alive():
                client.proc.kill()
        assert server.requests == []
        shown = [m["params"]["message"] for _, m in client.notifications if m["method"] == "window/showMessage"]
        assert any("symlink leads outside" in text for text in shown)


@pytest.mark.parametrize("target,needle", CASES)
def test_the_tui_says_why_and_keeps_running(attack: Path, target: str, needle: str) -> None:
    """``amigo tui FILE`` with a file it may not read: a notification, no crash, the secret not on screen."""
    import asyncio
    import dataclasses

    from amigo_tui.app import AmigoApp

    target = target.format(outside=attack.parent / "outside")
    config = dataclasses.replace(load_config(attack), endpoint="http://127.0.0.1:9/v1", retries=0, context_budget=0)
    session = EditSession.open(attack, config=config)

    async def scenario() -> None:
        app = AmigoApp(session, path=target)
        async with app.run_test() as pilot:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while not any(needle in n.message for n in app._notifications) and loop.time() < deadline:
                await pilot.pause(0.05)
            messages = [n.message for n in app._notifications]
            assert any(needle in m and target in m for m in messages), messages
            await pilot.pause(0.3)  # the file listing arrives too: it must not end the app
            assert app.is_running
            assert not any(n in app.export_screenshot() for n in NEEDLES[1:])

    try:
        asyncio.run(scenario())
    finally:
        session.close()

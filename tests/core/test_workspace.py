import os
import stat
from pathlib import Path

import pytest

from amigo.errors import InputError, RefusedError
from amigo.events import FileChange
from amigo.workspace import Workspace, sha256_bytes

from helpers import git


def change(ws: Workspace, rel: str, new_text: str) -> FileChange:
    snap = ws.read(rel)
    return FileChange(rel, snap.text, new_text, snap.sha256)


def test_read_refuses_bad_files(repo):
    ws = Workspace(repo, max_file_bytes=1000)
    (repo / "blob.py").write_bytes(b"abc\0def")
    (repo / "latin.py").write_bytes("caf\xe9\n".encode("latin-1"))
    (repo / "big.py").write_text("x = 1\n" * 400)
    for name, needle in [("blob.py", "binary"), ("latin.py", "not UTF-8"), ("big.py", "over the 1,000-byte limit"),
                         ("missing.py", "no such file")]:
        with pytest.raises(InputError, match=needle):
            ws.read(name)


def test_paths_outside_repo_git_dir_and_symlinks_refused(repo, tmp_path):
    ws = Workspace(repo)
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (repo / "link.txt").symlink_to(outside)
    (repo / "gitlink").symlink_to(repo / ".git")
    for path, needle in [("../secret.txt", "outside"), (str(outside), "outside"), (".git/config", ".git"),
                         ("link.txt", "symlink"), ("gitlink/config", ".git"), ("sub/../../x", "outside")]:
        with pytest.raises(RefusedError, match=needle):
            ws.relpath(path)
    assert ws.relpath(repo / "users.py") == "users.py"
    assert ws.relpath("./a/../users.py") == "users.py"


def test_apply_keeps_mode_crlf_bom_and_is_refused_when_stale(repo):
    ws = Workspace(repo)
    script = repo / "run.sh"
    script.write_bytes(b"\xef\xbb\xbfecho hi\r\necho there\r\n")
    script.chmod(0o755)
    ch = change(ws, "run.sh", ws.read("run.sh").text.replace("there", "world"))
    ws.apply([ch])
    assert script.read_bytes() == b"\xef\xbb\xbfecho hi\r\necho world\r\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    # the same (now stale) change again is refused and the file is kept
    before = script.read_bytes()
    with pytest.raises(RefusedError, match="changed on disk"):
        ws.apply([ch])
    assert script.read_bytes() == before


def test_multi_file_apply_is_all_or_nothing_when_one_is_stale(repo):
    ws = Workspace(repo)
    a = change(ws, "users.py", "print(1)\n")
    b = change(ws, "README.md", "# changed\n")
    (repo / "README.md").write_text("# the person typed this\n")
    with pytest.raises(RefusedError):
        ws.apply([a, b])
    assert (repo / "README.md").read_text() == "# the person typed this\n"
    assert "dataclass" in (repo / "users.py").read_text()
    assert not list(repo.glob(".*.amigo-tmp"))


def test_create_file_and_undo_removes_it(repo):
    ws = Workspace(repo)
    ws.apply([FileChange("pkg/new.py", "", "x = 1\n", None)])
    assert (repo / "pkg" / "new.py").read_text() == "x = 1\n"
    assert ws.undo() == ("pkg/new.py",)
    assert not (repo / "pkg" / "new.py").exists()


def test_undo_restores_exact_bytes_and_refuses_after_later_edits(repo):
    ws = Workspace(repo)
    original = (repo / "users.py").read_bytes()
    ws.apply([change(ws, "users.py", "changed\n")])
    assert ws.undo() == ("users.py",)
    assert (repo / "users.py").read_bytes() == original
    with pytest.raises(RefusedError, match="nothing to undo"):
        ws.undo()
    ws.apply([change(ws, "users.py", "changed\n")])
    (repo / "users.py").write_text("changed\nand typed on\n")
    with pytest.raises(RefusedError, match="changed after"):
        ws.undo()
    assert (repo / "users.py").read_text() == "changed\nand typed on\n"


def test_commit_names_exactly_the_edited_files(repo):
    ws = Workspace(repo)
    (repo / "notes.txt").write_text("untracked, must stay untracked\n")
    (repo / "README.md").write_text("# dirty but unstaged\n")
    result = ws.apply([change(ws, "users.py", "x = 2\n")], commit_message="Set x")
    assert result.commit == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "show", "--name-only", "--format=%s", "HEAD").split() == ["Set", "x", "users.py"]
    status = git(repo, "status", "--porcelain")
    assert " M README.md" in status and "?? notes.txt" in status
    # undo of a committed change makes a new commit; history is not rewritten
    ws.undo()
    assert git(repo, "log", "--format=%s", "-3").splitlines()[1] == "Set x"
    assert "dataclass" in (repo / "users.py").read_text()


def test_commit_refused_with_staged_changes_or_merge_in_progress(repo):
    ws = Workspace(repo)
    (repo / "README.md").write_text("# staged\n")
    git(repo, "add", "README.md")
    ch = change(ws, "users.py", "x = 3\n")
    with pytest.raises(RefusedError, match="staged changes"):
        ws.apply([ch], commit_message="m")
    assert "dataclass" in (repo / "users.py").read_text()
    git(repo, "reset", "-q")
    (repo / ".git" / "MERGE_HEAD").write_text(git(repo, "rev-parse", "HEAD"))
    with pytest.raises(RefusedError, match="merge is in progress"):
        ws.apply([ch], commit_message="m")
    assert "dataclass" in (repo / "users.py").read_text()


def test_repository_without_commits_and_plain_folder(tmp_path):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q")
    (fresh / "a.py").write_text("a = 1\n")
    ws = Workspace(fresh)
    assert ws.head() is None and ws.uncommitted_diff() == ""
    result = ws.apply([change(ws, "a.py", "a = 2\n")], commit_message="First")
    assert result.commit and git(fresh, "log", "--format=%s").strip() == "First"

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "b.py").write_text("b = 1\n")
    ws = Workspace.discover(plain / "b.py")
    assert ws.root == plain.resolve() and not ws.is_git
    with pytest.raises(RefusedError, match="not a git repository"):
        ws.apply([change(ws, "b.py", "b = 2\n")], commit_message="m")
    assert (plain / "b.py").read_text() == "b = 1\n"
    ws.apply([change(ws, "b.py", "b = 2\n")])
    ws.undo()
    assert (plain / "b.py").read_text() == "b = 1\n"

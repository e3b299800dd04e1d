"""Links inside the repository: a symlink is edited through (it stays a link), a hard link is refused."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import amigo, git, snapshot


def _answer(tmp: Path, *blocks: tuple[str, str, str]) -> Path:
    answer = tmp / f"answer-{len(list(tmp.glob('answer-*')))}.txt"
    answer.write_text("\n".join(f"{p}\n<<<<<<< SEARCH\n{s}=======\n{r}>>>>>>> REPLACE\n" for p, s, r in blocks))
    return answer


def _linked_repo(repo: Path) -> None:
    (repo / "a.txt").write_text("hello\nworld\n")
    (repo / "inlink.txt").symlink_to("a.txt")
    (repo / "src").mkdir()
    (repo / "src" / "mod.py").write_text("x = 1\n")
    (repo / "srclink").symlink_to("src")
    git(repo, "add", "a.txt", "inlink.txt", "src/mod.py", "srclink")
    git(repo, "commit", "-q", "-m", "links")


def test_symlink_inside_the_repository_is_edited_through(repo: Path, tmp_path: Path) -> None:
    _linked_repo(repo)
    before = snapshot(repo)
    result = amigo(repo, "apply", str(_answer(tmp_path, ("inlink.txt", "hello\n", "HELLO\n"))), "--yes")
    assert result.returncode == 0, result.stderr
    assert "applied to a.txt" in result.stderr  # the file that really changed is named
    assert os.readlink(repo / "inlink.txt") == "a.txt"  # still a link, to the same target
    assert (repo / "a.txt").read_bytes() == b"HELLO\nworld\n"
    assert git(repo, "status", "--porcelain") == " M a.txt\n"  # no type change of the link
    after = snapshot(repo)
    assert {k for k in after if after[k] != before.get(k)} == {"a.txt"}
    assert amigo(repo, "undo").returncode == 0
    assert snapshot(repo) == before and git(repo, "status", "--porcelain") == ""


def test_symlinked_folder_inside_the_repository_is_edited_through(repo: Path, tmp_path: Path) -> None:
    _linked_repo(repo)
    result = amigo(repo, "apply", str(_answer(tmp_path, ("srclink/mod.py", "x = 1\n", "x = 2\n"))), "--yes",
                   "--commit")
    assert result.returncode == 0, result.stderr
    assert os.readlink(repo / "srclink") == "src" and (repo / "src" / "mod.py").read_text() == "x = 2\n"
    assert git(repo, "show", "--name-status", "--format=", "HEAD") == "M\tsrc/mod.py\n"
    assert git(repo, "status", "--porcelain") == ""


def test_one_file_under_two_names_in_one_answer_is_refused(repo: Path, tmp_path: Path) -> None:
    _linked_repo(repo)
    before = snapshot(repo)
    answer = _answer(tmp_path, ("inlink.txt", "hello\n", "HELLO\n"), ("a.txt", "world\n", "WORLD\n"))
    result = amigo(repo, "apply", str(answer), "--yes")
    assert result.returncode == 1 and "are the same file" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(repo) == before


def test_hard_linked_file_is_refused_not_split(repo: Path, tmp_path: Path) -> None:
    (repo / "h1.txt").write_text("shared\n")
    os.link(repo / "h1.txt", repo / "h2.txt")
    before = snapshot(repo)
    result = amigo(repo, "apply", str(_answer(tmp_path, ("h1.txt", "shared\n", "changed\n"))), "--yes")
    assert result.returncode == 1 and result.stdout == ""
    assert "has 2 hard links" in result.stderr and "split" in result.stderr
    assert snapshot(repo) == before
    assert os.stat(repo / "h1.txt").st_ino == os.stat(repo / "h2.txt").st_ino


def test_symlink_leaving_the_repository_is_still_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n")
    (repo / "out.txt").symlink_to(outside)
    result = amigo(repo, "apply", str(_answer(tmp_path, ("out.txt", "secret\n", "pwned\n"))), "--yes")
    assert result.returncode == 1 and "symlink leads outside the repository" in result.stderr
    assert outside.read_text() == "secret\n" and os.readlink(repo / "out.txt") == str(outside)

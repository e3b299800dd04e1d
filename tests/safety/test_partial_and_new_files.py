"""``--partial`` applies the blocks that match; new files and folders are created whole and undone whole."""

from __future__ import annotations

from pathlib import Path

from helpers import amigo, git, snapshot

NEW_MOD = "pkg/new_mod.py\n<<<<<<< SEARCH\n=======\ndef hello():\n    return 'hi'\n>>>>>>> REPLACE\n"
# Adds a docstring (an edit the check stage passes: a rename would remove `oldest`, which --yes refuses).
EDIT_USERS = ('users.py\n<<<<<<< SEARCH\ndef oldest(users):\n=======\ndef oldest(users):\n'
              '    """The oldest user."""\n>>>>>>> REPLACE\n')
UNMATCHED = "users.py\n<<<<<<< SEARCH\ndef youngest(users):\n=======\ndef baby(users):\n>>>>>>> REPLACE\n"


def _answer(tmp: Path, *blocks: str) -> Path:
    answer = tmp / f"answer-{len(list(tmp.glob('answer-*')))}.txt"
    answer.write_text("\n".join(blocks))
    return answer


def test_partial_applies_the_blocks_that_match(repo: Path, tmp_path: Path) -> None:
    answer = _answer(tmp_path, EDIT_USERS, UNMATCHED)
    before = snapshot(repo)
    whole = amigo(repo, "apply", str(answer), "--yes")
    assert whole.returncode == 1 and "Block 2 (users.py)" in whole.stderr and snapshot(repo) == before
    partial = amigo(repo, "apply", str(answer), "--yes", "--partial")
    assert partial.returncode == 0, partial.stderr
    assert "Block 2 (users.py)" in partial.stderr and "--partial" in partial.stderr
    assert '+    """The oldest user."""' in partial.stdout and "baby" not in partial.stdout
    expected = before["users.py"].replace(b"def oldest(users):", b'def oldest(users):\n    """The oldest user."""')
    assert snapshot(repo) == {**before, "users.py": expected}
    assert amigo(repo, "undo").returncode == 0 and snapshot(repo) == before


def test_new_file_in_a_new_folder_is_created_and_undo_removes_both(repo: Path, tmp_path: Path) -> None:
    before = snapshot(repo)
    result = amigo(repo, "apply", str(_answer(tmp_path, NEW_MOD, EDIT_USERS)), "--yes", "--commit")
    assert result.returncode == 0, result.stderr
    assert "+++ b/pkg/new_mod.py" in result.stdout and "applied to pkg/new_mod.py, users.py" in result.stderr
    assert (repo / "pkg" / "new_mod.py").read_text() == "def hello():\n    return 'hi'\n"
    assert (repo / "pkg" / "new_mod.py").stat().st_mode & 0o777 == (repo / "users.py").stat().st_mode & 0o777
    assert git(repo, "status", "--porcelain") == ""
    undo = amigo(repo, "undo")
    assert undo.returncode == 0, undo.stderr
    assert not (repo / "pkg").exists() and snapshot(repo) == before
    assert git(repo, "status", "--porcelain") == "" and git(repo, "log", "-1", "--format=%s").startswith("Undo")


def test_new_file_named_first_needs_no_path_option(repo: Path, tmp_path: Path) -> None:
    result = amigo(repo, "apply", str(_answer(tmp_path, NEW_MOD)), "--yes")
    assert result.returncode == 0, result.stderr
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == "?? pkg/new_mod.py\n"
    assert amigo(repo, "undo").returncode == 0 and not (repo / "pkg").exists()


def test_new_file_is_all_or_nothing_with_the_other_blocks(repo: Path, tmp_path: Path) -> None:
    before = snapshot(repo)
    result = amigo(repo, "apply", str(_answer(tmp_path, NEW_MOD, UNMATCHED)), "--yes")
    assert result.returncode == 1 and "nothing was applied" in result.stderr
    assert not (repo / "pkg").exists() and snapshot(repo) == before


def test_undo_keeps_a_created_folder_the_person_has_used_since(repo: Path, tmp_path: Path) -> None:
    assert amigo(repo, "apply", str(_answer(tmp_path, NEW_MOD)), "--yes").returncode == 0
    (repo / "pkg" / "mine.py").write_text("mine = True\n")
    assert amigo(repo, "undo").returncode == 0
    assert not (repo / "pkg" / "new_mod.py").exists() and (repo / "pkg" / "mine.py").read_text() == "mine = True\n"


def test_a_file_created_meanwhile_makes_the_proposal_stale(repo: Path, tmp_path: Path) -> None:
    """The new file's 'base' is its absence: someone creating it first wins, nothing is overwritten."""
    from amigo.engine import EditSession
    from amigo.errors import StaleError
    from amigo.prompt import EditRequest

    session = EditSession.open(repo)
    proposal = session.proposal_from_answer(EditRequest("(replayed)", "pkg/new_mod.py", "", edit_format="blocks"),
                                            NEW_MOD)
    (repo / "pkg").mkdir()
    (repo / "pkg" / "new_mod.py").write_text("typed by hand\n")
    try:
        session.accept(proposal)
        raise AssertionError("a file created meanwhile was overwritten")
    except StaleError as exc:
        assert "was created meanwhile" in str(exc)
    finally:
        session.close()
    assert (repo / "pkg" / "new_mod.py").read_text() == "typed by hand\n"

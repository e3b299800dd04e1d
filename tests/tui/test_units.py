"""The TUI's pure parts: file listing, fuzzy matching, paging, hunk views, history, fix parsing."""

from __future__ import annotations

from pathlib import Path

from helpers import git
from hypothesis import given, settings
from hypothesis import strategies as st

from amigo import edits
from amigo.events import FileChange
from amigo.repofiles import list_repo_files
from amigo_tui.diffmodel import diff_lines, hunk_views, side_by_side
from amigo_tui.fileload import load_page
from amigo_tui.fix import diagnostics_from_output, run_test_command
from amigo_tui.fuzzy import fuzzy_filter, fuzzy_score
from amigo_tui.history import InstructionHistory
from amigo_tui.repo_files import build_tree


def test_listing_has_tracked_and_untracked_but_not_ignored_files(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.log\nbuild/\n")
    (repo / "new.py").write_text("x = 1\n")
    (repo / "debug.log").write_text("noise\n")
    (repo / "build").mkdir()
    (repo / "build" / "out.py").write_text("")
    assert list_repo_files(repo) == [".gitignore", "README.md", "new.py", "users.py"]


def test_listing_walks_a_plain_folder(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "dep.js").write_text("")
    assert list_repo_files(tmp_path) == ["src/a.py"]


def test_build_tree_nests_folders() -> None:
    assert build_tree(["a/b/c.py", "a/d.py", "e.md"]) == {"a": {"b": {"c.py": None}, "d.py": None}, "e.md": None}


def test_fuzzy_prefers_file_names_and_consecutive_letters() -> None:
    paths = ["src/amigo/engine.py", "docs/engineering.md", "tests/test_engine.py", "src/eng/x.py"]
    ranked = [p for p, _ in fuzzy_filter("engine.py", paths)]
    assert ranked[0] == "src/amigo/engine.py"
    assert fuzzy_score("zzz", "src/engine.py") is None
    score, positions = fuzzy_score("eng", "src/engine.py")
    assert positions == (4, 5, 6)
    assert [p for p, _ in fuzzy_filter("", paths, limit=2)] == ["src/eng/x.py", "docs/engineering.md"]


def test_huge_file_pages_cover_every_byte_once(tmp_path: Path) -> None:
    text = "".join(f"row {i} " + "x" * (i % 37) + "\n" for i in range(3000))
    (tmp_path / "big.txt").write_text(text)
    first = load_page(tmp_path, "big.txt", max_bytes=1000, page_bytes=4096)
    assert first.kind == "huge" and not first.editable and first.pages > 10
    pages = [load_page(tmp_path, "big.txt", max_bytes=1000, page=i, page_bytes=4096) for i in range(first.pages)]
    assert "".join(p.text for p in pages) == text
    for page in pages:  # each page starts at a line start, and its first line number is right
        if page.text:
            number = int(page.text.split(" ", 1)[1].split(" ", 1)[0])
            assert page.first_line == number + 1


def test_load_page_kinds(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"\x00\x01\x02")
    (tmp_path / "b.txt").write_bytes(b"\xff\xfe bad")
    (tmp_path / "c.py").write_text("ok\n")
    assert load_page(tmp_path, "a.bin", 100).kind == "binary"
    b = load_page(tmp_path, "b.txt", 100)
    assert b.kind == "not-utf8" and "not UTF-8" in b.notice and not b.editable
    assert load_page(tmp_path, "c.py", 100).editable
    assert load_page(tmp_path, "gone.py", 100).kind == "missing"


OLD = "".join(f"line {i}\n" for i in range(40))
NEW = OLD.replace("line 3\n", "line three\n").replace("line 30\n", "line 30\nline 30.5\n")


def test_hunk_views_follow_the_engines_numbering() -> None:
    change = FileChange("f.txt", OLD, NEW, None)
    views = hunk_views([change], lambda o, n: len(edits.hunks(o, n)), edits.apply_hunks)
    assert [(v.index, v.added, v.removed) for v in views] == [(0, 1, 1), (1, 1, 0)]
    assert views[1].header == "@@ -29,6 +29,7 @@"  # "line 30" is line 31; 3 lines of context each side
    assert [line.tag for line in views[0].lines if line.tag != " "] == ["-", "+"]


def test_side_by_side_pairs_removed_with_added() -> None:
    _, lines = diff_lines("a\nb\nc\n", "a\nB\nc\nd\n")
    rows = side_by_side(lines)
    assert [(l.text if l else None, r.text if r else None) for l, r in rows] == [
        ("a", "a"), ("b", "B"), ("c", "c"), (None, "d")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d", ""]), max_size=25),
       st.lists(st.sampled_from(["a", "b", "c", "e", ""]), max_size=25))
def test_every_hunk_view_shows_exactly_its_own_change(old_lines: list[str], new_lines: list[str]) -> None:
    old, new = "\n".join(old_lines) + "\n", "\n".join(new_lines) + "\n"
    views = hunk_views([FileChange("f", old, new, None)], lambda o, n: len(edits.hunks(o, n)), edits.apply_hunks)
    assert len(views) == len(edits.hunks(old, new))
    for view, hunk in zip(views, edits.hunks(old, new)):
        added = [line.text for line in view.lines if line.tag == "+"]
        removed = [line.text for line in view.lines if line.tag == "-"]
        # difflib may align a hunk differently from the engine, but never changes its size
        assert len(added) - len(removed) == len(hunk.new_lines) - len(hunk.old_lines)


def test_history_walks_and_persists(tmp_path: Path) -> None:
    history = InstructionHistory(tmp_path / "h.json")
    for text in ["one", "two", "one"]:
        history.add(text)
    assert history.entries == ["two", "one"]
    assert history.previous() == "one" and history.previous() == "two" and history.next() == "one"
    assert history.next() == ""
    assert InstructionHistory(tmp_path / "h.json").entries == ["two", "one"]
    (tmp_path / "broken.json").write_text("{not json")
    assert InstructionHistory(tmp_path / "broken.json").entries == []


def test_fix_finds_the_line_in_tracebacks_and_compiler_output() -> None:
    tb = 'Traceback:\n  File "/x/users.py", line 18, in oldest\nValueError'
    assert diagnostics_from_output(tb, "users.py", None)[0].start_line == 18
    assert diagnostics_from_output("users.py:7: AssertionError", "users.py", None)[0].start_line == 7
    assert diagnostics_from_output("something broke", "users.py", (4, 9))[0].start_line == 4


def test_run_test_command_reports_status_and_output(repo: Path) -> None:
    out = run_test_command("git status --short", repo)
    assert "passed" in out
    assert "not found" in run_test_command("no-such-command-amigo", repo)
    assert "failed (exit" in run_test_command("git no-such-subcommand", repo)
    assert git(repo, "status", "--porcelain") == ""

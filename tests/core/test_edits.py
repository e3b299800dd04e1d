"""amigo.edits: parsing, every matching tier, every refusal, newlines, whole format, diffs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amigo import edits
from amigo.edits import EditBlock, EditError
from amigo.errors import AmigoError

ANSWERS = Path(__file__).parent / "data" / "answers"

CODE = """class A:
    def f(self, x):
        y = x + 1

        return y

    def g(self):
        return 2
"""


def block(search: str, replace: str, path: str | None = None, index: int = 0) -> EditBlock:
    return EditBlock(path, search, replace, index)


def apply(text: str, search: str, replace: str) -> tuple[str, str]:
    return edits.apply_block(text, block(search, replace))


def answer(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    "path_line",
    ["src/app.py", "# src/app.py", "**src/app.py**", "`src/app.py`", "`src/app.py`:", "File: src/app.py",
     "./src/app.py", "src\\app.py", "// src/app.py"],
)
def test_parse_path_styles(path_line: str) -> None:
    parsed = edits.parse_blocks(f"Some reasoning.\n\n{path_line}\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n")
    assert [b.path for b in parsed.blocks] == ["src/app.py"]
    assert parsed.prose == "Some reasoning."
    assert parsed.errors == ()


@pytest.mark.parametrize(
    "path_line,path",
    [(".pre-commit-config.yaml", ".pre-commit-config.yaml"), ("`.readthedocs.yaml`", ".readthedocs.yaml"),
     ("# .github/workflows/ci.yml", ".github/workflows/ci.yml"), (".gitignore", ".gitignore"),
     ("docs/.nojekyll", "docs/.nojekyll")],
)
def test_parse_dotfile_paths(path_line: str, path: str) -> None:
    parsed = edits.parse_blocks(f"{path_line}\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n")
    assert [b.path for b in parsed.blocks] == [path] and parsed.prose == ""


@pytest.mark.parametrize("line", ["...", "..", "."])
def test_parse_dots_alone_are_not_a_path(line: str) -> None:
    parsed = edits.parse_blocks(f"{line}\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n")
    assert parsed.blocks[0].path is None and parsed.prose == line


def test_apply_answer_to_a_dotfile() -> None:
    # .pre-commit-config.yaml as pre-commit's own template has it; the block bumps a hook's rev
    old = ("repos:\n-   repo: https://github.com/pre-commit/pre-commit-hooks\n    rev: v4.5.0\n"
           "    hooks:\n    -   id: trailing-whitespace\n")
    text = answer(".pre-commit-config.yaml", "    rev: v4.5.0\n", "    rev: v4.6.0\n")
    result = edits.apply_answer(text, {".pre-commit-config.yaml": old}, "setup.py")
    assert result.errors == ()
    assert result.new_texts == {".pre-commit-config.yaml": old.replace("v4.5.0", "v4.6.0")}


def test_parse_path_inside_and_outside_fence_and_prose() -> None:
    text = (
        "First I fix a.\n```python\na.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n"
        "Then b.\nb/c.py\n```\n<<<<<<< SEARCH\np\n=======\nq\n>>>>>>> REPLACE\n```\nDone.\n"
    )
    parsed = edits.parse_blocks(text)
    assert [(b.path, b.search, b.replace, b.index) for b in parsed.blocks] == [
        ("a.py", "x\n", "y\n", 0), ("b/c.py", "p\n", "q\n", 1)
    ]
    assert parsed.prose == "First I fix a.\nThen b.\nDone."


def test_parse_block_without_path_and_prose_line_before() -> None:
    parsed = edits.parse_blocks("Here is the change:\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE")
    assert parsed.blocks[0].path is None
    assert parsed.prose == "Here is the change:"


def test_parse_keeps_empty_search_distinct_from_blank_line() -> None:
    empty = edits.parse_blocks("<<<<<<< SEARCH\n=======\nnew\n>>>>>>> REPLACE\n").blocks[0]
    blank = edits.parse_blocks("<<<<<<< SEARCH\n\n=======\nnew\n>>>>>>> REPLACE\n").blocks[0]
    assert (empty.search, blank.search) == ("", "\n")


def test_parse_sloppy_marker_lengths() -> None:
    parsed = edits.parse_blocks("<<<<<<< SEARCH\na\n======\nb\n>>>>>> REPLACE\n")
    assert [(b.search, b.replace) for b in parsed.blocks] == [("a\n", "b\n")]


def test_parse_longer_markers_allow_divider_lines_in_content() -> None:
    text = "<<<<<<<< SEARCH\nTitle\n=======\n========\nTitle\n-------\n>>>>>>>> REPLACE\n"
    parsed = edits.parse_blocks(text)
    assert [(b.search, b.replace) for b in parsed.blocks] == [("Title\n=======\n", "Title\n-------\n")]


@pytest.mark.parametrize(
    "text,reason",
    [
        ("<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n", "no '=======' line"),
        ("<<<<<<< SEARCH\na\n=======\nb\n", "cut off"),
        ("<<<<<<< SEARCH\na\n", "cut off"),
        ("<<<<<<< SEARCH\na\n=======\nb\n<<<<<<< SEARCH\nc\n=======\nd\n>>>>>>> REPLACE\n", "before the next block"),
    ],
)
def test_parse_reports_malformed_blocks(text: str, reason: str) -> None:
    parsed = edits.parse_blocks(text)
    assert len(parsed.errors) == 1 and reason in parsed.errors[0]
    assert parsed.errors[0].startswith("Block 1")


def test_malformed_block_keeps_later_blocks_numbered() -> None:
    text = "<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n\n<<<<<<< SEARCH\nc\n=======\nd\n>>>>>>> REPLACE\n"
    parsed = edits.parse_blocks(text)
    assert [b.index for b in parsed.blocks] == [1]
    assert "Block 1" in parsed.errors[0]


# ------------------------------------------------------------------ tiers


def test_exact_tier() -> None:
    new, tier = apply(CODE, "        y = x + 1\n", "        y = x + 2\n")
    assert tier == "exact" and new == CODE.replace("x + 1", "x + 2")


def test_whitespace_tier_reindents_replacement_and_keeps_dropped_blank_line() -> None:
    search = "def f(self, x):\n    y = x + 1\n    return y\n\ndef g(self):\n"
    replace = "def f(self, x):\n    if x:\n        x -= 1\n    y = x + 1\n    return y\n\ndef g(self):\n"
    new, tier = apply(CODE, search, replace)
    assert tier == "whitespace"
    assert new == CODE.replace("        y = x + 1\n", "        if x:\n            x -= 1\n        y = x + 1\n")


def test_whitespace_tier_refuses_change_where_a_line_was_left_out() -> None:
    # the blank line between `y = ...` and `return y` is missing; where would the new lines go?
    search = "def f(self, x):\n    y = x + 1\n    return y\n"
    replace = "def f(self, x):\n    y = x + 1\n    y -= 1\n    return y\n"
    with pytest.raises(EditError, match="leaves out line 4 of the file"):
        apply(CODE, search, replace)


def test_whitespace_tier_refuses_extra_search_line_next_to_change() -> None:
    search = "    def g(self):\n\n        return 2\n"
    with pytest.raises(EditError, match="SEARCH has a line the file does not have"):
        apply(CODE, search, "    def g(self):\n\n        return 3\n")


def test_whitespace_tier_more_indented_search_and_tabs() -> None:
    text = "if a:\n\tb()\n\tc()\n"
    new, tier = apply(text, "\t\tb()\n\t\tc()\n", "\t\tb()\n\t\td()\n")
    assert (new, tier) == ("if a:\n\tb()\n\td()\n", "whitespace")


def test_whitespace_tier_trailing_spaces_and_extra_blank_lines() -> None:
    new, tier = apply(CODE, "\n    def g(self):   \n\n        return 2\n", "    def g(self):\n        return 3\n")
    assert tier == "whitespace"
    assert new.endswith("    def g(self):\n        return 3\n")


def test_whitespace_tier_refuses_inconsistent_indentation() -> None:
    with pytest.raises(EditError):
        apply(CODE, "def f(self, x):\n        y = x + 1\n", "def f(self, x):\n        y = 0\n")


def test_elision_tier() -> None:
    search = "    def f(self, x):\n    ...\n        return y\n"
    replace = "    def f(self, x, z):\n    ...\n        return y + z\n"
    new, tier = apply(CODE, search, replace)
    assert tier == "elision"
    assert new == CODE.replace("f(self, x)", "f(self, x, z)").replace("return y\n", "return y + z\n")


def test_elision_comment_style_and_mismatch_refused() -> None:
    search = "    def f(self, x):\n        # ... unchanged ...\n        return y\n"
    new, tier = apply(CODE, search, search.replace("return y", "return -y"))
    assert tier == "elision" and "return -y" in new
    with pytest.raises(EditError, match="must pair up"):
        apply(CODE, search, "    def f(self, x):\n        return -y\n")


def test_elision_ambiguous_refused() -> None:
    text = "a\nx\nb\nx\nb\n"
    with pytest.raises(EditError, match="more than one"):
        apply(text, "a\n...\nb\n", "A\n...\nb\n")
    with pytest.raises(EditError, match="edge of SEARCH"):
        apply(text, "...\nx\n", "new\n...\nx\n")


def test_elision_refused_where_the_file_has_real_ellipsis_lines() -> None:
    text = "def stub():\n    ...\n\nx = 1\ny = 2\nz = 3\n"
    with pytest.raises(EditError, match="file itself has '...' lines"):
        apply(text, "def stub():\n...\nz = 3\n", "def stub():\n...\nz = 4\n")


def test_fuzzy_tier_keeps_file_lines_for_context_typos() -> None:
    search = "    def f(self, x):\n        y = x + 1\n\n        retrun y\n\n    def g(self):\n"
    new, tier = apply(CODE, search, search.replace("x + 1", "x + 10"))
    assert tier == "fuzzy"
    assert new == CODE.replace("x + 1", "x + 10")


def test_fuzzy_needs_a_unique_window() -> None:
    part = "def h():\n    alpha = compute(1)\n    beta = alpha * 2\n    return beta\n"
    text = part + "\n" + part
    with pytest.raises(EditError, match="2 places"):
        apply(text, part.replace("* 2", "* 3"), part)


def test_fuzzy_refuses_too_different_text() -> None:
    with pytest.raises(EditError, match="not found") as info:
        apply(CODE, "    def f(self, x):\n        z = totally + different\n        return z\n", "x\n")
    assert info.value.closest is not None and "def f(self, x):" in info.value.closest
    assert "2|" in str(info.value)


def test_ambiguous_exact_match_is_refused_with_line_numbers() -> None:
    with pytest.raises(EditError) as info:
        edits.apply_block("x = 1\ny\nx = 1\n", block("x = 1\n", "x = 2\n", "m.py", index=2))
    err = info.value
    assert isinstance(err, AmigoError)
    assert (err.block_index, err.path) == (2, "m.py")
    assert "Block 3 (m.py)" in str(err) and "lines 1, 3" in str(err)


def test_unmatched_block_without_any_common_line() -> None:
    with pytest.raises(EditError, match="No line of it occurs"):
        apply(CODE, "nothing like this\n", "x\n")


def test_blank_only_search_must_be_unique() -> None:
    with pytest.raises(EditError, match="only blank lines"):
        apply("a\n\nb\n\nc\n", "\n", "x\n")


# ------------------------------------------------------------------ create, append, newlines


def test_empty_search_creates_and_appends() -> None:
    assert apply("", "", "new\n") == ("new\n", "exact")
    assert apply("a\n", "", "b\n") == ("a\nb\n", "exact")
    assert apply("a", "", "b\n") == ("a\nb", "exact")  # no final newline stays so
    assert apply("a\r\n", "", "b\n")[0] == "a\r\nb\r\n"


def test_crlf_kept_when_model_writes_lf() -> None:
    text = CODE.replace("\n", "\r\n")
    new, _ = apply(text, "        y = x + 1\n", "        y = x + 2\n        z = 0\n")
    assert new == text.replace("y = x + 1\r\n", "y = x + 2\r\n        z = 0\r\n")
    assert "\n" not in new.replace("\r\n", "")


def test_no_final_newline_kept() -> None:
    new, _ = apply("a\nb", "b\n", "c\nd\n")
    assert new == "a\nc\nd"
    assert apply("a\r\nb", "b\n", "c\n")[0] == "a\r\nc"


def test_unicode_and_tabs_round_trip() -> None:
    text = "\tnom = 'é'\n\t# 日本語\n"
    assert apply(text, "\tnom = 'é'\n", "\tnom = 'ü' ✓\n")[0] == "\tnom = 'ü' ✓\n\t# 日本語\n"


def test_deletion_to_empty() -> None:
    assert apply("a\nb\n", "a\nb\n", "") == ("", "exact")


# ------------------------------------------------------------------ whole format


def test_parse_whole_takes_largest_fence() -> None:
    text = "Use:\n```sh\nrun\n```\nCode:\n````python\ndef f():\n    ```nested```\n    return 1\n````\n"
    assert edits.parse_whole(text) == "def f():\n    ```nested```\n    return 1\n"


def test_parse_whole_without_fence_refused() -> None:
    with pytest.raises(EditError, match="no fenced code block"):
        edits.parse_whole("def f(): pass")


def test_apply_whole_file_and_selection() -> None:
    text = "a\r\nb\r\nc"
    assert edits.apply_whole(text, None, "x\ny\n") == "x\r\ny"
    assert edits.apply_whole(text, (2, 2), "B1\nB2\n") == "a\r\nB1\r\nB2\r\nc"
    assert edits.apply_whole(text, (3, 3), "C\n") == "a\r\nb\r\nC"
    assert edits.apply_whole(text, (1, 2), "") == "c"
    with pytest.raises(EditError, match="outside the file"):
        edits.apply_whole(text, (2, 9), "x\n")


def test_apply_answer_whole_matches_prompt_render_answer() -> None:
    from amigo.prompt import EditRequest, render_answer

    old = "def f():\n    return 1\n\n\ndef g():\n    return 2\n"
    new = old.replace("return 2", "return 3")
    for selection in (None, (5, 6)):
        req = EditRequest("change", "m.py", old, selection=selection, edit_format="whole")
        result = edits.apply_answer(render_answer(req, new), {"m.py": old}, "m.py", "whole", selection)
        assert result.new_texts == {"m.py": new} and result.tiers == ("whole",)


def test_whole_format_accepts_blocks_answer() -> None:
    result = edits.apply_answer(answer("m.py", "a\n", "b\n"), {"m.py": "a\n"}, "m.py", "whole")
    assert result.new_texts == {"m.py": "b\n"}


# ------------------------------------------------------------------ apply_answer


def test_apply_answer_all_or_nothing_and_partial() -> None:
    files = {"a.py": "one\ntwo\n", "b.py": "three\n"}
    text = answer("a.py", "one\n", "ONE\n") + answer("b.py", "missing\n", "x\n") + answer("b.py", "three\n", "3\n")
    result = edits.apply_answer(text, files, "a.py")
    assert result.new_texts == {} and len(result.errors) == 1 and "Block 2 (b.py)" in result.errors[0]
    partial = edits.apply_answer(text, files, "a.py", allow_partial=True)
    assert partial.new_texts == {"a.py": "ONE\ntwo\n", "b.py": "3\n"}
    assert partial.tiers == ("exact", "exact") and len(partial.errors) == 1


def test_apply_answer_default_path_suffix_and_missing_file() -> None:
    files = {"src/pkg/m.py": "x = 1\n"}
    text = "<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n" + answer("m.py", "x = 2\n", "x = 3\n")
    assert edits.apply_answer(text, files, "src/pkg/m.py").new_texts == {"src/pkg/m.py": "x = 3\n"}
    missing = edits.apply_answer(answer("new.py", "x\n", "y\n"), files, "src/pkg/m.py")
    assert missing.new_texts == {} and "no such file" in missing.errors[0]
    created = edits.apply_answer(answer("new.py", "", "y\n"), files, "src/pkg/m.py")
    assert created.new_texts == {"new.py": "y\n"}


def test_apply_answer_without_blocks() -> None:
    result = edits.apply_answer("I cannot help with that.", {"m.py": "x\n"}, "m.py")
    assert result.new_texts == {} and "no SEARCH/REPLACE blocks" in result.errors[0]
    with pytest.raises(ValueError, match="unknown edit format"):
        edits.apply_answer("x", {}, "m.py", edit_format="diff")


def test_apply_answer_reports_parse_errors_and_applies_nothing() -> None:
    text = answer("m.py", "x\n", "y\n") + "<<<<<<< SEARCH\nx\n"
    result = edits.apply_answer(text, {"m.py": "x\n"}, "m.py")
    assert result.new_texts == {} and "Block 2" in result.errors[0]


# ------------------------------------------------------------------ recorded answers


def _cases() -> list[Path]:
    return sorted(p for p in ANSWERS.iterdir() if p.is_dir())


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_recorded_answers(case: Path) -> None:
    meta = json.loads(_read(case / "meta.json"))
    before = _read(case / "before.txt")
    selection = tuple(meta["selection"]) if meta.get("selection") else None
    result = edits.apply_answer(
        _read(case / "answer.txt"), {meta["path"]: before}, meta["path"], meta["format"], selection
    )
    if (case / "error.txt").exists():
        assert result.new_texts == {}
        assert _read(case / "error.txt").strip() in "\n".join(result.errors)
        return
    assert result.errors == ()
    expected = {meta["path"]: _read(case / "after.txt")}
    for path, name in meta.get("created", {}).items():
        expected[path] = _read(case / name)
    assert result.new_texts == expected
    assert meta["tier"] in result.tiers


@pytest.mark.parametrize("case", [c for c in _cases() if "blocks" in _read(c / "meta.json")], ids=lambda p: p.name)
def test_an_answer_being_written_is_stopped_only_where_it_can_no_longer_apply(case: Path) -> None:
    """failed_search on every line-by-line prefix of a recorded answer: never on one that applies
    (whatever the prefix, its REPLACE still unwritten), and where it stops one, the answer as stopped
    fails with the error the whole answer fails with."""
    meta = json.loads(_read(case / "meta.json"))
    files = {meta["path"]: _read(case / "before.txt")}
    answer = _read(case / "answer.txt")
    whole = edits.apply_answer(answer, files, meta["path"], "blocks")
    lines = answer.splitlines(keepends=True)
    stopped = [c for c in (edits.failed_search("".join(lines[:n]) + "par", files, meta["path"])
                           for n in range(1, len(lines) + 1)) if c is not None]
    if whole.ok:
        assert stopped == []
    for closed in stopped[:1]:
        errors = edits.apply_answer(closed, files, meta["path"], "blocks").errors
        assert errors and set(errors) <= set(whole.errors)
    if case.name in ("hallucinated_search", "ambiguous_search"):
        assert stopped  # the two answers whose SEARCH cannot be placed are stopped at its end


def test_failed_search_waits_for_the_search_to_end_and_for_files_it_knows() -> None:
    files = {"a.py": CODE}
    wrong = "a.py\n<<<<<<< SEARCH\n    def h(self):\n"
    assert edits.failed_search(wrong, files, "a.py") is None  # SEARCH not finished: more lines may come
    assert edits.failed_search(wrong + "=======\n", files, "a.py") == wrong + "=======\n>>>>>>> REPLACE\n"
    assert edits.failed_search(wrong + "=======\n    def h(self):\n", files, "a.py") is None  # judged once
    assert edits.failed_search(wrong.replace("a.py", "b.py") + "=======\n", files, "a.py") is None
    right = "<<<<<<< SEARCH\n    def g(self):\n=======\n"
    assert edits.failed_search(right, files, "a.py") is None
    assert edits.failed_search(right + "    def g(self, z):\n>>>>>>> REPLACE\n", files, "a.py") is None


def test_recorded_answers_cover_the_tiers_and_refusals() -> None:
    metas = [json.loads(_read(c / "meta.json")) for c in _cases()]
    assert {m.get("tier") for m in metas} >= {"exact", "whitespace", "elision", "fuzzy", "whole"}
    assert sum((c / "error.txt").exists() for c in _cases()) >= 5


# ------------------------------------------------------------------ diffs and hunks


def _git_apply(tmp_path: Path, old: str, new: str) -> str:
    work = tmp_path / "repo"
    work.mkdir(exist_ok=True)
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    target = work / "f.txt"
    if old:
        target.write_bytes(old.encode())
    elif target.exists():
        target.unlink()
    patch = work / "p.diff"
    patch.write_bytes(edits.unified_diff("f.txt", old, new).encode())
    subprocess.run(["git", "-C", str(work), "apply", "--whitespace=nowarn", "p.diff"], check=True,
                   capture_output=True)
    return target.read_bytes().decode()


@pytest.mark.parametrize(
    "old,new",
    [("a\nb\nc\n", "a\nB\nc\n"), ("a\nb", "a\nb\n"), ("a\nb\n", "a\nc"), ("", "new\nfile"),
     ("x\r\ny\r\n", "x\r\nz\r\n"), ("".join(f"{i}\n" for i in range(30)), "".join(f"{i}\n" for i in range(1, 31)))],
)
def test_unified_diff_applies_with_git(tmp_path: Path, old: str, new: str) -> None:
    assert _git_apply(tmp_path, old, new) == new


def test_unified_diff_headers_and_no_newline_marker() -> None:
    diff = edits.unified_diff("pkg/m.py", "a\n", "b")
    assert diff.startswith("--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ -1 +1 @@\n")
    assert diff.endswith("+b\n\\ No newline at end of file\n")
    assert edits.unified_diff("m.py", "", "x\n").startswith("--- /dev/null\n+++ b/m.py\n")
    assert edits.unified_diff("m.py", "same", "same") == ""


def test_hunks_and_partial_accept() -> None:
    old = "".join(f"line {i}\n" for i in range(40))
    new = old.replace("line 3\n", "LINE 3\n").replace("line 30\n", "").replace("line 39\n", "line 39")
    hs = edits.hunks(old, new)
    assert [h.index for h in hs] == [0, 1, 2]
    assert (hs[0].old_start, hs[0].old_lines, hs[0].new_lines) == (4, ["line 3\n"], ["LINE 3\n"])
    assert (hs[1].old_start, hs[1].old_lines, hs[1].new_lines) == (31, ["line 30\n"], [])
    assert hs[0].header == "@@ -4,1 +4,1 @@"
    assert edits.apply_hunks(old, new, [0]) == old.replace("line 3\n", "LINE 3\n")
    assert edits.apply_hunks(old, new, {1, 2}) == old.replace("line 30\n", "").replace("line 39\n", "line 39")
    with pytest.raises(ValueError, match="no hunk"):
        edits.apply_hunks(old, new, [5])


lines_st = st.lists(st.sampled_from(["a\n", "b\n", "c\r\n", "\n", "é\n"]), max_size=15)


@settings(max_examples=200, deadline=None)
@given(lines_st, lines_st, st.booleans(), st.data())
def test_apply_hunks_property(o: list[str], n: list[str], cut: bool, data: st.DataObject) -> None:
    old, new = "".join(o), "".join(n)
    if cut and new:
        new = new[:-1]
    count = len(edits.hunks(old, new))
    assert edits.apply_hunks(old, new, range(count)) == new
    assert edits.apply_hunks(old, new, []) == old
    chosen = data.draw(st.sets(st.integers(0, max(0, count - 1))) if count else st.just(set()))
    partial = edits.apply_hunks(old, new, chosen)
    # accepting the rest afterwards lands on new: hunks are independent
    rest = [h.index for h in edits.hunks(partial, new)]
    assert edits.apply_hunks(partial, new, rest) == new

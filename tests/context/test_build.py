"""build_context end to end on small real repositories."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from amigo.context import build_context
from amigo.context.budget import estimate_tokens
from amigo.prompt import EditRequest, build_messages

from context_helpers import SHOP, run_git, write_files


def _kinds(result) -> list[str]:
    return [s.kind for s in result.sections]


def _section(result, kind: str) -> str:
    return next((s.text for s in result.sections if s.kind == kind), "")


def test_selection_gets_definitions_from_other_files(make_repo) -> None:
    root = make_repo(SHOP)
    text = (root / "shop/checkout.py").read_text()
    result = build_context(root, "shop/checkout.py", text, (5, 7), "round the total", 2048)
    definitions = _section(result, "definitions")
    assert "def apply_tax(cents: int) -> int:" in definitions
    assert "def format_price(cents: int) -> str:" in definitions
    assert "shop/pricing.py:" in definitions
    assert "class Cart:" in definitions and "def total_cents(self) -> int:" in definitions
    assert "banner" not in definitions
    assert result.root == root.resolve() and result.path == "shop/checkout.py"
    assert {"list files", "rank", "total"} <= set(result.timings)


def test_sections_come_in_priority_order_and_fit_the_budget(make_repo) -> None:
    root = make_repo(SHOP)
    (root / "shop/pricing.py").write_text(SHOP["shop/pricing.py"] + "\n\ndef extra():\n    return 1\n")
    text = (root / "shop/checkout.py").read_text()
    order = ["scope", "imports", "definitions", "repo_map", "uncommitted"]
    for budget in (60, 200, 2000):
        result = build_context(root, "shop/checkout.py", text, (5, 7), "tax", budget)
        kinds = _kinds(result)
        assert kinds == sorted(kinds, key=order.index)
        assert result.tokens <= budget
        shown = sum(estimate_tokens(f"### {s.title}\n") + 2 + estimate_tokens(s.text) for s in result.sections)
        assert shown <= budget
    assert "uncommitted" in _kinds(result)
    assert "+def extra():" in _section(result, "uncommitted")


def test_a_callers_token_counter_is_respected(make_repo) -> None:
    root = make_repo(SHOP)
    calls: list[str] = []

    def words(text: str) -> int:
        calls.append(text)
        return len(text.split()) * 3

    text = (root / "shop/checkout.py").read_text()
    result = build_context(root, "shop/checkout.py", text, None, "tax", 120, count_tokens=words)
    assert calls
    assert sum(words(f"### {s.title}\n") + 2 + words(s.text) for s in result.sections) <= 120
    assert result.sections


def test_repo_map_ranks_related_files_first(make_repo) -> None:
    root = make_repo(SHOP)
    text = (root / "shop/checkout.py").read_text()
    result = build_context(root, "shop/checkout.py", text, None, "", 4000)
    everything = "\n".join(s.text for s in result.sections)
    assert "shop/models.py" in everything and "shop/pricing.py" in everything
    assert everything.find("shop/unrelated.py") == -1 or (
        everything.find("shop/unrelated.py") > everything.find("shop/pricing.py"))


def test_instruction_words_pull_in_matching_definitions(make_repo) -> None:
    root = make_repo(SHOP)
    text = (root / "shop/unrelated.py").read_text()
    result = build_context(root, "shop/unrelated.py", text, None, "use format_price in banner", 400)
    assert "def format_price(cents: int) -> str:" in _section(result, "repo_map")


def test_unsaved_buffer_is_used_instead_of_the_disk(make_repo) -> None:
    root = make_repo(SHOP)
    buffer = "from shop.pricing import apply_tax\n\n\ndef gross(c):\n    return apply_tax(c)\n"
    result = build_context(root, "shop/unrelated.py", buffer, (4, 5), "", 1000)
    assert "def apply_tax(cents: int) -> int:" in _section(result, "definitions")


def test_large_file_gets_scope_and_imports(make_repo) -> None:
    body = "".join(f"def filler_{i}(x):\n    return x + {i}\n\n\n" for i in range(80))
    big = ("import os\nfrom shop.pricing import apply_tax\n\n\nclass Big:\n"
           "    def target(self, cents):\n        value = apply_tax(cents)\n        return value\n\n\n" + body)
    root = make_repo({**SHOP, "shop/big.py": big})
    result = build_context(root, "shop/big.py", big, (7, 7), "", 2000)
    scope = _section(result, "scope")
    assert "class Big:" in scope and "def target(self, cents):" in scope
    assert "from shop.pricing import apply_tax" in _section(result, "imports")
    assert "def apply_tax" in _section(result, "definitions")


def test_messages_include_the_context(make_repo) -> None:
    root = make_repo(SHOP)
    text = (root / "shop/checkout.py").read_text()
    result = build_context(root, "shop/checkout.py", text, (5, 7), "round", 1024)
    request = EditRequest("round", "shop/checkout.py", text, (5, 7), context=result.sections)
    user = build_messages(request)[1]["content"]
    assert "## Repository context" in user and "def apply_tax" in user


def test_non_git_folder_walks_and_honours_gitignore(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    write_files(root, {**SHOP, "ignored/secret.py": "def leaked_helper():\n    pass\n",
                       "node_modules/lib/index.js": "function vendored() {}\n"})
    buffer = "from shop.pricing import apply_tax\nleaked_helper()\napply_tax(1)\n"
    result = build_context(root, "main.py", buffer, None, "", 2000)
    text = "\n".join(s.text for s in result.sections)
    assert "def apply_tax" in text
    assert "leaked_helper" not in text and "vendored" not in text
    assert any("not a git repository" in note for note in result.notes)


def test_no_root_outside_git_still_works(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = build_context(None, str(tmp_path / "lonely.py"), "def f():\n    pass\n", (1, 2), "x", 500)
    assert result.root is None
    assert any("not inside a git repository" in note for note in result.notes)


def test_no_root_inside_git_finds_the_work_tree(make_repo) -> None:
    root = make_repo(SHOP)
    path = root / "shop/checkout.py"
    result = build_context(None, str(path), path.read_text(), (5, 7), "", 1000)
    assert result.root == root.resolve() and result.path == "shop/checkout.py"
    assert "def apply_tax" in _section(result, "definitions")


def test_bad_files_are_skipped_with_notes(make_repo) -> None:
    minified = ("var a=" + ",".join(f"f{i}=function(){{return {i}}}" for i in range(3000)) + ";\n").encode()
    root = make_repo({**SHOP, "shop/blob.py": b"\x00\x01binary\x00" * 100,
                      "web/app.min.js": minified, "web/bundle.js": minified,
                      "shop/huge.py": b"x = 1\n" * 200_000})
    (root / "shop/loop_a.py").symlink_to("loop_b.py")
    (root / "shop/loop_b.py").symlink_to("loop_a.py")
    (root / "shop/dangling.py").symlink_to("nowhere.py")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "shop/sock.py"))
    try:
        text = (root / "shop/checkout.py").read_text()
        result = build_context(root, "shop/checkout.py", text, (5, 7), "", 1000)
    finally:
        sock.close()
    notes = "\n".join(result.notes)
    assert "binary" in notes and "shop/blob.py" in notes
    assert "minified" in notes and "web/bundle.js" in notes
    assert "too large" in notes and "shop/huge.py" in notes
    assert "symlink loop" in notes and "shop/loop_a.py" in notes
    assert "broken symlink" in notes
    assert "vendored or generated" in notes  # app.min.js by its name
    assert "def apply_tax" in _section(result, "definitions")


def test_edited_buffer_with_syntax_errors_uses_partial_tree(make_repo) -> None:
    root = make_repo(SHOP)
    buffer = ("from shop.pricing import apply_tax\n\ndef broken(:\n    pass\n\n"
              "def fine(c):\n    return apply_tax(c)\n")
    result = build_context(root, "shop/new.py", buffer, (7, 7), "", 1000)
    assert any("syntax errors" in note for note in result.notes)
    assert "def apply_tax" in _section(result, "definitions")
    assert "lines 6-7: def fine(c):" in _section(result, "scope")


def test_binary_and_minified_buffers_do_not_crash(make_repo) -> None:
    root = make_repo(SHOP)
    result = build_context(root, "shop/x.py", "abc\0def" * 10, None, "", 500)
    assert any("binary" in note for note in result.notes)
    minified = "var a=" + ",".join(f"b{i}={i}" for i in range(40_000)) + ";"
    result = build_context(root, "web/x.js", minified, (1, 1), "", 500)
    assert any("minified" in note for note in result.notes)


def test_other_language_buffer_gets_plain_text_handling(make_repo) -> None:
    root = make_repo(SHOP)
    ruby = "require 'pricing'\nputs apply_tax(100)\n"
    result = build_context(root, "tools/run.rb", ruby, (2, 2), "", 1000)
    assert "def apply_tax" in _section(result, "definitions")


def test_mixed_language_repository(make_repo) -> None:
    root = make_repo({
        "web/util.ts": "export function formatMoney(cents: number): string { return `${cents}`; }\n",
        "web/app.ts": "import { formatMoney } from './util';\nconsole.log(formatMoney(3));\n",
        "core/lib.go": "package core\n\nfunc ParseOrder(s string) int { return len(s) }\n",
        "core/main.go": "package core\n\nfunc Run() int { return ParseOrder(\"x\") }\n",
        "native/calc.h": "int add_numbers(int a, int b);\n",
        "native/calc.c": "#include \"calc.h\"\nint twice(int a) { return add_numbers(a, a); }\n",
    })
    for path, selection, expected in [("web/app.ts", (2, 2), "export function formatMoney"),
                                      ("core/main.go", (3, 3), "func ParseOrder"),
                                      ("native/calc.c", (2, 2), "int add_numbers")]:
        text = (root / path).read_text()
        result = build_context(root, path, text, selection, "", 1000)
        assert expected in _section(result, "definitions"), path


def test_untracked_files_are_indexed_and_deleted_files_forgotten(make_repo) -> None:
    root = make_repo(SHOP)
    text = "from shop.fresh import brand_new\nbrand_new()\n"
    write_files(root, {"shop/fresh.py": "def brand_new():\n    return 42\n"})
    result = build_context(root, "main.py", text, None, "", 1000)
    assert "def brand_new" in _section(result, "definitions")
    os.unlink(root / "shop/fresh.py")
    result = build_context(root, "main.py", text, None, "", 1000)
    assert "brand_new" not in "\n".join(s.text for s in result.sections)


@pytest.mark.slow
def test_many_files_list_quickly_and_do_not_crash(make_repo, tmp_path: Path) -> None:
    root = make_repo(SHOP)
    data = root / "data"
    for i in range(100):
        folder = data / f"d{i:03d}"
        folder.mkdir(parents=True)
        for j in range(1000):
            (folder / f"f{j}.txt").write_bytes(b"")
    assert int(run_git(root, "ls-files", "--others", "--exclude-standard", "--", "data").count("\n")) == 100_000
    text = (root / "shop/checkout.py").read_text()
    result = build_context(root, "shop/checkout.py", text, (5, 7), "", 1000)
    assert "def apply_tax" in _section(result, "definitions")


def test_members_of_used_classes_are_listed_for_attribute_calls(make_repo) -> None:
    """``store.save(...)`` resolves through the class the file imports: its public
    methods are listed, its private ones never."""
    root = make_repo({
        "app/store.py": "class Store:\n    def __init__(self, path: str) -> None:\n        self.path = path\n\n"
                        "    def save(self, key: str, value: bytes) -> None:\n        pass\n\n"
                        "    def load(self, key: str) -> bytes:\n        return b''\n\n"
                        "    def _compact(self) -> None:\n        pass\n",
        "app/main.py": "from app.store import Store\n\n\ndef run() -> None:\n    store = Store('db')\n"
                       "    store.load('a')\n",
    })
    text = (root / "app/main.py").read_text()
    result = build_context(root, "app/main.py", text, None, "save the result", 2048)
    definitions = _section(result, "definitions")
    assert "class Store:" in definitions
    assert "def load(self, key: str) -> bytes:" in definitions
    assert "def save(self, key: str, value: bytes) -> None:" in definitions
    assert "_compact" not in definitions
    assert ("app/store.py", "save", 5) in result.shown


def test_same_tree_same_context_in_any_process(make_repo, tmp_path: Path) -> None:
    """String hashes, and with them the order tree-sitter hands back captures, change
    from process to process; tags and context must not (ties in the ranking follow orders)."""
    body = "".join(f"def func_{i}(obj, arg_{i}):\n    obj.attr_{i % 7} = helper_{i % 5}(arg_{i}, key_{i}=obj.value)\n"
                   f"    return Thing{i % 3}(obj).method_{i % 11}()\n\n\n" for i in range(300))
    files = {"pkg/big.py": "from pkg.base import *\n\n\n" + body,
             "pkg/base.py": "".join(f"def helper_{i}(v, **kw):\n    return v\n\n\n" for i in range(5))
             + "".join(f"class Thing{i}:\n    def method_{i}(self):\n        return {i}\n\n\n" for i in range(3))}
    root = make_repo(files)
    # not committed: git lists it before the tracked files, path order puts it last
    write_files(root, {"pkg/zzz_helpers.py": "".join(f"def helper_{i}(v):\n    return v\n\n\n" for i in range(5))})
    script = (
        "import sys\nfrom pathlib import Path\nfrom amigo.context import build_context\n"
        "from amigo.context.tags import extract\n"
        "root = Path(sys.argv[1])\ntext = (root / 'pkg/big.py').read_text()\n"
        "tags = extract(text.encode(), 'python')\nprint(list(tags.references), list(tags.weak_references))\n"
        "r = build_context(root, 'pkg/big.py', text, (5, 6), 'call the helper', 300,"
        " cache_dir=Path(sys.argv[2]))\nprint('\\n'.join(s.text for s in r.sections))\n")
    outputs = set()
    # three cold indexes, then two processes starting from the first one's warm cache
    for seed, cache in (("1", "a"), ("2", "b"), ("3", "c"), ("4", "a"), ("5", "a")):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", script, str(root), str(tmp_path / f"cache-{cache}")],
                             capture_output=True, text=True, env=env, check=True)
        outputs.add(out.stdout)
    assert len(outputs) == 1

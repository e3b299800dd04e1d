"""Regenerate edit_tasks.jsonl: real standard-library functions + realistic instructions.

Each task's file is one top-level function, copied verbatim from CPython's
standard library (PSF licence) of the interpreter running this script, so the
benchmark never depends on the local install afterwards. ``expect`` is a
substring a correct edit would contain (a rough correctness signal).

    python benchmarks/data/make_edit_tasks.py > benchmarks/data/edit_tasks.jsonl
"""

from __future__ import annotations

import ast
import json
import sys
import sysconfig
from pathlib import Path

# (module file relative to the stdlib, function, instruction, expected substring)
TASKS = [
    ("textwrap.py", "indent", "Raise a TypeError when prefix is not a string.", "TypeError"),
    ("textwrap.py", "shorten", "Add type hints: text is str, width is int, and it returns str.", "width: int"),
    ("shlex.py", "quote", "Rename the parameter s to text everywhere in the function.", "def quote(text)"),
    ("fnmatch.py", "filter", "Rename the local variable result to matches.", "matches = []"),
    ("posixpath.py", "dirname", "Rename the variable head to directory.", "directory"),
    ("glob.py", "escape", "Return early with the pathname unchanged when it is empty.", "if not pathname"),
    ("base64.py", "b64encode", "Replace the assert with a ValueError when altchars is not 2 bytes long.", "ValueError"),
    ("base64.py", "urlsafe_b64decode", "Add type hints: s is bytes | str and the function returns bytes.", "-> bytes"),
    ("calendar.py", "monthrange", "Raise a ValueError when year is negative.", "year < 0"),
    ("colorsys.py", "rgb_to_hsv", "Add a docstring that says the inputs and outputs are floats in [0, 1].", '"""'),
    ("colorsys.py", "hls_to_rgb", "Add a docstring explaining the h, l, s arguments.", '"""'),
    ("difflib.py", "_format_range_unified", "Use f-strings instead of str.format.", "f'"),
    ("heapq.py", "heapify", "Return the list x at the end so calls can be chained.", "return x"),
    ("heapq.py", "_siftdown", "Rename newitem to item.", "item = heap[pos]"),
    ("bisect.py", "insort_left", "Return the index where x was inserted.", "return lo"),
    ("statistics.py", "mean", "Change the error message to 'mean() requires at least one data point'.", "mean() requires"),
    ("statistics.py", "median", "Rename the variable n to count.", "count = len(data)"),
    ("statistics.py", "multimode", "Return the modes sorted in ascending order.", "sorted("),
    ("string.py", "capwords", "Add type hints: s is str, sep is str | None, and it returns str.", "-> str"),
    ("html/__init__.py", "escape", "Also replace backticks with &#x60; when quote is true.", "&#x60;"),
    ("urllib/parse.py", "urldefrag", "Rename the variable defrag to without_fragment.", "without_fragment"),
    ("urllib/parse.py", "_splitport", "Return the port as an int instead of a string.", "int(port)"),
    ("shutil.py", "copyfileobj", "Return the total number of bytes copied.", "return"),
    ("shutil.py", "ignore_patterns", "Rename ignored_names to ignored.", "ignored = []"),
    ("ipaddress.py", "v4_int_to_packed", "Chain the ValueError from the OverflowError with 'from None'.", "from None"),
    ("quopri.py", "needsquoting", "Replace the assert with a TypeError when c is not bytes.", "TypeError"),
    ("mimetypes.py", "read_mime_types", "Add a docstring saying it returns None when the file cannot be opened.", '"""'),
    ("platform.py", "_norm_version", "Rename the variable l to parts.", "parts = version.split('.')"),
    ("copy.py", "_keep_alive", "Use memo.setdefault instead of try/except KeyError.", "setdefault"),
    ("inspect.py", "getmodulename", "Sort the suffixes with sorted() instead of list.sort().", "sorted("),
    ("tokenize.py", "_get_normal_name", "Also normalize 'utf8' (without the dash) to 'utf-8'.", "utf8"),
    ("zipfile.py", "is_zipfile", "Return False directly inside the except branch instead of pass.", "return False"),
    ("sysconfig.py", "_subst_vars", "Add a docstring explaining the fallback to os.environ.", '"""'),
    ("pprint.py", "_wrap_bytes_repr", "Rename the parameter object to data.", "def _wrap_bytes_repr(data"),
    ("locale.py", "_strip_padding", "Add a docstring and type hints (s: str, amount: int) -> str.", "amount: int"),
    ("email/utils.py", "unquote", "Also strip single quotes around the string.", "\"'\""),
    ("http/cookies.py", "_quote", "Rename the parameter str to value so it does not shadow the builtin.", "def _quote(value)"),
    ("argparse.py", "_copy_items", "Use isinstance(items, list) instead of the type() comparison.", "isinstance(items, list)"),
    ("getopt.py", "long_has_args", "Replace the final assert with a GetoptError.", "GetoptError"),
]


def main() -> int:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    version = ".".join(map(str, sys.version_info[:3]))
    for module, function, instruction, expect in TASKS:
        source = (stdlib / module).read_text(encoding="utf-8")
        tree = ast.parse(source)
        node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function)
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        lines = source.splitlines(keepends=True)[start - 1 : node.end_lineno]
        text = "".join(lines)
        ast.parse(text)
        stem = module.removesuffix(".py").replace("/__init__", "").replace("/", "_")
        print(json.dumps({
            "id": f"{stem}.{function}",
            "origin": f"CPython {version} Lib/{module}:{start}",
            "path": f"{stem}.py",
            "file_text": text,
            "instruction": instruction,
            "expect": expect,
        }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

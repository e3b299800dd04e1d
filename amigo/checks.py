"""The check stage: what a proposal would break, found before anyone reviews it.

Every proposed file is parsed with tree-sitter before and after the change
(the grammars the context index uses, :mod:`amigo.context.languages`). A
weak model's answer often applies cleanly and still leaves a file that no
longer parses, or quietly drops a function; a person clicking accept on a
diff they skimmed would write that. Findings are carried on the proposal:

* ``placeholder`` (error, any file): a line of the prompt's picture of a block
  (``the new lines that replace them``) written into the file;
* ``version-directive`` (error, Python and reStructuredText): a ``.. deprecated::``,
  ``versionadded``, ``versionchanged`` or ``versionremoved`` directive written with no version
  or a word of prose in its place;
* ``syntax`` (error): ERROR or MISSING nodes that the file did not have before;
  in Python also what compiling the file refuses and did not before (it compiles, never runs:
  ``return`` outside a function parses but fails on import);
* ``removed-definition`` (error): a function, class or method gone, when the
  instruction neither names it nor asks for a removal. Not gone: a function
  defined inside another (part of that one's body); one defined again in another
  file of the proposal (moved, see check_changes), or as another kind (a function
  made a class), or, where the old file did not parse, anywhere; and, when the
  instruction drops an old Python, one defined for it under ``if``/``try`` or a
  test skipped by the Python version; when it removes what is deprecated without
  naming it, one that is itself deprecated (not one that warns of an argument); a
  private helper whose last use in its module went with it, when no other module
  uses it (check_changes' ``repository``); a method the class now gets without
  writing it (``@dataclass``, or a base class of the file). One defined again under
  another name with the same code is the rename asked where the instruction asks to rename to that
  name, and is otherwise named as a rename, a warning for private and
  test names that no other module uses; a test replaced by another in its test module, and a method of a
  class that gained a base defined elsewhere, are warnings;
* ``duplicate-definition`` (error): a second top-level function or class of
  the same name, which silently replaces the first;
* ``undefined-name`` (error, Python): a name the change uses that the file
  neither defines, imports nor had undefined before (pyflakes, which reads
  the code without running it): a call to a helper the model made up, which
  fails with NameError when it runs, at import time when it is at module level,
  or a rename done in part (a use of the old name left behind: the message
  names the new one);
* ``endless-recursion`` (error, Python): a function made to call itself before
  anything in it can return (its body replaced by a call of itself), or with the
  arguments it was given past guards that change nothing: every call that gets
  there recurses until RecursionError;
* ``unbound-name`` (error, Python): a name read in an ``except`` clause that only
  the last statement of its ``try`` binds (UnboundLocalError when the clause runs);
* ``unused-parameter`` (error, Python): a parameter a plain function read before
  and still takes but no longer reads, unless the instruction names it or says it
  may go unread;
* ``rewritten-function`` (error, Python): a function none of whose lines of code
  is left, where the instruction asks it for one thing more ("Return ...",
  "Raise ...", "Also ...");
* ``removed-example`` (error, Python): every example (``>>>`` line) gone from the docstring of
  a definition that is still there, unless the instruction speaks of examples or documentation,
  and where it asks for one thing more ("Raise ..."), any example gone;
* ``removed-selection`` (error): most of the selected lines (or file) gone,
  when the instruction asks for no lines to go (a rename asks for none);
* ``import-time-code`` (error, Python): a module that ran nothing when imported
  now does: a ``print``, an ``assert`` or a call of its own function added at
  top level (a model's usage example; it runs, or fails, on every import),
  unless the instruction speaks of printing, examples, tests or running;
* ``out-of-scope`` (error, Python): the code changed where the instruction asks
  only for documentation (docstrings, comments, type hints) or for one rename
  (:mod:`amigo.scope`: the syntax trees compared with those set aside);
* ``not-done`` (error): the change asked is not made: documentation asked and a
  kind it names (type hints; docstrings or comments) left as it was, or code
  asked ("Replace the assert with a ValueError") and only docstrings and comments
  changed, in every Python file of the proposal (code laid out anew does a layout request,
  "Remove redundant parentheses", ``>>>`` examples added a request for tests, a comment tools read
  (``# noqa``) is code's work, and code commented out taken away a removal); a rename asked and not made; the
  code the instruction spells out (:mod:`amigo.named_terms`) written in no file;
  the exception asked for "when year is negative" raised under no test of year; a type hint the
  instruction spells out ("s is bytes | str") written otherwise;
  a removal asked of list entries a data file still holds;
* in a data file (JSON, TOML, YAML, INI: :mod:`amigo.datafiles`, no grammar needed), ``syntax``
  (error) where its format's parser reads the old text and not the new one (a JSONC file is
  read as JSONC), and ``removed-key`` where keys or list entries are gone (counted per list
  item; an entry whose numbers changed is changed, not gone) that the instruction neither
  names nor asks to take away: an error where it only adds or sets something (``Bump the
  version`` answered without ``[tool.ruff]``) or where most keys of the
  selection (or file) went, a warning elsewhere;
  ``removed-selection`` is judged for every text file, grammar or not;
* ``check-failed`` (error): one of these checks raised instead of answering (a defect of Amigo, logged
  with its traceback): the change is held for review rather than written unchecked, and the
  session goes on;
* ``check-command`` (error): the person's own ``check_command`` failed on a
  temporary copy of the repository with the change applied;
* ``format`` (warning, added by the engine): the answer was read otherwise
  than literally because that reading passed (a fenced rewrite for a blocks
  request; a whole-file answer holding only the definitions it changed).

Error-level findings are what ``--yes`` refuses and what the repair loop sends
back to the model; nothing here touches the person's files.
"""

from __future__ import annotations

import ast
import builtins
import codeop
import contextlib
import functools
import logging
import os
import re
import shlex
import signal
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

from tree_sitter import Node

from amigo import datafiles, named_terms
from amigo.context import languages
from amigo.context.files import git_toplevel
from amigo.context.tags import extract
from amigo.edits import apply_answer
from amigo.edits.contract import PLACEHOLDERS
from amigo.repofiles import git_ls_files
from amigo.scope import (
    Scope, asked_documentation, asks_for_code, commented_code_removed, documentation_changed, is_docstring,
    layout_changed, loose_name, name_uses, prose_only, read_scope, scope_difference, tool_comments_changed,
)

if TYPE_CHECKING:
    from amigo.prompt import EditRequest

log = logging.getLogger(__name__)

# Definition kinds whose loss is reported (constants and fields come and go in normal edits).
DEFINITION_KINDS = frozenset({"function", "method", "class", "interface", "enum", "module"})
# Where a second top-level definition silently replaces the first (C's prototypes, TypeScript's
# overloads and Go/Rust's compile errors make the count mean something else there).
SHADOWING_LANGUAGES = frozenset({"python"})
# Words that make losing lines something the person asked for.
# "strip" is left out: in an instruction it is nearly always about strings ("also strip single quotes").
# Every form an instruction or a commit message uses: "Remove", "Replaced", "simplifies", "Rm", and
# "Expire" (of a deprecation: networkx's "Expire deprecation of compute_v_structures").
_SHRINKING = (r"remov(e|es|ed|ing)|delet(e|es|ed|ing)|drop(s|ped|ping)?|inlin(e|es|ed|ing)|merg(e|es|ed|ing)|"
              r"mov(e|es|ed|ing)|replac(e|es|ed|ing)|eliminat(e|es|ed|ing)|get rid|shorten(s|ed|ing)?|"
              r"simplif(y|ies|ied|ying)|collaps(e|es|ed|ing)|consolidat(e|es|ed|ing)|combin(e|es|ed|ing)|"
              r"refactor(s|ed|ing)?|rewrit(e|es|ing|ten)|rewrote|cut(s|ting)?|trim(s|med|ming)?|"
              r"clean(s|ed|ing)? ?up|tid(y|ies|ied|ying)|dedupe[sd]?|deduplicat(e|es|ed|ing)|revert(s|ed|ing)?|"
              r"stop(s|ped|ping)? using|rm|expir(e|es|ed|ing)")
_SHRINK_WORDS = re.compile(rf"\b({_SHRINKING})\b", re.IGNORECASE)
# A rename takes a name away (a definition by its old name is expected to go) but no lines:
# "Rename the name parameter" answered with the body gone is still most of the selection lost.
_REMOVAL_WORDS = re.compile(rf"\b(renam(e|es|ed|ing)|{_SHRINKING})\b", re.IGNORECASE)
# An instruction that ends support for an old Python: the definitions made for it under
# ``if sys.version_info ...`` or ``try: ... except ImportError`` may go ("drop Python 3.7",
# "Set minimum version to Py3.10", "drop py<=3.6").
_DROPS_PYTHON = re.compile(r"\b(drop\w*|remov\w*|minimum|no longer support\w*|end support)\b[^.;]*?"
                           r"\b(python|py|cpython)\s*(<=?|>=?|==)?\s*v?[23]\b", re.IGNORECASE)
# An instruction that only adds or sets something ("Add rich to the dependencies", "Bump the
# version to 0.4", "ci: enable py312") takes no key of a data file away: a key lost is an error
# there. Other instructions often restructure a config under a terse word ("use trusted
# publishing", "Fix CI": real commits to config files often drop keys their subject does not
# name), so elsewhere a few keys lost are a warning for the reviewer, and most of them an error.
_ADDS_ONLY = re.compile(r"^\W*([\w-]+(\([\w-]+\))?:\s*)?(adds?|bumps?|sets?|pins?|enables?|includes?|increases?|"
                        r"raises?)\b", re.IGNORECASE)
# What a removal must speak of before a data file's keys may go unnamed: "Remove the unused
# settings" may take keys away, "Drop Python 3.6 from testing" (a value in a list) may not.
_KEY_WORDS = re.compile(r"\b(keys?|sections?|tables?|settings?|options?|fields?|entr(y|ies)|config\w*|jobs?|"
                        r"steps?|hooks?|propert(y|ies)|scripts?|dependenc(y|ies)|deps|unused|everything)\b",
                        re.IGNORECASE)
# A clause that asks to take something away, and what it names, up to the next clause ("remove py38,
# add py313"; "Drop Python 3.6 and add 3.12")
_REMOVAL_CLAUSE = re.compile(r"\b(?:remov\w*|drop\w*|delet\w*|rm|expir\w*)\b((?:(?!\b(?:and|then|but|on|in|from|to|"
                             r"with|due|because|since|as|at|via|when|if)\b|\.(?!\w))[^,;!?()])*)", re.IGNORECASE)
_BUILTIN_NAMES = frozenset(dir(builtins))
MIN_BUILT_ON_NAME = 4  # "Remove pairwise" lets PairwiseTests go; shorter words are too common a part
# What a removal or rename must speak of before a definition it does not name may go: "remove the
# unused helpers" may take functions away, "Remove redundant u-prefix strings" or "Rename the
# variable head" may not (the embedded model answered those by deleting or renaming the function).
_DEFINITION_WORDS = re.compile(r"\b(functions?|methods?|class|classes|helpers?|defs?|definitions?|wrappers?|"
                               r"code|unused|dead|duplicates?|duplicated|everything|tests?|modules?|"
                               r"interfaces?|enums?|structs?|overloads?)\b", re.IGNORECASE)
REMOVED_SELECTION_SHARE = 0.5  # more than this share of the selected non-blank lines lost
MIN_SELECTION_LINES = 4  # smaller selections are too small to judge
MAX_SYNTAX_FINDINGS = 3  # per file: the first few say enough
MAX_KEYS_NAMED = 4  # of the keys a data file lost, those the finding names
KEYS_LOST_SHARE = 0.5  # more than this share of the keys (of the selection, or the file) lost: an error
MIN_KEYS_JUDGED = 4  # a share is of at least this many keys (one key of one gone is not "most")
# A line that holds only a comment, in a data format: no content (a weak model fills a file it
# emptied with "# TODO:" lines)
_DATA_COMMENT = {"json": re.compile(r"\s*(//|/\*)"), "toml": re.compile(r"\s*#"), "yaml": re.compile(r"\s*#"),
                 "ini": re.compile(r"\s*[#;]")}
CHECK_OUTPUT_CHARS = 2000  # of a failing check command's output, kept for the person and the model


@dataclass(frozen=True)
class Finding:
    """One thing the check stage found wrong with a proposal.

    ``level`` is ``error`` (refused under ``--yes``, repaired when possible) or
    ``warning``; ``line`` is 1-based in the proposed file, when there is one.
    """

    kind: str  # syntax | removed-definition | duplicate-definition | undefined-name | removed-selection |
    #            removed-key | import-time-code | out-of-scope | not-done | check-command | format |
    #            endless-recursion | unbound-name | unused-parameter | rewritten-function | removed-example |
    #            placeholder
    level: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{self.level}: {where}: {self.message}"


def has_errors(findings: Iterable[Finding]) -> bool:
    """True when any finding is error-level (what ``--yes`` refuses)."""
    return any(f.level == "error" for f in findings)


# Whether a file outside a proposal uses a name: (name, the proposal's paths) -> used
UsedElsewhere = Callable[[str, frozenset[str]], bool]
NAME_SEARCH_TIMEOUT_S = 10.0


def repository_uses(root: Path, revision: str | None = None) -> UsedElsewhere:
    """Whether any Python module of the git repository at ``root`` (its work tree, or the tree of
    ``revision`` in a bare one) outside a proposal's paths holds a name as a word: a private helper a
    proposal takes away with its last use in its own module may still be imported by another one
    (tqdm's "simplify terminal size detection" left ``tqdm/_utils.py`` importing three it removed).
    Stubs (``.pyi``) are not searched: a stale declaration breaks nothing that runs. A search git
    cannot make (a timeout, no git) answers yes, so the finding stays."""
    # a work tree's untracked files count (a module not yet committed may import the helper); a
    # folder outside git is searched as files
    where = [revision] if revision else ["--untracked"] if git_toplevel(root) is not None else ["--no-index"]

    def used(name: str, skip: frozenset[str]) -> bool:
        command = ["git", "-C", str(root), "grep", "-q", "-w", "-F", "-e", name, *where]
        command += ["--", "*.py"] + [f":(exclude,literal){path}" for path in sorted(skip)]
        try:
            done = subprocess.run(command, capture_output=True, timeout=NAME_SEARCH_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            return True
        return done.returncode != 1  # 0: found; 1: nowhere; anything else: git could not search
    return used


def asks_for_removal(instruction: str) -> bool:
    """Whether the instruction asks to take definitions away (remove, inline, rename, ...) without
    naming them, so that a definition gone is expected; one it names may always go."""
    return bool(_REMOVAL_WORDS.search(instruction) and _DEFINITION_WORDS.search(instruction))


def asks_to_shrink(instruction: str) -> bool:
    """Whether the instruction asks for fewer lines (then most of the selection gone is expected)."""
    return bool(_SHRINK_WORDS.search(instruction) or _DROPS_PYTHON.search(instruction))


# ------------------------------------------------------------------ syntax


def _error_nodes(root: Node) -> list[Node]:
    """The outermost ERROR nodes and every MISSING node, in document order."""
    found: list[Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_missing or node.type == "ERROR":
            found.append(node)
            if node.type == "ERROR":
                continue  # its children say nothing more
        if node.has_error:
            stack.extend(reversed(node.children))
    return found


def _error_key(node: Node, lines: Sequence[str]) -> tuple[str, str]:
    """What identifies a syntax error across an edit that moves lines: kind and line text."""
    row = node.start_point[0]
    text = lines[row].strip() if row < len(lines) else ""
    return ("MISSING " + node.type if node.is_missing else "ERROR", text)


def syntax_errors(text: str, language: str) -> list[tuple[tuple[str, str], int]] | None:
    """(key, 1-based line) of every syntax error in ``text``; None when no grammar is installed."""
    parser = languages.parser(language)
    if parser is None:
        return None
    data = text.encode("utf-8")
    tree = parser.parse(data)
    if not tree.root_node.has_error:
        return []
    lines = text.splitlines()
    return [(_error_key(n, lines), n.start_point[0] + 1) for n in _error_nodes(tree.root_node)]


@functools.lru_cache(maxsize=16)
def python_syntax_error(text: str) -> tuple[str, int] | None:
    """Python's own verdict, (message, line), or None when ``text`` compiles. tree-sitter is
    tolerant where Python is not (a ``def`` with no body parses there), and so is the parser alone:
    ``return`` outside a function, a duplicate parameter or a repeated keyword argument parse
    but fail when the module is imported, which is what compiling finds (compiling runs nothing).
    Cached: every candidate of every round is checked against the same old text.

    Syntax newer than the running Python (``type`` aliases, ``def f[T]`` and f-strings that nest
    quotes are Python 3.12) is no error of the proposal: the compiler judges the text with those
    constructs put the way this Python writes them (sphinx's "Drop support for Python 3.11" wrote
    ``type`` aliases, which Python 3.11 cannot compile)."""
    return _in_this_pythons_syntax(_compile_error, text)


def _compile_error(text: str) -> tuple[str, int] | None:
    try:
        with _quiet_compiler():
            compile(text, "<proposal>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return exc.msg, exc.lineno or 1
    except ValueError as exc:  # null bytes
        return str(exc), 1
    return None


def _in_this_pythons_syntax(compile_error: Callable[[str], tuple[str, int] | None],
                            text: str) -> tuple[str, int] | None:
    """``compile_error``'s verdict on ``text``; where it finds an error and this Python is older than
    3.12, its verdict on the text with the 3.12 syntax put as this Python writes it."""
    error = compile_error(text)
    if error is not None and sys.version_info < (3, 12):
        older = _as_older_python(text)
        if older != text:
            return compile_error(older)
    return error


# A ``type`` alias statement's head, to its ``=`` (a soft keyword: ``type = 5`` is no alias)
_TYPE_ALIAS = re.compile(r"^([ \t]*)type[ \t]+([A-Za-z_]\w*)[ \t]*(?:\[[^\]\n=]*\])?[ \t]*=", re.MULTILINE)


def _as_older_python(text: str) -> str:
    """``text`` with the Python 3.12 syntax in it put as Python 3.11 compiles it, every line where
    it was: ``type X = ...`` as ``X = ...`` (read from the line, so an answer still being written
    is read too), and what tree-sitter reads as type parameters or as an f-string this Python
    cannot compile (quotes nested, a backslash in a field) blanked. What is not such syntax is
    left, so the compiler still finds any other error."""
    text = _TYPE_ALIAS.sub(r"\1\2 =", text)
    parser = languages.parser("python")
    if parser is None:
        return text
    data = text.encode("utf-8")
    edits: list[tuple[int, int, bytes]] = []
    stack = [parser.parse(data).root_node]
    while stack:
        node = stack.pop()
        if node.type == "type_parameter":
            # outside brackets once blanked: a line break in it must be continued
            blanked = _blanked(data[node.start_byte:node.end_byte]).replace(b" \n", b"\\\n")
            edits.append((node.start_byte, node.end_byte, blanked))
            continue
        if node.type == "string" and _newer_f_string(data[node.start_byte:node.end_byte]):
            inner = [c for c in node.children if c.type not in ("string_start", "string_end")]
            if inner:
                start, end = inner[0].start_byte, inner[-1].end_byte
                edits.append((start, end, _blanked(data[start:end])))
            continue
        stack.extend(node.children)
    for start, end, replacement in sorted(edits, reverse=True):
        data = data[:start] + replacement + data[end:]
    return data.decode("utf-8", errors="replace")


def _blanked(span: bytes) -> bytes:
    """``span`` with every character but its line breaks made a space (the same lines and columns)."""
    return re.sub(rb"[^\n]", b" ", span)


def _newer_f_string(literal: bytes) -> bool:
    """Whether an f-string literal fails to compile on its own here (Python 3.12 lets its fields
    nest the same quotes, hold backslashes and comments)."""
    prefix = re.match(rb"[A-Za-z]*", literal)
    if prefix is None or b"f" not in prefix.group().lower():
        return False
    return _compile_error("(" + literal.decode("utf-8", errors="replace") + "\n)") is not None


def python_prefix_error(code: str) -> tuple[str, int] | None:
    """(message, line) of a syntax error in ``code``, the complete lines of Python still being
    written, that no text after it can fix; None when some continuation could still make it
    compile. The engine stops reading a sampled whole-format answer there (see amigo.engine).

    The compiler is told the input may be incomplete (``PyCF_ALLOW_INCOMPLETE_INPUT``: an
    open bracket, an unfinished block or string is no error), and an error on the last line
    is not judged yet (a backslash or a trailing comma continues a statement on the next).
    benchmarks/python_prefixes.py feeds it every line prefix of real files that compile: none
    is judged broken (figures in benchmarks/RESULTS.md). Python 3.12 syntax is read as in
    ``python_syntax_error``."""
    return _in_this_pythons_syntax(_prefix_compile_error, code)


def _prefix_compile_error(code: str) -> tuple[str, int] | None:
    try:
        with _quiet_compiler():
            compile(code, "<answer>", "exec", flags=codeop.PyCF_DONT_IMPLY_DEDENT | codeop.PyCF_ALLOW_INCOMPLETE_INPUT,
                    dont_inherit=True)
    except SyntaxError as exc:
        line = exc.lineno or 1
        if exc.msg == "incomplete input" or line >= code.count("\n"):
            return None
        return exc.msg, line
    except ValueError as exc:  # null bytes: nothing after them helps
        return str(exc), 1
    return None


_COMPILER_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_compiler() -> Iterator[None]:
    """The compiler's SyntaxWarnings are not a check's to print. ``catch_warnings`` swaps
    process-wide state, and candidates are judged on several threads at once: one at a time."""
    with _COMPILER_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _python_findings(path: str, old: str, new: str) -> list[Finding]:
    """The compiler's syntax error in ``new``, when ``old`` compiled."""
    error = python_syntax_error(new)
    if error is None or python_syntax_error(old) is not None:
        return []
    message, line = error
    return [Finding("syntax", "error", path,
                    f"introduces a syntax error ({message}) at line {line}{_quoted_line(new, line)}", line)]


def _quoted_line(text: str, line: int | None) -> str:
    """``: `` and the start of ``text``'s 1-based ``line``, for a finding's message ("" where there is none)."""
    lines = text.splitlines()
    return f": {lines[line - 1].strip()[:80]}" if line and 0 < line <= len(lines) else ""


def _syntax_findings(path: str, old: str, new: str, language: str) -> list[Finding]:
    after = syntax_errors(new, language)
    if not after:
        return _python_findings(path, old, new) if language == "python" else []
    before = Counter(key for key, _ in syntax_errors(old, language) or [])
    findings = []
    for key, line in after:
        if before[key] > 0:
            before[key] -= 1  # was there already: not this proposal's doing
            continue
        what, text = key
        shown = f": {text[:80]}" if text else ""
        detail = f"expected {what[8:]!r}" if what.startswith("MISSING") else "the code does not parse"
        findings.append(Finding("syntax", "error", path, f"introduces a syntax error ({detail}) at line {line}{shown}",
                                line))
        if len(findings) >= MAX_SYNTAX_FINDINGS:
            break
    return findings


# ------------------------------------------------------------------ lost code


@functools.lru_cache(maxsize=32)
def _definitions(text: str, language: str) -> dict[tuple[str, str, str], list[int]]:
    """(scope, name, kind) of the file's functions, classes and methods -> their first lines. Cached
    (callers only read it): the old text is read for every candidate, and a proposal of several
    files reads each text once for moves (check_changes) and once for its own file."""
    found: dict[tuple[str, str, str], list[int]] = {}
    for d in extract(text.encode("utf-8"), language).definitions:
        if d.kind in DEFINITION_KINDS:
            found.setdefault((d.scope, d.name, d.kind), []).append(d.first_line)
    return found


@functools.lru_cache(maxsize=16)
def _python_tree(text: str) -> ast.Module | None:
    """``text`` parsed, or None when it does not parse (the syntax check speaks for it). Cached and
    shared by the Python checks, which only read it: every candidate of every round is checked
    against the same old text."""
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _module_level_definitions(text: str) -> dict[tuple[str, str], list[int]]:
    """(name, function | class) -> lines, of the definitions made in the module's own body: one made
    in each branch of ``if sys.version_info ...: / else:`` or of a ``try``, or inside another
    function, replaces nothing (none when the text does not parse)."""
    tree = _python_tree(text)
    if tree is None:
        return {}
    found: dict[tuple[str, str], list[int]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            found.setdefault((node.name, kind), []).append(node.lineno)
    return found


def _definition_findings(path: str, old: str, new: str, language: str, instruction: str,
                         elsewhere: frozenset[tuple[str, str, str]] = frozenset(),
                         used_elsewhere: Callable[[str], bool] | None = None) -> list[Finding]:
    """Definitions replaced by a second one, and definitions gone that the instruction did not ask
    to take away. ``elsewhere``: (scope, name, kind) the proposal's other files define anew, where
    one gone from this file has moved; ``used_elsewhere``: whether another file uses a name (then
    a private helper the file stopped using is still removed from under it)."""
    before, after = _definitions(old, language), _definitions(new, language)
    findings = []
    if language in SHADOWING_LANGUAGES and "overload" not in new:
        had = _module_level_definitions(old)
        for (name, kind), lines in sorted(_module_level_definitions(new).items()):
            if len(lines) > max(1, len(had.get((name, kind), ()))):
                first, last = min(lines), max(lines)
                findings.append(Finding("duplicate-definition", "error", path,
                                        f"defines the {kind} {name} again at line {last}, replacing the one "
                                        f"at line {first}", last))
    lost = Counter({k: len(v) for k, v in before.items()}) - Counter({k: len(v) for k, v in after.items()})
    # still defined there as another kind (a function made a class), or moved to another file, where
    # the name alone counts (sphinx's "Extract ``_prepare_docstrings()``" made the method
    # Documenter._process_docstrings a function of a new module); where the old text did not parse,
    # where it was is a guess (a method whose indentation was lost reads as a function at the top
    # level), so the name alone counts there too
    old_broken = bool(lost) and (bool(syntax_errors(old, language))
                                 or (language == "python" and _python_tree(old) is None))
    made_elsewhere = {key[1] for key in elsewhere}
    lost = Counter({key: n for key, n in lost.items() if key[1] not in made_elsewhere
                    and not any(other[:2] == key[:2] or (old_broken and other[1] == key[1]) for other in after)})
    if not lost:
        return findings
    removal_asked = asks_for_removal(instruction)
    built_on, spelt = _names_to_remove(instruction)
    places = _python_places(old) if language == "python" else {}
    renamed_to = _python_renames(old, new) if language == "python" else {}
    drops_python = bool(_DROPS_PYTHON.search(instruction))
    deprecated = _python_deprecated(old) if language == "python" and _removes_deprecated(instruction) else frozenset()
    provided, new_bases = _python_class_methods(old, new) if language == "python" else ({}, {})
    helpers_gone = _helpers_gone_with_their_uses(old, new) if language == "python" else frozenset()
    visibility_asked = bool(_VISIBILITY_WORDS.search(instruction))
    in_tests = bool(_TEST_PATH.search(path))
    tests_reworked = in_tests and bool(_REWORKS_TESTS.search(instruction))
    tests_of_removed = _tests_using(old, built_on) if in_tests and language == "python" else frozenset()
    # tests this file or another file of the proposal adds (sphinx's "Split autodoc name parsing
    # utilities to a new module" moved test_parse_name into five tests of a new test module)
    new_tests = sorted({name for key in (set(after) - set(before)) | elsewhere
                        if in_tests and _is_test(name := key[1])})
    excused: set[str] = set()
    replaced_tests: set[str] = set()
    for scope, name, kind in sorted(lost, key=lambda key: (key[0].count(".") + bool(key[0]), key)):
        qualified = f"{scope}.{name}" if scope else name
        where = {places.get(line) for line in before[(scope, name, kind)]}
        if (re.search(rf"\b{re.escape(name)}\b", instruction) or removal_asked or scope in excused
                or any(word in loose_name(name) for word in built_on) or loose_name(name) in spelt
                or where == {"local"}  # part of its function's body, which may change
                or (drops_python and where == {"conditional"})  # the branch (or the test) for an old Python
                or any(line in deprecated for line in before[(scope, name, kind)])
                or name in provided.get(scope, ())  # made by @dataclass, or inherited from a class of the file
                or (visibility_asked and _renamed_for_visibility(scope, name, kind, after))
                or (tests_reworked and not _is_test(name))
                or (not scope and name in tests_of_removed)  # a test of what is asked away
                # a private helper whose last use went with it (last: it may search the repository)
                or (name in helpers_gone and not (used_elsewhere is not None and used_elsewhere(name)))):
            excused.add(qualified)  # a class asked away takes its methods with it
            continue
        if scope in new_bases and kind == "method":
            # tomlkit's "full methods of integer and float" made Float inherit _CustomFloat, defined elsewhere
            findings.append(Finding("removed-definition", "warning", path,
                                    f"removes the method {qualified}; the class now inherits from "
                                    f"{', '.join(new_bases[scope])}, which may define it"))
            continue
        line = min(before[(scope, name, kind)])
        if line in renamed_to:
            new_name = renamed_to[line]
            if _RENAME_WORD.search(instruction) and re.search(rf"\b{re.escape(new_name)}\b", instruction):
                continue  # renamed to the name asked, whatever the old one is called there ("Rename pipline()
                #          to compose_left()", toolz)
            # a test is collected, never imported; a private name or a test module's helper is nobody
            # else's, unless another module uses it all the same (a word search: a test's common name,
            # test_reset, is in many modules)
            harmless = (name.startswith("test") or (in_tests and _is_runner_name(new_name))
                        or ((name.startswith("_") or in_tests)
                            and not (used_elsewhere is not None and used_elsewhere(name))))
            findings.append(Finding("removed-definition", "warning" if harmless else "error", path,
                                    f"renames the {kind} {qualified} to {new_name}, the same code"
                                    + ("" if harmless else ", which the instruction did not ask for (whatever "
                                       f"imports or calls {name} elsewhere would break)")))
            continue
        if scope in replaced_tests:
            continue  # the class's finding speaks for it
        if new_tests and _is_test(name):
            # a test replaced by another ("Raise exception for invalid size" drops test_negative and
            # adds test_invalid_size): coverage the reviewer should see moved, not an error
            shown = ", ".join(new_tests[:3]) + (", ..." if len(new_tests) > 3 else "")
            findings.append(Finding("removed-definition", "warning", path,
                                    f"removes the test {qualified} and adds {shown}: check that what it "
                                    "tested is still tested"))
            replaced_tests.add(qualified)
            continue
        if tests_reworked and _is_test(name):
            findings.append(Finding("removed-definition", "warning", path,
                                    f"removes the test {qualified} while reworking the tests: check that what "
                                    "it tested is still tested"))
            replaced_tests.add(qualified)
            continue
        findings.append(Finding("removed-definition", "error", path,
                                f"removes the {kind} {qualified}, which the instruction did not ask for"))
    return findings


_RENAME_WORD = re.compile(r"\brenam(e|es|ed|ing)\b", re.IGNORECASE)
# An instruction that asks to make names private or public ("Make more of the internal handler
# helpers private"): a definition may then go where the same one by its name with a leading
# underscore added or taken away stays
_VISIBILITY_WORDS = re.compile(r"\b(private|public|privatis\w*|privatiz\w*|internal|expos(e|es|ed|ing))\b",
                               re.IGNORECASE)


def _renamed_for_visibility(scope: str, name: str, kind: str,
                            after: dict[tuple[str, str, str], list[int]]) -> bool:
    """Whether ``after`` defines the definition ``name`` as private (``_name``) or as public (``name``
    without its leading underscores), in the same scope and of the same kind."""
    return any((scope, other, kind) in after for other in ("_" + name, name.lstrip("_")) if other != name)


# Class decorators and bases that write a class's methods from its fields (dataclasses, attrs,
# typing, pydantic, msgspec): "Make Point a dataclass" takes its __init__ and __repr__ away
_GENERATING_DECORATORS = frozenset({"dataclass", "define", "frozen", "mutable", "attrs", "s", "dataclass_transform"})
_GENERATING_BASES = frozenset({"NamedTuple", "BaseModel", "Struct"})
_GENERATED_METHODS = frozenset({"__init__", "__repr__", "__eq__", "__ne__", "__hash__", "__lt__", "__le__",
                                "__gt__", "__ge__", "__setattr__", "__delattr__"})


def _python_class_methods(old: str, new: str) -> tuple[dict[str, frozenset[str]], dict[str, list[str]]]:
    """Of each class in ``new`` (by its qualified name): the methods it now has without writing them
    and did not before, made by a decorator or base that writes them (see _GENERATING_DECORATORS:
    "Make Point a dataclass") or inherited from a class of the file (a method pulled up into the
    base); and the bases it gained that the file does not define (they may define what it lost).
    An override deleted, whose base had the method all along, is still a method lost."""
    old_tree, new_tree = _python_tree(old), _python_tree(new)
    if old_tree is None or new_tree is None:
        return {}, {}

    def classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
        found: dict[str, ast.ClassDef] = {}

        def visit(body: list[ast.stmt], prefix: str) -> None:
            for node in body:
                if isinstance(node, ast.ClassDef):
                    found[prefix + node.name] = node
                    visit(node.body, f"{prefix}{node.name}.")
        visit(tree.body, "")
        return found

    def last_part(expr: ast.expr) -> str:
        expr = expr.func if isinstance(expr, ast.Call) else expr
        expr = expr.value if isinstance(expr, ast.Subscript) else expr
        return expr.attr if isinstance(expr, ast.Attribute) else expr.id if isinstance(expr, ast.Name) else ""

    def given(found: dict[str, ast.ClassDef]) -> dict[str, set[str]]:
        """Each class's methods it does not write: generated, or its bases' (those of the file)."""
        by_name = {node.name: node for node in found.values()}

        def inherited(node: ast.ClassDef, seen: frozenset[str]) -> set[str]:
            bases = [last_part(base) for base in node.bases]
            names = set(_GENERATED_METHODS) if (any(last_part(d) in _GENERATING_DECORATORS for d in node.decorator_list)
                                                or any(base in _GENERATING_BASES for base in bases)) else set()
            for base in bases:
                if base in by_name and base not in seen:
                    written = by_name[base].body
                    names |= {n.name for n in written if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
                    names |= {t.id for n in written if isinstance(n, ast.Assign) for t in n.targets
                              if isinstance(t, ast.Name)}
                    names |= inherited(by_name[base], seen | {base})
            return names
        return {name: inherited(node, frozenset({node.name})) for name, node in found.items()}

    now, before = classes(new_tree), classes(old_tree)
    had = given(before)
    provided = {name: frozenset(names - had.get(name, set())) for name, names in given(now).items()}
    gained = {}
    defined_here = {node.name for node in now.values()}
    for name, node in now.items():
        if name in before:
            old_bases = {last_part(base) for base in before[name].bases}
            gained[name] = [base for base in map(last_part, node.bases)
                            if base and base not in old_bases and base not in defined_here]
    return provided, {name: bases for name, bases in gained.items() if bases}


# A test module: where a definition named test... is a test pytest or unittest collects
_TEST_PATH = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*$|_tests?\.py$")
# An instruction that reworks the tests themselves ("Test restructuring", "Refactor test_crawl.py",
# "Migrate away from testfixtures", "Type tests involving items"): a test module's helpers, hooks
# (setup_class) and fixtures may go, and a test gone is for the reviewer to weigh. "Fix" is not
# such a word: a model asked to fix a failing test may not delete it. Words that are nouns as often
# as verbs count only as the first word ("Type tests ...", not "Add tests for the type check").
_REWORKS_TESTS = re.compile(r"^(?=.*\b(tests?|testing|test_\w+|\w+_tests?|testfixtures|fixtures?)\b)(?=.*\b("
                            r"refactor\w*|restructur\w*|reorgani[sz]\w*|rework\w*|migrat\w*|moderni[sz]\w*)\b"
                            r"|\W*(convert\w*|port(s|ed|ing)?|split\w*|mov(e|es|ed|ing)|typ(e|es|ed|ing))\b)",
                            re.IGNORECASE)


def _is_runner_name(name: str) -> bool:
    """Whether the test runner itself calls a definition named ``name``: a test, or one of pytest's
    setup and teardown hooks. A test module's method renamed to one is made for the runner ("Fix test
    method naming" made cachetools' ``methodkey`` ``test_methodkey``; "Fix pytest warnings" made
    responses' nose-style ``setup`` ``setup_method``), whatever else spells the old name."""
    return _is_test(name) or re.fullmatch(r"(setup|teardown)_(method|function|class|module)", name) is not None


def _is_test(name: str) -> bool:
    """Whether a definition of a test module named ``name`` is a test (or a class of them)."""
    return name.startswith(("test", "Test")) or name.endswith(("Test", "Tests"))


def _tests_using(old: str, built_on: Sequence[str]) -> frozenset[str]:
    """The tests at the top level of a test module (``old``) whose code uses a name built on one the
    instruction asks away (``built_on``, loose): cachetools' "Drop MRUCache" took MRUDecoratorTest,
    which tested ``cachetools.func.mru_cache``, away with it."""
    tree = _python_tree(old) if built_on else None
    if tree is None:
        return frozenset()
    return frozenset(
        node.name for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and _is_test(node.name)
        and any(word in loose_name(used) for used in _names_used(node) for word in built_on))


def _names_used(node: ast.AST) -> set[str]:
    """The names and attribute names ``node``'s code reads."""
    return {n.id if isinstance(n, ast.Name) else n.attr
            for n in ast.walk(node) if isinstance(n, (ast.Name, ast.Attribute))}


def _helpers_gone_with_their_uses(old: str, new: str) -> frozenset[str]:
    """The private names (``_helper``, ``self._takes_both``; not dunders) that ``old`` uses outside their
    own definitions and ``new`` uses nowhere: a helper whose every caller stopped calling it ("Simpler
    faster `ichunked`" inlines ``_ichunk``). Its underscore says nothing outside the module calls it, and
    the callers' changes are in the diff; a private helper the old file never called (another module may
    import it) still counts as removed."""
    old_tree, new_tree = _python_tree(old), _python_tree(new)
    if old_tree is None or new_tree is None:
        return frozenset()

    def private(name: str) -> bool:
        return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))

    def uses(tree: ast.Module) -> Iterator[tuple[str, int]]:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                yield node.id, node.lineno
            elif isinstance(node, ast.Attribute):
                yield node.attr, node.lineno
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and private(node.value):
                yield node.value, node.lineno  # getattr(self, "_helper"), __all__

    spans: dict[str, list[tuple[int, int]]] = {}
    for node in ast.walk(old_tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and private(node.name):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            spans.setdefault(node.name, []).append((first, node.end_lineno or node.lineno))
    called = {name for name, line in uses(old_tree)
              if name in spans and not any(first <= line <= last for first, last in spans[name])}
    return frozenset(called - {name for name, _ in uses(new_tree)})


def _python_places(text: str) -> dict[int, str]:
    """The line of each function and class definition -> where it is made: ``direct`` (in the
    module's or a class's own body), ``conditional`` (under an ``if``, ``try`` or other statement
    there: ``if sys.version_info < (3, 8): def ...``) or ``local`` (inside a function)."""
    tree = _python_tree(text)
    places: dict[int, str] = {}
    if tree is None:
        return places

    def visit(body: list[ast.stmt], place: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                # a test skipped on the Pythons of today runs only under a condition, as if under an ``if``
                gated = any(_skipped_by_python_version(decorator) for decorator in node.decorator_list)
                places[node.lineno] = "conditional" if gated and place == "direct" else place
                visit(node.body, places[node.lineno] if isinstance(node, ast.ClassDef) else "local")
            else:
                for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                    for child in getattr(node, field, None) or ():
                        # an except handler or match case holds its own body
                        visit(child.body if isinstance(child, (ast.ExceptHandler, ast.match_case)) else [child],
                              "local" if place == "local" else "conditional")

    visit(tree.body, "direct")
    return places


# A test skipped by the Python version: the condition of ``@skipIf(version_info[:2] >= (3, 9), ...)`` or
# ``@pytest.mark.skipif(PY_3_10_PLUS, ...)``; such a test goes when that Python's support does
_VERSION_CONDITION = re.compile(r"\bversion_info\b|\bsys\.version\b|(?<![A-Za-z0-9])PY(THON)?_?[23]", re.IGNORECASE)


def _skipped_by_python_version(decorator: ast.expr) -> bool:
    """Whether ``decorator`` skips (or runs only) its test by the Python version: a ``skip...(...)`` call
    whose condition, its first argument, speaks of the version (not its reason, "PY3 only")."""
    if not (isinstance(decorator, ast.Call) and decorator.args):
        return False
    func = decorator.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name.lower().startswith("skip") and bool(_VERSION_CONDITION.search(ast.unparse(decorator.args[0])))


_DEPRECATION = re.compile(r"deprecat", re.IGNORECASE)
_CONSTRUCTORS = frozenset({"__init__", "__new__", "__post_init__", "__init_subclass__"})


def _python_deprecated(text: str) -> frozenset[int]:
    """The lines of the definitions that are themselves deprecated: decorated ``@deprecated``, saying so
    in their docstring, or warning of it in their body's own statements, not under a condition (that
    is a deprecated argument or mode, not the function); a class whose constructor is deprecated; a
    test that expects the warning (``pytest.deprecated_call()``). "Remove deprecated extensions"
    points at them."""
    tree = _python_tree(text)
    if tree is None:
        return frozenset()

    def deprecated(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> bool:
        summary, *rest = (ast.get_docstring(node) or "").splitlines() or [""]
        # its summary line, or a line that starts with it (".. deprecated:: 3.1"), not "The x argument is deprecated"
        said = _DEPRECATION.search(summary) or any(re.match(r"\W*deprecated\b", line, re.IGNORECASE) for line in rest)
        if said or any(_DEPRECATION.search(ast.unparse(d)) for d in node.decorator_list):
            return True
        if isinstance(node, ast.ClassDef):
            return any(deprecated(child) for child in node.body
                       if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and child.name in _CONSTRUCTORS)
        if node.name.startswith("test"):
            return bool(_DEPRECATION.search(ast.unparse(node)))
        return any(isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)  # not the docstring
                   and _DEPRECATION.search(ast.unparse(statement)) for statement in node.body)

    return frozenset(node.lineno for node in ast.walk(tree)
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and deprecated(node))


def _removes_deprecated(instruction: str) -> bool:
    """Whether the instruction removes what is deprecated without naming it in code ("remove deprecated
    extensions", "Drop the deprecated legacy resolve mode"; not "Remove deprecated zip_equal", whose
    name says which)."""
    return (any(re.search(r"\bdeprecat", clause, re.IGNORECASE) for clause in _REMOVAL_CLAUSE.findall(instruction))
            and not _names_to_remove(instruction)[0])


def _python_renames(old: str, new: str) -> dict[int, str]:
    """Definitions of ``old`` whose code ``new`` holds under another name (a name ``old`` did not
    define): the line in ``old`` -> the new name. Code is the syntax tree of the body and the
    arguments, the docstring set aside."""
    old_tree, new_tree = _python_tree(old), _python_tree(new)
    if old_tree is None or new_tree is None:
        return {}

    def defs(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
        return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]

    def code(node: ast.AST) -> str:
        body = list(node.body)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        head = ast.dump(node.args) if not isinstance(node, ast.ClassDef) else ast.dump(ast.Tuple(node.bases))
        return type(node).__name__ + head + "".join(ast.dump(stmt) for stmt in body)

    old_names = {n.name for n in defs(old_tree)}
    fresh: dict[str, str] = {}
    for node in defs(new_tree):
        if node.name not in old_names:
            fresh.setdefault(code(node), node.name)
    return {n.lineno: fresh[code(n)] for n in defs(old_tree) if code(n) in fresh}


def _names_to_remove(instruction: str) -> tuple[list[str], list[str]]:
    """The names of code an instruction that removes or renames speaks of (``Remove pairwise()``,
    ``Remove deprecated zip_equal``, ``Replaced IteratorCounterWrapper``, ``rename `waituntil```):
    the definitions built on them (its tests, its private helper) may go with them. Only words
    written as code count (quoted, called, snake_case or camelCase), so that "Remove the print
    statements" does not excuse losing ``print_report``: (those names, loose), and beside them
    every run of two to four words joined, which counts only as a whole name ("revert iteration
    speed column" lets ``IterationSpeedColumn`` go)."""
    if not _REMOVAL_WORDS.search(instruction):
        return [], []
    quoted_or_called = re.findall(r"`([A-Za-z_]\w*)(?:\(\))?`|\b([A-Za-z_]\w*)\(\)", instruction)
    names = {a or b for a, b in quoted_or_called}
    words = re.findall(r"\b[A-Za-z_]\w*\b", instruction)
    # snake_case, camelCase, or an acronym leading a word ("Drop MRUCache"; "APIs" is a plural)
    names |= {word for word in words if "_" in word.strip("_") or re.search(r"[a-z][A-Z]|[A-Z]{2}[a-z]{2}", word)}
    loose = {loose_name(name) for name in names if name not in _BUILTIN_NAMES}
    spelt = {"".join(words[i:i + n]).lower() for n in (2, 3, 4) for i in range(len(words) - n + 1)}
    return sorted(name for name in loose if len(name) >= MIN_BUILT_ON_NAME), sorted(spelt)


def _selection_findings(path: str, old: str, new: str, selection: tuple[int, int] | None,
                        instruction: str, comment: re.Pattern | None = None,
                        moved_to: Counter[str] | None = None) -> list[Finding]:
    """Most of the selected lines (the whole file when nothing is selected) gone. ``comment``: the
    lines that hold only a comment, counted as blank (in a data file they hold no content);
    ``moved_to``: lines other files gain, where a line gone is kept (sphinx's "Split autodoc loader
    functions to a new module" took 460 lines of importer.py into a new module)."""
    def content(lines: list[str]) -> list[str]:
        return [line.strip() for line in lines if line.strip() and not (comment and comment.match(line))]

    old_lines = old.splitlines()
    start, end = selection or (1, len(old_lines))
    chosen = content(old_lines[start - 1:end])
    if len(chosen) < MIN_SELECTION_LINES or asks_to_shrink(instruction):
        return []
    new_content = content(new.splitlines())
    kept_by_content = Counter(new_content) + (moved_to or Counter())
    lost = 0
    for line in chosen:
        if kept_by_content[line] > 0:
            kept_by_content[line] -= 1
        else:
            lost += 1
    shrink = len(content(old_lines)) - len(new_content)
    if lost / len(chosen) <= REMOVED_SELECTION_SHARE or shrink < len(chosen) * REMOVED_SELECTION_SHARE:
        return []
    what = f"lines {start}-{end}" if selection else "the file"
    return [Finding("removed-selection", "error", path,
                    f"removes most of {what} ({lost} of {len(chosen)} non-blank lines gone, "
                    f"the file {shrink} lines shorter), which the instruction did not ask for", start)]


@functools.lru_cache(maxsize=16)
def _undefined_names(text: str) -> tuple[tuple[str, int], ...]:
    """(name, line) of every name pyflakes finds used but defined nowhere in ``text`` (Python that
    ast parses; else none). A module-level name only annotated (``original: Document``) that a
    function assigns under ``global`` is defined when that function runs; pyflakes keeps the
    annotation for it and calls its uses undefined (sphinx's "Ignore fewer Ty rules")."""
    from pyflakes.checker import Checker
    from pyflakes.messages import UndefinedName

    tree = _python_tree(text)
    if tree is None:
        return ()
    annotated = {node.target.id for node in tree.body
                 if isinstance(node, ast.AnnAssign) and node.value is None and isinstance(node.target, ast.Name)}
    made_global = {name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names} & annotated
    return tuple((m.message_args[0], m.lineno) for m in Checker(tree).messages
                 if isinstance(m, UndefinedName) and m.message_args[0] not in made_global)


@functools.lru_cache(maxsize=16)
def _identifiers(text: str) -> frozenset[str]:
    """Every name ``text`` uses or binds: variables, parameters, functions, classes (none when it
    does not parse)."""
    tree = _python_tree(text)
    if tree is None:
        return frozenset()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
    return frozenset(found)


def _undefined_name_findings(path: str, old: str, new: str) -> list[Finding]:
    """A finding for each name the new text uses undefined that the old text did not (once, at its
    first use): a name undefined before was the person's (a star import, a global made at run time).
    A name the old text had is one whose definition the change removed or renamed while leaving a
    use behind (a rename done in part); the message says so, and names the one new name when there
    is a single one, so the repair round and the person see the likely fix."""
    before = {name for name, _ in _undefined_names(old)}
    first: dict[str, int] = {}
    for name, line in _undefined_names(new):
        if name not in before:
            first.setdefault(name, line)
    if not first:
        return []
    had = _identifiers(old)
    appeared = sorted(_identifiers(new) - had)
    findings = []
    for name, line in first.items():
        message = f"uses the name {name} at line {line}, which the file neither defines nor imports"
        if name in had:
            message += " (the change removed or renamed what defined it"
            message += f"; if it became {appeared[0]}, this use must change too)" if len(appeared) == 1 else ")"
        findings.append(Finding("undefined-name", "error", path, message, line))
    return findings


# Statements that neither return nor branch: a function's body runs on past them
_PLAIN_STATEMENTS = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign)
# Builtins that only read their arguments: they change nothing, not even an iterator's place
_READING_BUILTINS = frozenset({"isinstance", "issubclass", "len", "type", "callable", "hasattr", "id", "abs",
                               "repr", "bool", "int", "float", "ord", "chr", "hash", "str"})
# Expressions whose evaluation changes nothing, apart from the calls and ``in`` tests _changes_nothing reads
_READING_NODES = (ast.Constant, ast.Name, ast.Attribute, ast.Subscript, ast.Slice, ast.Compare, ast.BoolOp,
                  ast.UnaryOp, ast.BinOp, ast.Tuple, ast.List, ast.Set, ast.JoinedStr, ast.FormattedValue, ast.IfExp,
                  ast.keyword, ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _parameter_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, ...]:
    """Every parameter of ``function``, in order: positional, keyword-only, ``*args`` and ``**kwargs``."""
    arguments = function.args
    return tuple(a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg,
                                 arguments.kwarg) if a is not None)


def _own_nodes(function: ast.AST, definitions: bool = False) -> Iterator[ast.AST]:
    """The nodes of ``function``'s own body, not of the functions and classes defined in it (with
    ``definitions``, the ``def`` and ``class`` nodes themselves, not what is inside them: each binds
    its name here)."""
    for child in ast.iter_child_nodes(function):
        if not isinstance(child, _SCOPES):
            yield child
            yield from _own_nodes(child, definitions)
        elif definitions:
            yield child


def _bindings(nodes: Iterable[ast.AST]) -> Counter[str]:
    """How many times each name is bound among ``nodes``: defined, assigned, deleted, imported, caught
    (``except E as name``) or captured by a ``match``. A name declared global or nonlocal counts as
    bound many times: it is bound elsewhere too."""
    bound: Counter[str] = Counter()
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound[node.id] += 1
        elif isinstance(node, ast.alias):
            bound[(node.asname or node.name).split(".")[0]] += 1
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update({name: 2 ** 16 for name in node.names})
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound[node.name] += 1
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            bound[node.name] += 1
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound[node.rest] += 1
    return bound


def _changes_nothing(node: ast.AST, bound: Counter[str]) -> bool:
    """Whether evaluating ``node`` surely changes nothing: names, constants, attribute and item reads,
    comparisons, arithmetic and the reading builtins (bound nowhere in the file). ``x in y`` only of a
    literal: ``in`` of an iterator consumes it."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Call):
            if not (isinstance(inner.func, ast.Name) and inner.func.id in _READING_BUILTINS
                    and not bound[inner.func.id]):
                return False
        elif isinstance(inner, ast.Compare):
            if any(isinstance(op, (ast.In, ast.NotIn)) and not isinstance(right, (ast.Constant, ast.Tuple, ast.List,
                                                                                   ast.Set))
                   for op, right in zip(inner.ops, inner.comparators)):
                return False
        elif not isinstance(inner, _READING_NODES):
            return False
    return True


def _binds_only_locals(statement: ast.stmt, bound: Counter[str], parameters: set[str]) -> bool:
    """Whether ``statement`` changes nothing but local names other than the parameters: a docstring,
    an assert or an assignment of what changes nothing."""
    if isinstance(statement, ast.Expr):
        return isinstance(statement.value, ast.Constant)
    if isinstance(statement, ast.Assert):
        return _changes_nothing(statement.test, bound) and (statement.msg is None
                                                            or _changes_nothing(statement.msg, bound))
    if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return (all(isinstance(target, ast.Name) and target.id not in parameters for target in targets)
                and _changes_nothing(statement.value, bound))
    return False


def _leaves_or_goes_on_unchanged(statement: ast.stmt, bound: Counter[str], parameters: set[str]) -> bool:
    """Whether every way through ``statement`` either leaves the function (returns or raises) or goes
    on to what follows with nothing changed but local names: an ``if`` without ``else`` whose test
    changes nothing and whose body ends by returning or raising (``if isinstance(items, list): return
    items[:]``), or a ``try`` that only binds locals and whose every clause returns or raises."""
    if any(isinstance(inner, (ast.Break, ast.Continue)) for inner in ast.walk(statement)):
        return False
    if isinstance(statement, ast.If):
        return (not statement.orelse and isinstance(statement.body[-1], (ast.Return, ast.Raise))
                and _changes_nothing(statement.test, bound))
    return (isinstance(statement, ast.Try) and not statement.orelse and not statement.finalbody
            and all(_binds_only_locals(inner, bound, parameters) for inner in statement.body)
            and all(isinstance(handler.body[-1], (ast.Return, ast.Raise)) for handler in statement.handlers))


def _passes_its_own_arguments(call: ast.Call, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether ``call`` gives ``function`` each of its parameters as the function got it, and nothing
    else (``_copy_items(items)`` in ``def _copy_items(items)``)."""
    arguments = function.args
    positional = [a.arg for a in arguments.posonlyargs + arguments.args]
    if (arguments.vararg or arguments.kwarg or len(call.args) > len(positional)
            or any(isinstance(a, ast.Starred) for a in call.args)):
        return False
    given = dict(zip(positional, call.args))
    for keyword in call.keywords:
        if keyword.arg is None or keyword.arg in given:
            return False
        given[keyword.arg] = keyword.value
    return set(given) == {*positional, *(a.arg for a in arguments.kwonlyargs)} and all(
        isinstance(value, ast.Name) and value.id == parameter for parameter, value in given.items())


@functools.lru_cache(maxsize=16)
def _endless_recursions(text: str) -> tuple[tuple[str, int, bool], ...]:
    """Functions that surely call themselves again whenever they get that far: (name, the line of the
    call, whether guards that may return come first). Either the call comes before anything can
    return (``def escape(s, quote=True): return escape(s, quote=True) + "&#x60;"``), or it comes past
    guards that change nothing and passes the function's own arguments as it got them
    (``if isinstance(items, list): return items[:]`` then ``return _copy_items(items)``): a call that
    gets past the guards meets them again unchanged. Either way each such call recurses until
    RecursionError. Only what surely binds the name to the function itself counts: not a method
    (there a bare name is the module's), not a decorated function (a dispatcher or cache may stand
    behind the name), not a name bound anywhere else in the file. Cached: every candidate's check
    reads the same old text."""
    tree = _python_tree(text)
    if tree is None:
        return ()
    bound = _bindings(ast.walk(tree))  # a name bound once by its def surely is that function
    found: dict[str, tuple[int, bool]] = {}

    def calls_itself(node: ast.AST, function: ast.FunctionDef | ast.AsyncFunctionDef, runs_by: type | None,
                     as_called: bool, under: ast.AST | None = None) -> int | None:
        """The line of a call of ``function`` that surely runs when ``node`` runs (``as_called``: one
        that passes the function's own arguments). ``runs_by``: what must hold the call for its body
        to run too (``yield from`` in a generator, ``await`` in a coroutine function, where a bare
        call only makes the generator or the coroutine)."""
        if isinstance(node, (ast.Lambda, ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp,
                             ast.IfExp, ast.BoolOp)):
            return None  # runs later, or maybe not at all
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == function.name
                and (runs_by is None or isinstance(under, runs_by))
                and (not as_called or _passes_its_own_arguments(node, function))):
            return node.lineno
        return next((line for child in ast.iter_child_nodes(node)
                     if (line := calls_itself(child, function, runs_by, as_called, node))), None)

    def visit(node: ast.AST, in_class: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                parameters = set(_parameter_names(child))
                generator = any(isinstance(inner, (ast.Yield, ast.YieldFrom)) for inner in _own_nodes(child))
                runs_by = ast.YieldFrom if generator else ast.Await if isinstance(child, ast.AsyncFunctionDef) else None
                if not (in_class or child.decorator_list or bound[child.name] > 1 or child.name in parameters
                        or (generator and isinstance(child, ast.AsyncFunctionDef))):
                    unchanged = True  # nothing run so far has changed anything but local names
                    guarded = False  # something run so far may have returned
                    for statement in _else_unfolded(child.body):  # up to the first that may return or branch
                        if not guarded and _raises_or_goes_on(statement):  # ``if not 1 <= month: raise ...``
                            runs, changes_nothing = statement.test, _changes_nothing(statement.test, bound)
                        elif unchanged and _leaves_or_goes_on_unchanged(statement, bound, parameters):
                            guarded = True
                            continue
                        elif isinstance(statement, (*_PLAIN_STATEMENTS, ast.Assert, ast.Return)):
                            runs, changes_nothing = statement, _binds_only_locals(statement, bound, parameters)
                        else:
                            break
                        if line := calls_itself(runs, child, runs_by, as_called=guarded):
                            found[child.name] = (line, guarded)
                            break
                        unchanged = unchanged and changes_nothing
                        if isinstance(statement, ast.Return) or (guarded and not unchanged):
                            break
                visit(child, False)
            else:
                visit(child, isinstance(child, ast.ClassDef) or in_class)

    visit(tree, False)
    return tuple((name, line, guarded) for name, (line, guarded) in found.items())


def _else_unfolded(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """``body`` with each ``if`` whose body ends by returning or raising and that has an ``else`` read
    as the ``if`` alone followed by the ``else``'s statements, which is what it does: the embedded
    model answered "Return early with the pathname unchanged when it is empty" (glob.escape) with
    ``if len(pathname) == 0: return pathname`` ``else: return escape(pathname) + ...``."""
    for statement in body:
        if isinstance(statement, ast.If) and statement.orelse and isinstance(statement.body[-1], (ast.Return,
                                                                                                  ast.Raise)):
            yield ast.copy_location(ast.If(test=statement.test, body=statement.body, orelse=[]), statement)
            yield from _else_unfolded(statement.orelse)
        else:
            yield statement


def _raises_or_goes_on(statement: ast.stmt) -> bool:
    """Whether ``statement`` is an ``if`` without ``else`` whose body ends by raising, with nothing in it
    that could return or leave a loop: every way through it either raises or goes on to what follows."""
    return (isinstance(statement, ast.If) and not statement.orelse and isinstance(statement.body[-1], ast.Raise)
            and all(isinstance(inner, (*_PLAIN_STATEMENTS, ast.Raise)) for inner in statement.body))


def _endless_recursion_findings(path: str, old: str, new: str) -> list[Finding]:
    """A finding for each function the change makes call itself before anything else (see
    _endless_recursions); one that did so before is the person's."""
    before = {name for name, _, _ in _endless_recursions(old)}
    return [Finding("endless-recursion", "error", path,
                    f"makes the function {name} call itself with the arguments it was given at line {line}, past "
                    "checks that change nothing: a call that gets that far meets them again and would recurse "
                    "until RecursionError" if guarded else
                    f"makes the function {name} call itself at line {line} before it can return: every call "
                    "would recurse until RecursionError", line)
            for name, line, guarded in _endless_recursions(new) if name not in before]


@functools.lru_cache(maxsize=16)
def _unbound_in_handlers(text: str) -> tuple[tuple[str, int, int], ...]:
    """Local names read in an ``except`` clause that only the last statement of its ``try`` binds:
    (name, the line of the first read, the line of the binding). Whatever the clause caught was
    raised before that binding was made, so every read there raises UnboundLocalError (``try: size =
    len(iterable)`` / ``except TypeError: return islice(iterable, size - n)``). Not in a loop, where an
    earlier round may have bound the name. Cached like _endless_recursions."""
    tree = _python_tree(text)
    if tree is None:
        return ()
    found: list[tuple[str, int, int]] = []

    def tries(node: ast.AST, in_loop: bool = False) -> Iterator[ast.Try | ast.TryStar]:
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, _SCOPES):
                if isinstance(child, (ast.Try, ast.TryStar)) and not in_loop:
                    yield child
                yield from tries(child, in_loop or isinstance(child, (ast.For, ast.AsyncFor, ast.While)))

    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        bound = _bindings(_own_nodes(function, definitions=True))  # a walrus in a comprehension binds here too
        parameters = set(_parameter_names(function))
        for statement in tries(function):
            last = statement.body[-1]
            if not isinstance(last, (ast.Assign, ast.AnnAssign)) or last.value is None:
                continue
            targets = last.targets if isinstance(last, ast.Assign) else [last.target]
            here = Counter(node.id for target in targets for node in ast.walk(target)
                           if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store))
            for name, times in here.items():
                if name in parameters or bound[name] != times:
                    continue  # bound before the try too, or elsewhere
                reads = [node.lineno for handler in statement.handlers for node in _own_nodes(handler)
                         if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)]
                if reads:
                    found.append((name, min(reads), last.lineno))
    return tuple(found)


def _unbound_name_findings(path: str, old: str, new: str) -> list[Finding]:
    """A finding for each name the change makes an ``except`` clause read unbound (see
    _unbound_in_handlers); one read so before is the person's."""
    before = {name for name, _, _ in _unbound_in_handlers(old)}
    return [Finding("unbound-name", "error", path,
                    f"reads {name} at line {line} in an except clause, but only the try's last statement (line "
                    f"{bound_at}) binds it: whatever the clause caught was raised before that, so {name} is "
                    "unbound there (UnboundLocalError)", line)
            for name, line, bound_at in _unbound_in_handlers(new) if name not in before]


# What makes a parameter the function no longer reads something the person asked for
# (a feature removed, a deprecated argument kept for compatibility)
_IGNORING_WORDS = re.compile(r"\b(remov\w*|delet\w*|drop\w*|get rid|ignor\w*|unused|deprecat\w*|compat\w*|"
                             r"no-?op|stubs?|no longer|unneeded|unnecessary|redundant)\b", re.IGNORECASE)


@functools.lru_cache(maxsize=16)
def _parameters_read(text: str) -> tuple[tuple[str, int, tuple[str, ...], frozenset[str]], ...] | None:
    """For each plain function of ``text`` (defined once at the top level, undecorated): its name,
    the line of its ``def``, its parameters, and those it reads (a function nested in it counts: it
    reads the parameter when it runs; one that calls ``locals()`` or ``vars()`` reads them all).
    None when ``text`` does not parse. Methods and decorated functions are left out: an override,
    a callback or a registered handler takes what its caller passes, used or not."""
    tree = _python_tree(text)
    if tree is None:
        return None
    found: list[tuple[str, int, tuple[str, ...], frozenset[str]]] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.decorator_list:
            parameters = _parameter_names(node)
            names = [inner for inner in ast.walk(node) if isinstance(inner, ast.Name)]
            every = any(name.id in ("locals", "vars") for name in names)
            read = {name.id for name in names if not isinstance(name.ctx, ast.Store)}
            found.append((node.name, node.lineno, parameters, frozenset(p for p in parameters if every or p in read)))
    defined = Counter(name for name, _, _, _ in found)
    return tuple(function for function in found if defined[function[0]] == 1)


def _unused_parameter_findings(path: str, old: str, new: str, instruction: str) -> list[Finding]:
    """A finding for each parameter a plain function (see _parameters_read) read before the change
    and still takes, but no longer reads: the embedded model's rewrites of ``needsquoting(c,
    quotetabs, header)`` kept the signature and dropped the branch that read ``quotetabs``. Only
    where the parameters are the same names in the same order: a signature changed is an interface
    reworked on purpose (pipx's ``_unpack`` gained ``digest`` and stopped reading ``download_link``).
    Not in a test module (a pytest fixture left unused is harmless), nor when the instruction names
    the parameter or asks for a removal or for what may ignore it."""
    if _TEST_PATH.search(path) or _IGNORING_WORDS.search(instruction):
        return []
    before, after = _parameters_read(old), _parameters_read(new)
    if not before or not after:
        return []
    had = {name: (parameters, read) for name, _, parameters, read in before}
    return [Finding("unused-parameter", "error", path,
                    f"makes {function} (line {line}) ignore its parameter {parameter}: the function still takes "
                    "it but no longer reads it (if it is no longer needed, say so in the instruction)", line)
            for function, line, parameters, read in after if had.get(function, ((), ()))[0] == parameters
            for parameter in parameters if parameter in had[function][1] and parameter not in read
            and not re.search(rf"\b{re.escape(parameter)}\b", instruction)]


# An instruction that asks for one thing more of a function: "Return early ...", "Raise ... when ...", "Also ...".
ASKS_ONE_THING_MORE = re.compile(r"\s*(return|raise|also)\b", re.IGNORECASE)
LEAST_REWRITTEN_LINES = 4  # a function with fewer lines of code may rightly be written anew for one more thing


def _rewritten_function_findings(path: str, old: str, new: str, instruction: str) -> list[Finding]:
    """A function (or method) none of whose lines of code is left, when the instruction asks it for one
    thing more (ASKS_ONE_THING_MORE) and no shrinking: the embedded model answered "Return early with the
    pathname unchanged when it is empty" (glob.escape) and "Raise for negative tail sizes on sized
    iterables" (recipes.tail) with bodies written anew, which compiled and did something else. Of
    the real commits whose subject begins so, only tests are rewritten so, and a test module is
    not judged."""
    if not ASKS_ONE_THING_MORE.match(instruction) or asks_to_shrink(instruction) or _TEST_PATH.search(path):
        return []
    before, after = _code_lines_by_function(old), _code_lines_by_function(new)
    findings = []
    for name, (line, code) in before.items():
        if len(code) < LEAST_REWRITTEN_LINES or name not in after or name.rpartition(".")[2].startswith("test"):
            continue
        if not Counter(code) & Counter(after[name][1]):
            findings.append(Finding(
                "rewritten-function", "error", path,
                f"writes {name} anew: none of its {len(code)} lines of code is left, although the instruction asks "
                "for one thing more: keep what it did and add what was asked (to rewrite it, say so)",
                after[name][0]))
    return findings


@functools.lru_cache(maxsize=16)
def _code_lines_by_function(text: str) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Qualified name (``Class.method``) -> (line, its code's lines stripped, docstring and comments aside)
    of each function of the module and its classes (not those defined inside a function). Empty when
    the text does not parse."""
    tree = _python_tree(text)
    lines = text.splitlines()
    found: dict[str, tuple[int, tuple[str, ...]]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = child.body[1:] if is_docstring(child.body[0]) else child.body
                code = tuple(stripped for statement in body
                             for text_line in lines[statement.lineno - 1:statement.end_lineno]
                             if (stripped := text_line.strip()) and not stripped.startswith("#"))
                found[prefix + child.name] = (child.lineno, code)
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    if tree is not None:
        visit(tree, "")
    return found


# What makes the examples of a docstring something the instruction may take out or rework.
_EXAMPLE_WORDS = re.compile(r"\b(examples?|doctests?|docstrings?|docs?|documentation|usage|demos?)\b", re.IGNORECASE)


def _removed_example_findings(path: str, old: str, new: str, instruction: str) -> list[Finding]:
    """A definition still there whose docstring had examples (``>>>`` lines) and has none left, when
    the instruction does not speak of examples or documentation: the embedded model answered
    "Simplify and speed up nth_permutation" and "Document suggested method to unique-ify
    `duplicates_everseen` output" with docstrings cut to a line. The examples are the function's
    doctests as much as its documentation. Only all of them gone: real commits rework an example
    under a rename or a changed result about one time in fifty, and leave a definition with none
    about one time in six hundred. Where the instruction asks for one thing more ("Raise a clear
    ValueError for negative n in chunked()"), what was there still holds, so fewer examples than
    before is a loss too (the model's answer dropped one of chunked's two)."""
    if _EXAMPLE_WORDS.search(instruction):
        return []
    one_thing_more = bool(ASKS_ONE_THING_MORE.match(instruction)) and not asks_to_shrink(instruction)
    before, after = _docstring_examples(old), _docstring_examples(new)
    findings = []
    for name, (_, examples) in before.items():
        if not examples or name not in after:
            continue
        left = after[name][1]
        if not left:
            shown = examples[0][:60]
            more = f" and {len(examples) - 1} more" if len(examples) > 1 else ""
            findings.append(Finding(
                "removed-example", "error", path,
                f"takes every example out of the docstring of {name} (`{shown}`{more}), which the "
                "instruction did not ask for: they document and test (doctest) what it does; keep them, "
                "or change them to what it does now", after[name][0]))
        elif one_thing_more and len(left) < len(examples):
            gone = list(Counter(examples) - Counter(left))  # not empty: fewer are left
            findings.append(Finding(
                "removed-example", "error", path,
                f"takes the example `{gone[0][:60]}` out of the docstring of {name}, although the instruction "
                "asks for one thing more: what the examples show should still hold; keep them", after[name][0]))
    return findings


def _example_count(text: str) -> int:
    return sum(len(examples) for _, examples in _docstring_examples(text).values())


@functools.lru_cache(maxsize=16)
def _docstring_examples(text: str) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Qualified name (``Class.method``; the module is ``<module>``) -> (line, the ``>>>`` lines of
    its docstring, stripped) of the module and each function and class not defined inside a
    function. Empty when the text does not parse."""
    tree = _python_tree(text)
    found: dict[str, tuple[int, tuple[str, ...]]] = {}

    def examples(node: ast.AST) -> tuple[str, ...]:
        doc = ast.get_docstring(node, clean=True) or ""  # type: ignore[arg-type]
        return tuple(line.strip() for line in doc.splitlines() if line.strip().startswith(">>>"))

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found[prefix + child.name] = (child.lineno, examples(child))
                if isinstance(child, ast.ClassDef):
                    visit(child, f"{prefix}{child.name}.")

    if tree is not None:
        found["<module>"] = (1, examples(tree))
        visit(tree, "")
    return found


# What makes top-level code that runs at import something the person asked for.
_RUNNING_WORDS = re.compile(r"\b(print\w*|assert\w*|examples?|usage|demo\w*|tests?|testing|doctests?|calls?|"
                            r"run|runs|running|script|main|__main__|log\w*|import time|on import)\b", re.IGNORECASE)


def _example_statements(tree: ast.Module) -> list[ast.stmt]:
    """Top-level statements that run at import and are a usage example's shape: ``print(...)``,
    ``assert ...``, or a call of a function or class the module itself defines."""
    own = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    found = []
    for statement in tree.body:
        if isinstance(statement, ast.Assert):
            found.append(statement)
        elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            func = statement.value.func
            called = func.id if isinstance(func, ast.Name) else ""
            if called == "print" or called in own:
                found.append(statement)
    return found


def _import_time_findings(path: str, old: str, new: str, instruction: str) -> list[Finding]:
    """Usage-example code added at the top level of a module that had none (a script that already
    prints or asserts at top level may get more), when the instruction does not ask for it."""
    before, after = _python_tree(old), _python_tree(new)
    if before is None or after is None:
        return []
    if _example_statements(before) or _RUNNING_WORDS.search(instruction):
        return []
    added = _example_statements(after)
    if not added:
        return []
    first = added[0]
    shown = ast.unparse(first).splitlines()[0][:80]
    more = f" and {len(added) - 1} more" if len(added) > 1 else ""
    return [Finding("import-time-code", "error", path,
                    f"adds code that runs whenever the module is imported (line {first.lineno}: {shown}{more}), "
                    f"which the instruction did not ask for; an example belongs under "
                    f"`if __name__ == \"__main__\":` or in a test", first.lineno)]


# Where the code builds the documentation (Sphinx's conf.py, an extension): documentation work may change it.
_DOCS_PATH = re.compile(r"(^|/)docs?/")


def _scope_findings(path: str, old: str, new: str, instruction: str) -> list[Finding]:
    """The code changed beyond what an instruction asking only for documentation or a rename allows
    (not in a documentation folder when documentation is asked: "DOCS: re-activate code cells"
    changes the Sphinx extensions that docs/conf.py lists)."""
    scope = read_scope(instruction)
    if scope is None or (scope.kind != "rename" and _DOCS_PATH.search(path)):
        return []
    line = scope_difference(old, new, scope)
    if line is None:
        return []
    shown = _quoted_line(new, line)
    where = f" at line {line}{shown}" if shown else ""
    return [Finding("out-of-scope", "error", path,
                    f"changes the code{where}, although the instruction asks only for {scope.describe()}: "
                    f"the rest must stay as it was (to change more, say so in the instruction)", line or None)]


_TEST_WORDS = re.compile(r"\b(tests?|testing|doctests?)\b", re.IGNORECASE)
# What asks for a change of layout, which leaves the syntax tree as it was.
_LAYOUT_WORDS = re.compile(r"\b(\w*style|parens?|parenthes[ie]s|brackets?|spac(e|es|ing)|whitespace|indent\w*|"
                           r"line[ -]?lengths?|long lines?|line breaks?|wrap\w*|trailing|pep ?8|flake8|"
                           r"pycodestyle|lint\w*|format\w*|black|ruff)\b", re.IGNORECASE)


def _not_done_findings(changes: Sequence[tuple[str, str | None, str]], instruction: str) -> list[Finding]:
    """The proposal does not make the kind of change asked, in any of its Python files: documentation
    asked (read_scope) and a kind it names (type hints; docstrings or comments) changed nowhere; or
    code asked (asks_for_code) and only docstrings and comments changed. The embedded model's
    commonest answers of both shapes reword a docstring instead."""
    python = [(path, old, new) for path, old, new in changes if old and _parsed_language(path) == "python"
              and _python_tree(old) is not None and _python_tree(new) is not None]
    if not python:
        return []
    path = python[0][0]
    scope = read_scope(instruction)
    if scope is not None and scope.kind == "rename":
        return _rename_not_made(changes, scope)
    if scope is not None:
        changed = frozenset().union(*(documentation_changed(old, new) for _, old, new in python))
        missing = [kind for kind in asked_documentation(instruction) if kind not in changed]
        return [Finding("not-done", "error", path, f"changes no {missing[0]}, although the instruction asks for "
                                                   "them: make the change asked")] if missing else []
    if not asks_for_code(instruction) or len(python) < len(changes) or not all(
            prose_only(old, new) for _, old, new in python):
        return []
    if _LAYOUT_WORDS.search(instruction) and any(layout_changed(old, new) for _, old, new in python):
        return []  # "Remove redundant parentheses", "Fix line lengths": done in the code's layout
    if _TEST_WORDS.search(instruction) and any(_example_count(new) > _example_count(old) for _, old, new in python):
        return []  # "filesize: add two tests" (humanize) added two doctests, which run as tests do
    if any(tool_comments_changed(old, new) for _, old, new in python):
        return []  # "Add ignore for cyclomatic complexity check." (isort): a comment a linter reads
    if _REMOVAL_WORDS.search(instruction) and any(commented_code_removed(old, new) for _, old, new in python):
        return []  # "Remove debug prints." (isort) took out prints that were commented out
    return [Finding("not-done", "error", path, "changes only docstrings and comments, although the instruction "
                                               "asks for a change to the code")]


def _terms_not_written(changes: Sequence[tuple[str, str | None, str]], instruction: str) -> list[Finding]:
    """The code the instruction spells out (``Use `.. deprecated::```, ``with 'from None'``) written in
    no changed file (:mod:`amigo.named_terms`): the embedded model answered "Also replace backticks
    with &#x60; when quote is true" by rewording the docstring and dropping the double-quote line."""
    spelt = named_terms.unwritten(changes, instruction)
    if not spelt:
        return []
    shown = ", ".join(f"`{term}`" for term in spelt[:MAX_KEYS_NAMED])
    what = f"does not write {shown}" if len(spelt) == 1 else f"writes none of {shown}"
    path = next((path for path, old, _ in changes if old), changes[0][0])
    return [Finding("not-done", "error", path, f"{what}, which the instruction spells out: make the change asked "
                                               "(if the code must spell it otherwise, say so in the instruction)")]


# "Raise a ValueError when year is negative", "Replace the assert with a TypeError if c is not bytes"
ASKS_TO_RAISE_WHEN = re.compile(r"\b(?i:raise|with)\s+(?:(?i:a|an|the)\s+)?(?:[a-z]+\s+)?"
                                r"(?P<exception>[A-Z]\w*(?:Error|Exception))"
                                r"\s+(?:when|if|whenever)\s+(?:the\s+)?(?:(?:parameter|argument|variable)\s+)?`?"
                                r"(?P<name>[A-Za-z_]\w*)`?\s+(?:is|are|has|have|does|do|exceeds|isn't|aren't)\b")


def _raise_not_where_asked(changes: Sequence[tuple[str, str | None, str]], instruction: str) -> list[Finding]:
    """The exception asked for when a name is something ("Raise a ValueError when year is negative")
    raised by the change, but under no test that reads the name, in a Python file whose old code read
    it: the embedded model put ``raise ValueError(...)`` in place of calendar.monthrange's check of
    the month, which year never reaches. A raise the old code already had under such a test is enough."""
    asked = ASKS_TO_RAISE_WHEN.search(instruction)
    if asked is None:
        return []
    exception, name = asked.group("exception"), asked.group("name")
    for path, old, new in changes:
        old_tree, new_tree = (_python_tree(text) if old and _parsed_language(path) == "python" else None
                              for text in (old, new))
        if old_tree is None or new_tree is None or name not in _names_read(old_tree):
            continue
        old_raises, new_raises = _raises(old_tree, exception, name), _raises(new_tree, exception, name)
        added = len(new_raises) - len(old_raises)
        if added > 0 and not any(guarded for _, guarded in new_raises):
            line = new_raises[-1][0]
            condition = re.split(r"[.;,!?](?:\s|$)", instruction[asked.start("name"):], maxsplit=1)[0].rstrip(".")
            return [Finding("not-done", "error", path, f"raises {exception} at line {line} under no test of {name}, "
                                                       f"although the instruction asks for it when "
                                                       f"{condition.replace('`', '')}: make the change asked", line)]
    return []


# The hints an instruction spells out: "Add type hints: s is bytes | str and the function returns
# bytes", "text is str, width is int, and it returns str", "(s: str, amount: int) -> str".
_ASKS_HINTS = re.compile(r"\btype[ -]hint\w*|\bannotat\w*", re.IGNORECASE)
_HINT_NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?:\[[\w.\[\], |]*\])?"
_HINT = rf"`?(?P<hint>{_HINT_NAME}(?:\s*\|\s*{_HINT_NAME})*)`?"
_HINT_LISTED = re.compile(rf"(?:^|[(,;:]|\band)\s*`?(?P<name>[A-Za-z_]\w*)`?(?:\s+is|\s*:)\s+(?:an?\s+)?{_HINT}")
_HINT_AS = re.compile(rf"^\s*`?(?P<name>[A-Za-z_]\w*)`?\s+as\s+(?:an?\s+)?{_HINT}")
_HINT_RETURNS = re.compile(rf"(?:\breturns|->)\s*(?:an?\s+)?{_HINT}")


def _hints_asked(instruction: str) -> tuple[dict[str, str], str | None]:
    """The parameter hints (name -> hint) and the return hint that an instruction asking for type hints
    spells out after saying so: a list after a colon ("Add type hints: s is bytes | str and the
    function returns bytes"), a signature ("type hints (s: str, amount: int) -> str") or one name
    ("Annotate `fileobj` as `IO[bytes]`"). A sentence that only mentions hints ("More specific type hint
    when obj is None") spells none."""
    asked = _ASKS_HINTS.search(instruction)
    if asked is None:
        return {}, None
    rest = instruction[asked.end():]
    listed = rest.lstrip().startswith((":", "("))
    parameters = {m.group("name"): m.group("hint") for m in _HINT_LISTED.finditer(rest) if listed}
    if (named := _HINT_AS.match(rest)) is not None:
        parameters[named.group("name")] = named.group("hint")
    returned = next((m.group("hint") for m in _HINT_RETURNS.finditer(rest)), None) if listed else None
    return parameters, returned


def _hint_key(hint: str) -> frozenset[str] | None:
    """A hint as a set of its union's members, each as Python writes it (``str | None`` is
    ``Optional[str]``; ``typing.`` and quotes aside), so that order and spelling do not count."""
    try:
        tree = ast.parse(hint.strip().strip("'\""), mode="eval").body
    except SyntaxError:
        return None
    members: list[ast.expr] = []

    def spread(node: ast.expr) -> None:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            spread(node.left)
            spread(node.right)
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value).removeprefix("typing.") in ("Union",
                                                                                                 "Optional"):
            inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            for element in inner:
                spread(element)
            if ast.unparse(node.value).endswith("Optional"):
                members.append(ast.Constant(None))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            spread(ast.parse(node.value, mode="eval").body)
        else:
            members.append(node)

    try:
        spread(tree)
    except SyntaxError:
        return None
    return frozenset(ast.unparse(member).replace("typing.", "") for member in members)


def _hints_not_as_asked(changes: Sequence[tuple[str, str | None, str]], instruction: str) -> list[Finding]:
    """A hint the instruction spells out ("s is bytes | str") written otherwise: the embedded model
    annotated ``s: bytes``. Judged on the functions of the changed Python files whose hints the change
    made or changed; a name the instruction gives a hint that no such function takes is left alone."""
    parameters, returned = _hints_asked(instruction)
    if not parameters and returned is None:
        return []
    for path, old, new in changes:
        before, after = (_python_tree(text) if text and _parsed_language(path) == "python" else None
                         for text in (old, new))
        if before is None or after is None:
            continue
        had = {_signature(node) for node in ast.walk(before)
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for node in ast.walk(after):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or _signature(node) in had:
                continue
            written = [(a.arg, a.annotation) for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)]
            asked = [(name, ast.unparse(hint), parameters[name]) for name, hint in written
                     if hint is not None and name in parameters]
            if returned is not None and node.returns is not None:
                asked.append(("the return value", ast.unparse(node.returns), returned))
            for name, hint, wanted in asked:
                if _hint_key(wanted) is not None and _hint_key(hint) != _hint_key(wanted):
                    return [Finding("not-done", "error", path,
                                    f"hints {name} of {node.name} as {hint}, although the instruction asks for "
                                    f"{wanted}: write the hint asked", node.lineno)]
    return []


def _signature(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """A function's parameters and return hint as written (a change of hints changes it)."""
    return f"{ast.unparse(function.args)} -> {ast.unparse(function.returns) if function.returns else ''}"


def _names_read(tree: ast.AST) -> frozenset[str]:
    return frozenset(node.id for node in ast.walk(tree) if isinstance(node, ast.Name))


def _raises(tree: ast.AST, exception: str, name: str) -> list[tuple[int, bool]]:
    """(line, whether a test that reads ``name`` encloses it) of each ``raise exception`` in ``tree``."""
    found: list[tuple[int, bool]] = []

    def walk(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(raised, ast.Name) and raised.id == exception:
                found.append((node.lineno, guarded))
        tests = name in _names_read(node.test) if isinstance(node, (ast.If, ast.While)) else False
        for child in ast.iter_child_nodes(node):
            walk(child, guarded or (tests and child is not getattr(node, "test", None)))

    walk(tree, False)
    return found


def _rename_not_made(changes: Sequence[tuple[str, str | None, str]], scope: Scope) -> list[Finding]:
    """A rename asked of a name the code of a changed Python file spells, that no changed file spells
    fewer times after (a non-Python file counted by the word: the name may be a setting's key). The
    embedded model answered "Rename the parameter object to data" by changing ``b''`` to ``b""``, and
    others by rewording the docstring."""
    held = ""
    for path, old, new in changes:
        if not old:
            continue
        if _parsed_language(path) == "python" and (before := name_uses(old, scope.old)) is not None:
            after = name_uses(new, scope.old)
            held = held or (path if before else "")
        else:
            word = re.compile(rf"\b{re.escape(scope.old)}\b")
            before, after = len(word.findall(old)), len(word.findall(new))
        if after is None or after < before:
            return []
    return [Finding("not-done", "error", held, f"does not rename {scope.old}: the code spells it as often as "
                                                f"before, although the instruction asks to rename it to "
                                                f"{scope.new}")] if held else []


def _entries_not_removed(changes: Sequence[tuple[str, str | None, str]], instruction: str) -> list[Finding]:
    """A removal asked of list entries the instruction spells or of a Python version's ("remove
    py38, add py313", "Drop support for Python 3.4"), that a data file changed holds, and no file
    changed writes any of them fewer times after (a line gone anywhere counts: "remove flake8"
    may take a hook away and keep the dependency): the embedded model answered those two by
    rewriting another line."""
    clauses = [found.group(1) for found in _REMOVAL_CLAUSE.finditer(instruction)]
    versions = set().union(*(_python_versions(clause) for clause in clauses))
    held: list[tuple[str, list[datafiles.KeyPath]]] = []
    for path, old, new in changes:
        fmt = datafiles.format_of(path)
        reading = datafiles.reading(old, fmt) if clauses and old and fmt else None
        if reading is not None:
            had = datafiles.keys(old, fmt, reading == "jsonc") or {}
            targets = [key for key in had if key[-1].startswith(datafiles.ENTRY) and (
                any(_spelt_in(key[-1][1:], clause) for clause in clauses) or _python_version(key[-1]) in versions)]
            if targets:
                held.append((path, targets))
    if not held:
        return []
    spelt = {key[-1][1:] for _, targets in held for key in targets if _python_version(key[-1]) not in versions}
    terms = [re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-]|\.\w)") for name in spelt]
    terms += [re.compile(rf"(?<![\w.]){_PYTHON_SPELLING}{major}\.?{minor}(?!\d)", re.IGNORECASE)
              for major, minor in versions]
    for path, old, new in changes:
        # a data file's comment lines aside: "# Remove py38" is no removal
        comment = _DATA_COMMENT.get(datafiles.format_of(path) or "")
        before, after = ("\n".join(line for line in (text or "").splitlines() if not comment or not comment.match(line))
                         for text in (old, new))
        if (any(len(term.findall(after)) < len(term.findall(before)) for term in terms)
                or _whole_value_gone(before, after, terms) or _excluded(path, old, new, terms)):
            return []
    path, targets = held[0]
    named = ", ".join(_key_text(key) for key in targets[:MAX_KEYS_NAMED])
    return [Finding("not-done", "error", path, f"still has {named}, which the instruction asks to remove: "
                                               "make the change asked")]


# A line's value, its key or list dash and quotes aside (``entry: flake8``, ``- "3.8"``, ``py38,``)
_LINE_VALUE = re.compile(r"""^\s*(?:-\s+)?(?:[\w.-]+\s*[:=]\s*)?["']?(.*?)["']?\s*,?\s*$""")
# A key under which what is written is left out ("exclude", "skip", "ignore", "omit", "deselect")
_EXCLUDING = re.compile(r"^(exclude|skip|ignore|omit|deselect|disable)", re.IGNORECASE)


def _whole_value_gone(before: str, after: str, terms: list[re.Pattern]) -> bool:
    """Whether a line whose whole value is a term is gone: pre-commit-hooks' "remove flake8" made the
    hook's ``entry: flake8`` a shim that names flake8 twice, so the term's count went up."""
    def whole(text: str) -> Counter:
        return Counter(line.strip() for line in text.splitlines()
                       if (value := _LINE_VALUE.match(line)) and any(term.fullmatch(value.group(1)) for term in terms))
    return bool(whole(before) - whole(after))


def _excluded(path: str, old: str | None, new: str, terms: list[re.Pattern]) -> bool:
    """Whether a term is written more times under keys that leave things out than before: packaging's
    "ci: drop 3.13t on Windows" added ``exclude: [{os: Windows, python_version: "3.13t"}]`` to the
    job's matrix (a flake8 ``ignore`` line rewritten with the term still on it is no removal)."""
    fmt = datafiles.format_of(path)
    if fmt is None:
        return False

    def left_out(text: str) -> int:
        found = datafiles.keys(text, fmt) or {}
        lines = text.splitlines()
        numbers = {n for key, key_lines in found.items() if any(_EXCLUDING.match(part) for part in key)
                   for n in key_lines if n is not None and 0 < n <= len(lines)}
        return sum(len(term.findall(lines[n - 1])) for n in numbers for term in terms)
    return left_out(new) > left_out(old or "")


def check_changes(changes: Sequence[tuple[str, str | None, str]], instruction: str,
                  selection: tuple[str, tuple[int, int]] | None = None,
                  repository: UsedElsewhere | None = None) -> list[Finding]:
    """Every finding for a proposal (see _check_changes). A check that raises is a defect of the check
    stage, not of the change: the proposal gets a ``check-failed`` error naming it, so that ``--yes``
    writes nothing unchecked and an editor's session survives it, and the traceback goes to the log."""
    try:
        return _check_changes(changes, instruction, selection, repository)
    except Exception as exc:  # noqa: BLE001 - any defect of a check, reported on the proposal
        log.exception("a check failed on a proposal for %r", instruction)
        path = next((path for path, _, _ in changes), "")
        return [Finding("check-failed", "error", path,
                        f"could not be checked: a check of Amigo failed ({type(exc).__name__}: {exc}); review the "
                        "change yourself, and please report this with the log")]


def _check_changes(changes: Sequence[tuple[str, str | None, str]], instruction: str,
                   selection: tuple[str, tuple[int, int]] | None,
                   repository: UsedElsewhere | None) -> list[Finding]:
    """Every finding for a proposal: ``changes`` are (path, old text or None for a new file, new
    text), ``selection`` (path, (first, last line)) the selected lines, ``repository`` where the
    files the proposal leaves alone are searched for a name (see repository_uses; None: nowhere).
    Each file is checked on its own, except that a definition gone from one file and made in
    another is read as moved, and one used by another file is not let go; then, with nothing else
    wrong, whether the proposal makes the kind of change asked at all. No changes, no findings: an
    answer that changes nothing carries its own error, whatever the instruction spells out."""
    if not changes:
        return []
    made: dict[str, set[tuple[str, str, str]]] = {}
    if len(changes) > 1:
        for path, old, new in changes:
            if (language := _parsed_language(path)) is not None:
                made[path] = set(_definitions(new, language)) - set(_definitions(old or "", language))
    paths = frozenset(path for path, _, _ in changes)
    gained = {path: Counter(line.strip() for line in new.splitlines() if line.strip())
              - Counter(line.strip() for line in (old or "").splitlines() if line.strip())
              for path, old, new in changes} if len(changes) > 1 else {}

    @functools.cache
    def in_repository(name: str) -> bool:  # one search per name and proposal, whichever file asks
        return repository is not None and repository(name, paths)

    def used_elsewhere(path: str) -> Callable[[str], bool]:
        others = [new for other, _, new in changes if other != path]
        return lambda name: any(re.search(rf"\b{re.escape(name)}\b", text) for text in others) or in_repository(name)

    findings = [finding for path, old, new in changes for finding in check_change(
        path, old, new, instruction, selection[1] if selection and selection[0] == path else None,
        elsewhere=frozenset(key for other, keys in made.items() if other != path for key in keys),
        used_elsewhere=used_elsewhere(path),
        added_elsewhere=sum((lines for other, lines in gained.items() if other != path), Counter()) or None)]
    if not has_errors(findings):  # last: what is wrong with the change says more than that it missed
        findings += (_not_done_findings(changes, instruction) or _entries_not_removed(changes, instruction)
                     or _terms_not_written(changes, instruction) or _raise_not_where_asked(changes, instruction)
                     or _hints_not_as_asked(changes, instruction))
    return findings


def _parsed_language(path: str) -> str | None:
    """The language the check stage reads ``path`` in, or None when no grammar parses it."""
    language = languages.tag_language(path)
    return language if language is not None and languages.grammar(language) is not None else None


def check_change(path: str, old: str | None, new: str, instruction: str,
                 selection: tuple[int, int] | None = None,
                 elsewhere: frozenset[tuple[str, str, str]] = frozenset(),
                 used_elsewhere: Callable[[str], bool] | None = None,
                 added_elsewhere: Counter[str] | None = None) -> list[Finding]:
    """Every finding for one file's change (for a file no grammar parses, see _text_findings). ``elsewhere``:
    the definitions other files of the same proposal make anew; ``used_elsewhere``: whether another
    file uses a name; ``added_elsewhere``: the lines (stripped) other files of the proposal gain, where
    lines gone from this one have moved (see check_changes; None: the file is read alone)."""
    language = _parsed_language(path)
    old = old or ""
    written = _placeholder_findings(path, old, new) + _version_directive_findings(path, old, new)
    if language is None:
        return written + _text_findings(path, old, new, instruction, selection)
    findings = written + _syntax_findings(path, old, new, language)
    if language == "python" and not findings:
        findings += (_undefined_name_findings(path, old, new) + _unbound_name_findings(path, old, new)
                     + _endless_recursion_findings(path, old, new))
    if old:
        findings += _definition_findings(path, old, new, language, instruction, elsewhere, used_elsewhere)
        findings += _selection_findings(path, old, new, selection, instruction, moved_to=added_elsewhere)
    if language == "python" and old and not has_errors(findings):
        findings += _unused_parameter_findings(path, old, new, instruction)
    if language == "python" and old and not has_errors(findings):
        findings += _rewritten_function_findings(path, old, new, instruction)
    if language == "python" and old and not has_errors(findings):
        findings += _removed_example_findings(path, old, new, instruction)
    if language == "python" and old and not has_errors(findings):
        findings += _import_time_findings(path, old, new, instruction)
    if language == "python" and old and not has_errors(findings):
        # last, and only when nothing more specific was found: "removes the function load_users"
        # says more than "changes the code"
        findings += _scope_findings(path, old, new, instruction)
    return findings


def _placeholder_findings(path: str, old: str, new: str) -> list[Finding]:
    """A line of the prompt's picture of a block (``the new lines that replace them``) written into
    the file: the embedded model answered "Document suggested method to unique-ify
    `duplicates_everseen` output" with a REPLACE that was that line, in a docstring, where it parses."""
    for number, line in _lines_written(old, new, lambda line: line.lower() in _PLACEHOLDER_LINES, str.lower):
        return [Finding("placeholder", "error", path,
                        f"writes the answer format's placeholder at line {number} ({line!r}) "
                        "where the file's own lines belong", number)]
    return []


def _lines_written(old: str, new: str, kind: Callable[[str], bool],
                   key: Callable[[str], str] = str) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) of the lines of ``new`` of a ``kind`` that ``old`` did not have as
    often (lines compared by ``key``): the file's own lines of that kind may stay where they were."""
    had = Counter(key(line) for line in map(str.strip, old.splitlines()) if kind(line))
    for number, line in enumerate(map(str.strip, new.splitlines()), 1):
        if kind(line):
            if had[key(line)] > 0:
                had[key(line)] -= 1
            else:
                yield number, line


_PLACEHOLDER_LINES = frozenset(placeholder.lower() for placeholder in PLACEHOLDERS)


# Sphinx's directives that take the version as their first argument (docutils: one required).
_VERSION_DIRECTIVE = re.compile(
    r"^\s*(?:[#*]\s*)?\.\.\s+(deprecated|versionadded|versionchanged|versionremoved)::(.*)$")
_DOCUMENTED = (".py", ".pyi", ".rst", ".txt")


def _version_directive_findings(path: str, old: str, new: str) -> list[Finding]:
    """A version directive the change writes with no version, or with a word of prose where the version
    goes: Sphinx rejects ``.. deprecated::`` alone, and renders ``.. deprecated:: This function ...``
    as "Deprecated since version This". The embedded model answered "Use `.. deprecated::` directive
    for `pairwise`" both ways, losing the "11.0.0" the warning it replaced gave. Real projects write a
    number, or a placeholder for the next release in capitals (``VERSION``, ``NEXT``, ``TODO``)."""
    if not path.endswith(_DOCUMENTED):
        return []
    for number, line in _lines_written(old, new, lambda line: _VERSION_DIRECTIVE.match(line) is not None):
        match = _VERSION_DIRECTIVE.match(line)
        directive, words = match.group(1), match.group(2).split()
        if not words:
            problem = "with no version, which Sphinx rejects"
        elif not re.search(r"\d", words[0]) and re.search(r"[a-z]", words[0]):
            problem = f"with {words[0]!r} where the version goes"
        else:
            continue
        return [Finding("version-directive", "error", path,
                        f"writes `.. {directive}::` at line {number} {problem}: give the version first "
                        f"(`.. {directive}:: 3.1`, then the text)", number)]
    return []


def _text_findings(path: str, old: str, new: str, instruction: str,
                   selection: tuple[int, int] | None) -> list[Finding]:
    """A file no grammar parses: a data file read by its format's parser, and for any text, most
    of the selection (or the file) gone unasked: a weak model answers "Add lodash to the
    dependencies" with ``npm install -g lodash`` in place of the whole ``package.json``."""
    fmt = datafiles.format_of(path)
    findings = _data_findings(path, old, new, fmt, instruction, selection) if fmt else []
    if old and not has_errors(findings):
        findings += _selection_findings(path, old, new, selection, instruction,
                                        comment=_DATA_COMMENT.get(fmt) if fmt else None)
    return findings


def _data_findings(path: str, old: str, new: str, fmt: str, instruction: str,
                   selection: tuple[int, int] | None = None) -> list[Finding]:
    """A JSON, TOML or YAML file that no longer parses, or that lost keys unasked. Judged only
    where the old text parsed (a template does not), in the old text's reading (JSONC stays JSONC;
    a new file may be JSONC)."""
    before = datafiles.reading(old, fmt) if old else ("jsonc" if fmt == "json" else "strict")
    if before is None:
        return []
    jsonc = before == "jsonc"
    error = datafiles.syntax_error(new, fmt, jsonc)
    if error is not None:
        message, line = error
        shown = _quoted_line(new, line)
        where = f" at line {line}" if line else ""
        strict = (" (strict JSON: no comments or trailing commas)"
                  if fmt == "json" and not jsonc and datafiles.reading(new, fmt) == "jsonc" else "")
        return [Finding("syntax", "error", path, f"is no longer valid {fmt.upper()}{strict}: {message}{where}{shown}",
                        line)]
    if not old:
        return []
    had = datafiles.keys(old, fmt, jsonc) or {}
    removal = bool(_REMOVAL_WORDS.search(instruction))
    asked = _asked_keys(had, old, instruction, by_line=removal)
    if not asked and removal and _KEY_WORDS.search(instruction):
        return []  # "Remove the unused settings": which keys, only the answer says
    # an INI option that held a list holds one still when one word is left (``envlist = py39``)
    lists = frozenset(key[:-2] for key in had if key[-1].startswith(datafiles.ENTRY)) if fmt == "ini" else frozenset()
    return _key_findings(path, had, datafiles.keys(new, fmt, jsonc, lists) or {}, asked, instruction, selection)


def _asked_keys(had: dict[datafiles.KeyPath, list[int | None]], old: str, instruction: str,
                by_line: bool) -> list[datafiles.KeyPath]:
    """The keys and entries of ``had`` the instruction points at: by a word of its path ("Remove
    the mypy settings"), by spelling a list entry as a token ("Drop Python 3.7"), by the Python
    version it is for ("Drop Python 3.7" also names ``py37`` and ``[testenv:py37]``), or, ``by_line``
    (a removal: elsewhere a term on a line is what to change, "Bump actions/checkout", not what may
    go), by a term of its own on the key's line, such as an option in its value ("Removing the
    --ignore-installed option" names ``install_command = pip install --ignore-installed ...``)."""
    named = {loose_name(word) for word in re.findall(r"[\w-]+", instruction) if len(word) >= MIN_BUILT_ON_NAME}
    versions = _python_versions(instruction)
    terms = _code_terms(instruction) if by_line else []
    lines = old.splitlines()

    def spelt_on_its_line(key_lines: list[int | None]) -> bool:
        return any(n is not None and 0 < n <= len(lines) and any(term in lines[n - 1] for term in terms)
                   for n in key_lines)

    return [key for key, key_lines in had.items()
            if any(loose_name(_named_by(part)) in named for part in key if part != "*")
            or (key[-1].startswith(datafiles.ENTRY) and _spelt_in(key[-1][1:], instruction))
            or (versions and any(_python_version(part) in versions for part in key))
            or (terms and spelt_on_its_line(key_lines))]


def _named_by(part: str) -> str:
    """The word that names a key path's part: a key by itself, a list entry by its name, a trove
    classifier by its first word ("Add SPDX license identifier" points at ``License :: OSI
    Approved :: MIT License``, as it did while a classifier's name was its first word)."""
    name = part.removeprefix(datafiles.ENTRY)
    return name.split()[0] if part.startswith(datafiles.ENTRY) and " :: " in name else name


def _code_terms(instruction: str) -> list[str]:
    """The instruction's terms that read as code rather than prose: quoted (`` `x` ``, ``'x'``) or
    holding a dash, underscore, dot or slash inside (``--ignore-installed``, ``setup.py``), at least
    MIN_BUILT_ON_NAME long."""
    quoted = re.findall(r"[`'\"]([^`'\"\s]+)[`'\"]", instruction)
    inner = re.findall(r"(?<![\w.\-/])([-.]{0,2}\w+(?:[-_./]\w+)+)", instruction)
    return [term for term in dict.fromkeys(quoted + inner) if len(term.strip("-")) >= MIN_BUILT_ON_NAME]


def _key_findings(path: str, had: dict[datafiles.KeyPath, list[int | None]],
                  has: dict[datafiles.KeyPath, list[int | None]], asked: list[datafiles.KeyPath], instruction: str,
                  selection: tuple[int, int] | None) -> list[Finding]:
    """Keys and list entries ``had`` that ``has`` holds fewer times, not under or holding one
    ``asked`` for: an error where the instruction only adds or sets something, or where more than
    KEYS_LOST_SHARE of the keys and entries of the selection (or file) went; a warning elsewhere."""
    # gone unasked: fewer times than before (a list item gone takes its keys), and not named, nor
    # under or holding a key named ("move ruff out" takes [tool] with it)
    gone = {key: len(lines) - len(has.get(key, ())) for key, lines in had.items()
            if len(lines) > len(has.get(key, ())) and not any(key == other[:len(key)] for other in asked)}
    # an entry whose numbers changed is changed, not lost ("--py37-plus" -> "--py38-plus", "3.7" -> "3.12")
    made = {_number_shape(key) for key, lines in has.items()
            if key[-1].startswith(datafiles.ENTRY) and len(lines) > len(had.get(key, ()))}
    gone = {key: n for key, n in gone.items() if _number_shape(key) not in made}
    lost = [key for key in gone if not _parent_key(key) or _parent_key(key) not in gone]  # the topmost of those
    if not lost:
        return []
    # the share of the keys selected (or of the file's) that went; every key gone counts, since a
    # change to the selection can move keys below it (a table header gone puts its keys in the
    # table above), and fewer than MIN_KEYS_JUDGED count as that many
    first, last = selection or (0, 0)
    scope = [key for key, lines in had.items() for n in lines
             if not selection or (n is not None and first <= n <= last)]
    in_scope = len(scope)
    counted = "keys and list entries" if any(key[-1].startswith(datafiles.ENTRY) for key in scope) else "keys"
    share = min(1.0, sum(gone.values()) / max(in_scope, MIN_KEYS_JUDGED))

    def shown(key: datafiles.KeyPath) -> str:
        times = f"{gone[key]} of {len(had[key])}" if len(had[key]) > 1 else ""
        where = f"old line {had[key][0]}" if had[key][0] and not times else ""
        return _key_text(key) + (f" ({times or where})" if times or where else "")

    named_keys = ", ".join(shown(key) for key in lost[:MAX_KEYS_NAMED])
    more = f" and {len(lost) - MAX_KEYS_NAMED} more" if len(lost) > MAX_KEYS_NAMED else ""
    most = (f" ({round(100 * share)}% of the {counted} {'selected' if selection else 'it had'})"
            if share > KEYS_LOST_SHARE else "")
    level = "error" if _adds_only(instruction) or most else "warning"
    entries = sum(key[-1].startswith(datafiles.ENTRY) for key in lost)
    if not entries:
        what = "keys" if len(lost) > 1 else "key"
    elif entries == len(lost):
        what = "list entries" if entries > 1 else "list entry"
    else:
        what = "keys and list entries"
    return [Finding("removed-key", level, path, f"removes the {what} {named_keys}{more}{most}, which the "
                                                "instruction did not ask for")]


def _adds_only(instruction: str) -> bool:
    """Whether ``instruction`` only adds or sets (see _ADDS_ONLY): "add python 3.14, drop python 3.7"
    does not."""
    return bool(_ADDS_ONLY.match(instruction)) and not _SHRINK_WORDS.search(instruction)


def _number_shape(key: datafiles.KeyPath) -> datafiles.KeyPath:
    """``key`` with every run of digits in its last part the same, and a classifier's last part
    cut: a list entry's version changed keeps it, as does ``Development Status :: 4 - Beta`` made
    ``5 - Production/Stable``."""
    return (*key[:-1], re.sub(r"\d+", "0", key[-1].rsplit(" :: ", 1)[0]))


def _key_text(key: datafiles.KeyPath) -> str:
    """A key path as a person reads it: ``tool.ruff``; a list entry as ``dependencies[pytest]``."""
    if not key[-1].startswith(datafiles.ENTRY):
        return ".".join(key)
    return f"{_key_text(_parent_key(key)) if _parent_key(key) else ''}[{key[-1][1:]}]"


def _spelt_in(value: str, instruction: str) -> bool:
    """Whether the instruction writes ``value`` as a token of its own ("Drop Python 3.7" names the
    list entry ``3.7``; it does not name ``3.7.1``)."""
    return len(value) >= 2 and re.search(rf"(?<![\w.-]){re.escape(value)}(?![\w-]|\.\w)", instruction,
                                         re.IGNORECASE) is not None


def _python_version(part: str) -> tuple[str, str] | None:
    """The Python version a key or entry is for, by what follows its last colon: tox's ``py37``,
    ``py310-django`` and ``[testenv:py26]``, CI's ``python3.7`` and ``pypy-3.9``, ``cp312``, ``3.7``,
    the classifier ``Programming Language :: Python :: 3.7``."""
    found = _PYTHON_ENTRY.fullmatch(part.removeprefix(datafiles.ENTRY).rsplit(":", 1)[-1].strip())
    return (found.group(1), found.group(2)) if found else None


_PYTHON_SPELLING = r"(?:py|python|cp|pypy-?)?"  # what may come before a version's digits
_PYTHON_ENTRY = re.compile(rf"{_PYTHON_SPELLING}([23])\.?(\d{{1,2}})(?:-[\w.-]+)?", re.IGNORECASE)
# A Python version an instruction names: "Python 3.7", "py3.7", "py37", "3.12"
_PYTHON_NAMED = re.compile(r"(?<![\w.-])(?:(?:python|py|cpython)\s*v?)?([23])\.?(\d{1,2})(?![\w-]|\.\w)",
                           re.IGNORECASE)


def _python_versions(instruction: str) -> set[tuple[str, str]]:
    """The (major, minor) Python versions ``instruction`` names; a bare number must have its dot
    ("3.7", not "37")."""
    return {(found.group(1), found.group(2)) for found in _PYTHON_NAMED.finditer(instruction)
            if "." in found.group(0) or not found.group(0)[0].isdigit()}


def _parent_key(key: datafiles.KeyPath) -> datafiles.KeyPath:
    """The key whose value holds ``key``, list items stepped over (``()`` at the top level)."""
    parent = list(key[:-1])
    while parent and parent[-1] == "*":
        parent.pop()
    return tuple(parent)


def judge_answer(request: EditRequest, answer: str) -> str | None:
    """Why ``answer`` would not pass review-free (it does not apply to the request's file, changes
    nothing, or has an error-level finding), or None when it would: what a proposal's ``passes``
    says, judged without a repository (only the request's file exists; other paths are missing).

    Used where the answer comes from a model under evaluation, not a session (the nightly gate
    replays held-out requests through the promoted model and the candidate)."""
    applied = apply_answer(answer, {request.path: request.file_text}, request.path, request.edit_format,
                           selection=request.selection)
    if applied.errors:
        return applied.errors[0]
    changed = {path: new for path, new in applied.new_texts.items()
               if new != (request.file_text if path == request.path else "")}
    if not changed:
        return "the answer changes nothing"
    for path, new in changed.items():
        old = request.file_text if path == request.path else None
        for finding in check_change(path, old, new, request.instruction,
                                    request.selection if path == request.path else None):
            if finding.level == "error":
                return str(finding)
    return None


# ------------------------------------------------------------------ the person's check command


def _copy_repository(root: Path, into: Path) -> None:
    """The repository's files (tracked and untracked, not ignored; no ``.git``) under ``into``."""
    paths = git_ls_files(root) if git_toplevel(root) is not None else None
    if paths is None:
        shutil.copytree(root, into, symlinks=True, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".git"))
        return
    for rel in paths:
        source, target = root / rel, into / rel
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, still in git's index
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(source.readlink())
        elif source.is_file():
            shutil.copy2(source, target)


def run_check_command(command: str, root: Path, new_texts: dict[str, str],
                      timeout_s: float) -> Finding | None:
    """Run ``command`` on a temporary copy of ``root`` with ``new_texts`` written; None when it passes.

    ``{files}`` in the command becomes the changed paths (shell-quoted). The
    person's files are never touched: the copy lives in a temporary folder
    that is removed afterwards.
    """
    files = " ".join(shlex.quote(p) for p in sorted(new_texts))
    shown_path = ", ".join(sorted(new_texts))
    with tempfile.TemporaryDirectory(prefix="amigo-check-") as tmp:
        copy = Path(tmp) / "repo"
        copy.mkdir()
        _copy_repository(root, copy)
        for rel, text in new_texts.items():
            target = copy / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="")
        returncode, output = _run_killing_group(command.replace("{files}", files), copy, timeout_s)
        if returncode is None:
            return Finding("check-command", "error", shown_path,
                           f"the check command `{command}` did not finish within {timeout_s:g} s "
                           "(raise check_timeout if it needs longer)")
        output = output.replace(str(copy) + "/", "").strip()
    if returncode == 0:
        return None
    if len(output) > CHECK_OUTPUT_CHARS:
        output = "...\n" + output[-CHECK_OUTPUT_CHARS:]
    return Finding("check-command", "error", shown_path,
                   f"the check command `{command}` failed (exit {returncode}):\n{output}")


def _run_killing_group(command: str, cwd: Path, timeout_s: float) -> tuple[int | None, str]:
    """(exit status, stdout+stderr) of a shell command; (None, "") after killing its whole
    process group on timeout, so a hung test run leaves nothing behind."""
    proc = subprocess.Popen(command, shell=True, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, ""
    return proc.returncode, output

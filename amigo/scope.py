"""What an instruction leaves alone: the code itself, when only its documentation or a name is asked for.

A weak model asked for a docstring or type hints often rewrites the body as
well ("Add a docstring explaining the h, l, s arguments" came back with the
conversion changed); asked to rename a variable, it changes logic on the way.
Such a change parses, keeps every definition and passes every structural
check, and is wrong. When the instruction, read conservatively, asks only for

* documentation: docstrings, comments, type hints, a docs directive, the
  ``u`` prefix of strings (none of which changes what the code does), or
* one rename, ``Rename [the variable|parameter|...] OLD to NEW``,

the file's Python syntax tree before and after must be the same, once
docstrings, annotations, imports and names made for hints (``T = TypeVar("T")``)
are set aside (documentation), or with OLD read as NEW, also inside names built
on it (rename). Anything else is a change of code nobody asked for.

Reading the instruction errs towards "the code may change": a wrong finding
would refuse a right edit under ``--yes``, a missed one leaves the other checks
and the person's review. So every sentence must speak of documentation, and
everything joined to it by "and", a comma, "/" or "then" must too ("Add a
docstring and fix the off-by-one" may change code), the documentation must be
what the request acts on ("Fix the bug described in the comment" is not), and a
problem word ("Fix typing issues") or "comment out" means code; only what
follows a colon or a word such as "that", "explaining" or "saying" is taken as
the documentation's content.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections import Counter
from dataclasses import dataclass
from typing import Any

# What documentation work is called. "type hints" and "annotations" change no behaviour (annotations
# are evaluated at definition time, but a hint that fails there fails the undefined-name check first).
_DOC_WORDS = re.compile(r"\b(docstrings?|doc ?strings?|documentation|documents?|documented|documenting|docs|"
                        r"comments?|commented|type[ -]hints?|type[ -]hinted|annotations?|annotate|"
                        r"directives?|u[ -]prefix(es)?|u[ -]prefixed)\b", re.IGNORECASE)
# Where a sentence goes on to say what the documentation should say ("a docstring that says ...").
_CONTENT_STARTS = re.compile(r":|\s(that|which|saying|says|explaining|explains|describing|describes|noting|"
                             r"notes|stating|states|mentioning|about|on|for|to say|with)\b", re.IGNORECASE)
# What joins two requests in one sentence.
_CLAUSE_BREAKS = re.compile(r",|/|\+|&|\band\b|\bthen\b|\balso\b|\bplus\b", re.IGNORECASE)
# A problem to solve is more than documentation work ("Fix typing issues", "fix docs display bug").
_PROBLEM_WORDS = re.compile(r"\b(issues?|errors?|bugs?|bugfix|problems?|crash\w*|fail\w*|broken|mypy|pyright|"
                            r"checkers?|warnings?|not working)\b", re.IGNORECASE)
# Commenting code out (or back in) changes what runs.
_COMMENTING_OUT = re.compile(r"\bcomment(s|ed|ing)?\s+out\b|\buncomment", re.IGNORECASE)


def _inflected(verbs: str, irregular: str = "") -> frozenset[str]:
    """Each verb as an instruction or a commit message may write it: fix, fixes, fixed, fixing."""
    forms = set(irregular.split())
    for verb in verbs.split():
        stem = verb[:-1] if verb.endswith("e") else verb
        forms |= {verb, verb + "s", verb + "es", stem + "ed", stem + "ing"}
        if verb.endswith("y"):
            forms |= {verb[:-1] + "ies", verb[:-1] + "ied"}
    return frozenset(forms)


# How a request for code begins ("Raise ValueError as documented" is not documentation work) ...
_CODE_VERBS = _inflected("""add remove delete drop fix return raise make use change replace handle rename move call
    convert support implement refactor rewrite simplify check validate sort skip accept allow avoid catch ensure
    guard update set store cache log print yield wrap extract split merge inline speed optimize emit write read
    open close create append pass strip normalize compute count chain keep let switch turn reject swap reorder
    increase decrease limit clamp default initialize import export expose hide deprecate warn assert test
    parse format encode decode escape quote lower upper trim filter map reduce loop iterate break continue
    stop start run retry await lock unlock free release tidy clean apply bump pin require""",
                         "made wrote written ran kept split let broke broken took taken gave given got chose")
# ... and the verbs of documentation work, which a clause speaking of documentation may begin with.
_DOC_VERBS = _inflected("""add update write improve fix correct expand extend document annotate clarify rewrite
    reword remove use mention note explain describe tidy clean change replace""", "wrote written rewrote rewritten")
# What may begin a request for documentation besides a verb ("more docs", "missing type hints").
_OPENERS = frozenset("""more some missing better new additional extra various detailed descriptive short
    clear proper full inline brief longer shorter the a an""".split())
# Nouns that make the documentation word a kind of code: "docstring processing", "docs theme".
_CODE_NOUNS = frozenset("""processing handling parsing parser generation generator build building builds display
    theme version output rendering render renderer config configuration search tool tooling tools script
    scripts server site extraction inheritance lookup support test tests check checks checking coverage mode
    option options flag flags inference setting settings dependency dependencies requirements deploy
    deployment workflow job pipeline""".split())
_MAX_WORDS_BEFORE_OBJECT = 3
_DETERMINERS = frozenset("the a an its their this that these those all every each some any".split())
_BLOCKING_WORDS = frozenset("""in as by from per according to with of on at for into described mentioned said says
    stated like than where when if which what whatever unless review reviews reviewer pr feedback pull
    request""".split()) | _DETERMINERS
_TYPE_CONSTRUCTORS = frozenset({"TypeVar", "ParamSpec", "TypeVarTuple", "NewType", "TypeAliasType"})
_TYPE_GENERICS = frozenset("""Union Optional Callable List Dict Tuple Set FrozenSet Type Literal Iterable Iterator
    Sequence MutableSequence Mapping MutableMapping Any Generator AsyncGenerator AsyncIterator AsyncIterable
    Awaitable Coroutine Annotated ClassVar Final Protocol Generic DefaultDict OrderedDict Counter Deque
    ChainMap AbstractSet MutableSet Collection Container Hashable Sized Reversible IO TextIO BinaryIO
    Pattern Match TypeGuard TypeIs Concatenate Unpack Required NotRequired ReadOnly""".split())
_RENAME = re.compile(r"^\s*rename\s+(?:the\s+)?(?:local\s+|global\s+|module[- ]level\s+)?"
                     r"(?:variable|parameter|argument|arg|name|attribute|function|method|class|constant)?\s*"
                     r"`?([A-Za-z_]\w*)`?\s+to\s+`?([A-Za-z_]\w*)`?"
                     r"(?:\s+(?:everywhere|throughout|(?:in|throughout)\s+(?:the\s+)?\w+|"
                     r"so\s+(?:that\s+)?it\s+[^.;]*))*"
                     r"\s*\.?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Scope:
    """What the instruction allows to change: ``documentation`` only, or the rename ``old`` -> ``new``."""

    kind: str  # documentation | rename
    old: str = ""
    new: str = ""

    def describe(self) -> str:
        if self.kind == "rename":
            return f"the rename of {self.old} to {self.new}"
        return "documentation (docstrings, comments, type hints)"


def _plain(instruction: str) -> str:
    """The instruction with quoted code and parenthesised asides set apart (``(s: str) -> str``)."""
    text = re.sub(r"`[^`]*`", " X ", instruction)
    text = re.sub(r"\([^()]*\)|\[[^\[\]]*\]", " ", text)
    return text.replace("->", " ")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _asks_for_documentation(clause: str) -> bool:
    """Whether one request ("Add a short docstring", "type hints", "Update the convolve docstring")
    acts on documentation: it names it, begins with documentation work or the documentation itself,
    and uses it as the thing worked on, not as where a reason is found ("Fix the bug described in
    the comment") nor as the kind of a thing that is code ("docstring processing", "typing issues")."""
    found = _DOC_WORDS.search(clause)
    if found is None:
        return False
    lead = _words(clause[:found.start()])
    if lead and lead[0] not in _DOC_VERBS and lead[0] not in _OPENERS:
        return False  # "Infer type annotations", "Address PR comments", "Gut docs"
    between = lead[1:] if lead and lead[0] in _DOC_VERBS else lead
    if between and between[0] in _DETERMINERS:
        between = between[1:]
    if len(between) > _MAX_WORDS_BEFORE_OBJECT or _BLOCKING_WORDS.intersection(between):
        return False  # a second "the" starts another noun: "Add the missing check the docstring mentions"
    after = _words(clause[found.end():])
    return not (after and after[0] in _CODE_NOUNS)


def _sentence_is_documentation(sentence: str) -> bool:
    label = re.match(r"\s*[\w()\[\]-]+(?:\s+#?\d+)?:\s+(.*)", sentence, re.DOTALL)
    if label:  # "Issue 1215: Add docstring note", "docs: fix markup": the request follows the label
        sentence = label.group(1)
    first = _DOC_WORDS.search(sentence)
    if first is None or _PROBLEM_WORDS.search(sentence) or _COMMENTING_OUT.search(sentence):
        return False
    rest = sentence[first.end():]
    content = _CONTENT_STARTS.search(rest)
    asked = sentence[:first.end()] + (rest[:content.start()] if content else rest)
    if not all(_asks_for_documentation(clause) for clause in _CLAUSE_BREAKS.split(asked) if _words(clause)):
        return False
    # what the documentation should say may run on ("... the inputs and outputs are floats"), but
    # not into a new request ("a comment explaining the loop and remove the print")
    said = rest[content.start():] if content else ""
    return not any(_words(clause)[:1] and _words(clause)[0] in _CODE_VERBS and not _DOC_WORDS.search(clause)
                   for clause in _CLAUSE_BREAKS.split(said)[1:])


def read_scope(instruction: str) -> Scope | None:
    """The scope the instruction keeps to, or None when it may change code (the usual case)."""
    rename = _RENAME.match(instruction)
    if rename:
        old, new = rename.groups()
        return Scope("rename", old, new) if old != new else None
    sentences = [s for s in re.split(r"[.;!?](?:\s+|$)|\n+", _plain(instruction)) if re.search(r"\w", s)]
    if sentences and all(_sentence_is_documentation(s) for s in sentences):
        return Scope("documentation")
    return None


# ------------------------------------------------------------------ comparing code


def _strip_documentation(tree: ast.AST, hints_too: bool) -> None:
    """Drop docstrings (a rename may reword them) and, with ``hints_too``, what else documentation
    work may touch: annotations, imports (a hint may need one), ``if TYPE_CHECKING:`` blocks and
    the ``u`` of string literals."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body:
            kept = [statement for statement in body if not is_docstring(statement)]
            if hints_too:
                kept = [s for s in kept if not _is_documentation_statement(s)]
            node.body = kept or [ast.Pass()]  # type: ignore[attr-defined]
        if not hints_too:
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
        elif isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, ast.Constant):
            node.kind = None
    if hints_too:
        _Unannotate().visit(tree)


def is_docstring(statement: ast.stmt) -> bool:
    """A docstring, a string standing alone (it does nothing), or ``__doc__ = ...``."""
    if isinstance(statement, ast.Expr):
        return isinstance(statement.value, ast.Constant) and isinstance(statement.value.value, str)
    return isinstance(statement, ast.Assign) and any(
        (isinstance(t, ast.Name) and t.id == "__doc__") or (isinstance(t, ast.Attribute) and t.attr == "__doc__")
        for t in statement.targets)


def _is_documentation_statement(statement: ast.stmt) -> bool:
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return True
    if isinstance(statement, ast.AnnAssign) and statement.value is None:
        return True  # `x: int` alone declares, it assigns nothing
    if (isinstance(statement, ast.Assign) and [ast.unparse(t) for t in statement.targets] == ["TYPE_CHECKING"]):
        return True
    if isinstance(statement, (ast.Assign, ast.AnnAssign)) and _is_type_expression(statement.value):
        return True  # `T = TypeVar("T")`, `Handler = Callable[[str], None]`: names for hints
    if isinstance(statement, ast.TypeAlias if hasattr(ast, "TypeAlias") else ()):
        return True
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):  # `@overload` signatures, for checkers
        return any(_typing_name(d) == "overload" for d in statement.decorator_list)
    if isinstance(statement, ast.ClassDef):  # a Protocol is a type only checkers read ("Fix `retry()` annotations")
        return any(_typing_name(_unsubscripted(base)) == "Protocol" for base in statement.bases)
    if isinstance(statement, ast.If):  # `if TYPE_CHECKING:`, or imports that differ by Python version
        return ((not statement.orelse and "TYPE_CHECKING" in ast.unparse(statement.test))
                or all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in statement.body + statement.orelse))
    if isinstance(statement, ast.Try):  # try: from typing import Literal / except ImportError: ...
        return all(isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass))
                   for s in statement.body + [s for h in statement.handlers for s in h.body] + statement.orelse)
    return False


def _typing_name(node: ast.AST) -> str:
    """The last name of ``List``, ``t.Optional``, ``typing.Callable`` (empty for anything else)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.attr
    return ""


def _is_type_expression(node: ast.AST | None) -> bool:
    """A value only type hints use: a call of ``TypeVar``-like constructors, or a subscript of a
    typing generic (``Optional[str]``, ``t.Dict[str, "Node"]``)."""
    if isinstance(node, ast.Call):
        return _typing_name(node.func) in _TYPE_CONSTRUCTORS
    if isinstance(node, ast.Subscript):
        return _typing_name(node.value) in _TYPE_GENERICS
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _is_type_expression(node.left) or _is_type_expression(node.right)
    return False


def _unsubscripted(node: ast.expr) -> ast.expr:
    """``Sequence[Any]`` as ``Sequence``; any other expression as itself."""
    return node.value if isinstance(node, ast.Subscript) else node


class _Unannotate(ast.NodeTransformer):
    """``x: int = 1`` reads as ``x = 1``; ``cast(T, value)`` as ``value`` (it returns it unchanged); a class's
    generic bases without their parameters, ``class CallList(Sequence[Any])`` as ``(Sequence)``."""

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.generic_visit(node)
        node.bases = [_unsubscripted(base) for base in node.bases]
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        self.generic_visit(node)
        if node.value is None:
            return node
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if _typing_name(node.func) == "cast" and len(node.args) == 2 and not node.keywords:
            return node.args[1]
        return node


def _first_difference(old: Any, new: Any, rename: tuple[str, str] | None) -> ast.AST | bool:
    """False when ``old`` and ``new`` are the same code (``rename``'s old name may read as its new
    one, in names and in the text of strings); else the innermost new node where they part (True
    when that node has no line)."""
    if isinstance(old, ast.AST):
        if type(old) is not type(new):
            return new if hasattr(new, "lineno") else True
        for field in old._fields:
            found = _first_difference(getattr(old, field, None), getattr(new, field, None), rename)
            if found is not False:
                return found if found is not True or not hasattr(new, "lineno") else new
        return False
    if isinstance(old, list):
        if not isinstance(new, list):
            return True
        for a, b in zip(old, new):
            found = _first_difference(a, b, rename)
            if found is not False:
                return found
        if len(old) != len(new):
            extra = (new[len(old)] if len(new) > len(old) else new[-1] if new else None)
            return extra if isinstance(extra, ast.AST) and hasattr(extra, "lineno") else True
        return False
    if old == new:
        return False
    if rename and isinstance(old, str) and isinstance(new, str):
        return not _renamed(old, new, *rename)
    return True


def _renamed(old: str, new: str, before: str, after: str) -> bool:
    """Whether ``new`` is ``old`` with the name ``before`` read as ``after``: as a word, or as part of
    a name built on it (``PartitionTests`` for ``partition`` renamed ``separate``, ``test_ls``)."""
    if re.sub(rf"\b{re.escape(before)}\b", after, old) == new:
        return True
    old_loose, before_loose = loose_name(old), loose_name(before)
    return before_loose in old_loose and old_loose.replace(before_loose, loose_name(after)) == loose_name(new)


def loose_name(name: str) -> str:
    """A name without case or underscores: ``PairwiseTests`` and ``test_pairwise`` both hold ``pairwise``."""
    return name.lower().replace("_", "")


def _sort_name_lists(tree: ast.AST, rename: tuple[str, str] | None) -> None:
    """Put the names of ``from x import a, b`` and of ``__all__`` in order (by their renamed spelling,
    with ``rename``): a rename may move a name to keep such a list sorted."""
    def key(name: str) -> str:
        return re.sub(rf"\b{re.escape(rename[0])}\b", rename[1], name) if rename else name

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            node.names.sort(key=lambda alias: key(alias.asname or alias.name))
        elif (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
              and isinstance(node.value, (ast.List, ast.Tuple))
              and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.value.elts)):
            node.value.elts.sort(key=lambda e: key(e.value))  # type: ignore[attr-defined]


def _identifiers(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        for field in ("id", "arg", "attr", "name"):
            value = getattr(node, field, None)
            if isinstance(value, str):
                found.add(value)
    return found


def scope_difference(old: str, new: str, scope: Scope) -> int | None:
    """The first line of ``new`` whose code ``scope`` does not allow to change (0 when the line is not
    known), or None when ``new`` keeps to the scope (or either text is not Python that parses)."""
    try:
        before, after = ast.parse(old), ast.parse(new)
    except (SyntaxError, ValueError):
        return None
    if scope.kind == "rename" and scope.old not in _identifiers(before):
        return None  # the instruction's words name nothing in this file's code: no reading of it
    documentation = scope.kind == "documentation"
    _strip_documentation(before, hints_too=documentation)
    _strip_documentation(after, hints_too=documentation)
    if not documentation:
        _sort_name_lists(before, (scope.old, scope.new))
        _sort_name_lists(after, None)
    found = _first_difference(before, after, None if documentation else (scope.old, scope.new))
    if found is False:
        return None
    return getattr(found, "lineno", 0) if isinstance(found, ast.AST) else 0


# ------------------------------------------------------------------ whether the asked kind of change was made

# The documentation an instruction names (see documentation_changed). Docstrings and comments are one
# kind: people call either by the other's name ("comment" for a commit that adds a docstring).
_ASKED_DOCUMENTATION = (("type hints", re.compile(r"\btype[ -]hint\w*|\bannotat\w*|\btyping\b", re.IGNORECASE)),
                        ("docstrings or comments", re.compile(r"\bdoc ?strings?\b|\bcomments?\b", re.IGNORECASE)))
# Words of an instruction that may be carried out in documentation alone (see asks_for_code).
_MAY_BE_DOCUMENTATION = re.compile(
    r"\b(doc\w*|comment\w*|hint\w*|annotat\w*|typ(e|es|ed|ing)|typos?|spell\w*|word\w*|grammar|phras\w*|"
    r"readme|changelog|licen[cs]e\w*|copyright|style|format\w*|whitespace|indent\w*|lint\w*|pep ?8|black|ruff|"
    r"flake8|isort|pylint|mypy|pyright|tidy\w*|clean\w*|examples?|clarif\w*|explain\w*|describ\w*|notes?|"
    r"mention\w*|caution\w*|deprecat\w*|warn\w*|version\w*|bump\w*|release\w*|revert\w*|merge\w*|todo|fixme|"
    r"messages?|text|strings?|wording|rst|markdown|markup|sphinx|(cross-?)?links?|cross-?referenc\w*|see ?also|"
    r"urls?|citation\w*|credits?|authors?|"
    r"pragmas?|cover(age)?|spacing|linespacing|align\w*|ws|pre-commit|hooks?|dependenc\w*|deps|fragments?|news|"
    r"equivalents?|invariants?|renders?|display\w*|show\w*)\b",
    re.IGNORECASE)
# The verbs an instruction for code begins with, as a person writes one (imperative): a commit
# subject that states a fact ("Bounds are exclusive") or a past change is not read as one.
_CODE_IMPERATIVES = frozenset("""add remove delete drop fix return raise make use change replace handle rename move
    call convert support implement refactor rewrite simplify check validate skip accept allow avoid catch ensure
    guard store cache yield wrap extract split merge inline optimize emit create append pass strip normalize
    compute count switch reject swap increase decrease limit clamp initialize expose hide parse encode decode
    escape filter loop iterate break stop retry lock""".split())


def asked_documentation(instruction: str) -> tuple[str, ...]:
    """The kinds of documentation the instruction names ("type hints", "docstrings or comments"):
    for an instruction that asks only for documentation (read_scope), each must change."""
    return tuple(kind for kind, words in _ASKED_DOCUMENTATION if words.search(_plain(instruction)))


def asks_for_code(instruction: str) -> bool:
    """Whether the instruction asks for a change of code that documentation alone cannot carry out: it
    begins with a verb of code work ("Replace the assert with a ValueError", "Return early ...") and
    uses no word of documentation, wording, style or tooling, so that a change of docstrings and
    comments alone does not carry it out."""
    text = re.sub(r"^\s*[\w()\[\]./-]+(?:\s+#?\d+)?:\s+", "", instruction)  # "Issue 12: ...", "utils: ..."
    first = _words(text)[:1]
    return bool(first) and first[0] in _CODE_IMPERATIVES and not _MAY_BE_DOCUMENTATION.search(instruction)


# Comments that direct Python or the shell rather than tell a reader: a shebang, PEP 263's encoding line.
_DIRECTIVE = re.compile(r"^#!|^[ \t\f]*#.*?coding[:=]")


def prose_only(old: str, new: str) -> bool:
    """Whether two Python texts differ in docstrings and comments alone (False when either does not
    parse). Hints count as code here: ``List`` for ``ArrayList`` in a signature fixes a NameError,
    and so do a shebang and an encoding declaration, which only look like comments ("Remove coding
    line")."""
    try:
        before, after = ast.parse(old), ast.parse(new)
    except (SyntaxError, ValueError):
        return False
    if _directives(old) != _directives(new):
        return False
    _strip_documentation(before, hints_too=False)
    _strip_documentation(after, hints_too=False)
    return _first_difference(before, after, None) is False


def layout_changed(old: str, new: str) -> bool:
    """Whether the code of two Python texts is laid out differently, docstrings, comments and blank
    lines aside: parentheses dropped, a call wrapped, spaces mended (False when either does not parse).
    Where ``prose_only`` holds too, the change is one of layout, which carries out a request for
    layout ("Remove redundant parentheses", "Fix line lengths") as much as a change of what runs."""
    lines = [_code_lines(text) for text in (old, new)]
    return lines[0] is not None and lines[1] is not None and lines[0] != lines[1]


# Comments that tools read as instructions: a change of them changes what a linter, a type checker or
# a formatter does, which is code's work ("Add ignore for cyclomatic complexity check." added isort's
# `# skipcq: PY-R1000`).
_TOOL_COMMENT = re.compile(r"#\s*(noqa|type:\s*ignore|pragma\b|pylint:|fmt:|isort:|skipcq|nosec|mypy:|pyright:|ruff:|"
                           r"flake8:|noinspection|lgtm|nolint|pyre-)", re.IGNORECASE)
# What commented-out code does (a call, an assignment, a return, an import): "# see foo(bar)" does
# not parse, "# TODO" parses as a bare name and does nothing
_DOING = (ast.Call, ast.Assign, ast.AugAssign, ast.Return, ast.Import, ast.ImportFrom, ast.Raise, ast.Delete)


def tool_comments_changed(old: str, new: str) -> bool:
    """Whether the comments tools read (``# noqa``, ``# type: ignore``, ``# pragma: no cover``) differ
    between two Python texts."""
    return _comment_texts(old, _TOOL_COMMENT) != _comment_texts(new, _TOOL_COMMENT)


def commented_code_removed(old: str, new: str) -> bool:
    """Whether ``new`` drops a comment of ``old`` that is code commented out (``# print(">>> output",
    section_output)``): isort's "Remove debug prints." removed only such prints."""
    gone = _comment_texts(old) - _comment_texts(new)
    return any(_is_code(comment.lstrip("#").strip()) for comment in gone)


def _comment_texts(text: str, only: re.Pattern | None = None) -> Counter[str]:
    return Counter(comment.strip() for comment in _comments(text) if only is None or only.search(comment))


def _is_code(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(node, _DOING) for node in ast.walk(tree))


def _code_lines(text: str) -> list[str] | None:
    """The lines of ``text`` that hold code, each without its comment: docstring lines, comment-only
    lines and blank lines left out."""
    try:
        tree = ast.parse(text)
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (SyntaxError, ValueError, tokenize.TokenError):
        return None
    documentation = {line for node in ast.walk(tree) if isinstance(body := getattr(node, "body", None), list)
                     for statement in body if is_docstring(statement)
                     for line in range(statement.lineno, (statement.end_lineno or statement.lineno) + 1)}
    lines = text.splitlines()
    for token in reversed(tokens):  # last first, so that a cut never moves a column still to cut
        if token.type == tokenize.COMMENT:
            row, column = token.start
            lines[row - 1] = lines[row - 1][:column].rstrip()
    return [line for number, line in enumerate(lines, 1) if line.strip() and number not in documentation]


def _directives(text: str) -> list[str]:
    return [line for line in text.splitlines()[:2] if _DIRECTIVE.match(line)]


def name_uses(text: str, name: str) -> int | None:
    """How many times the code of ``text`` (Python) spells ``name``: as a variable, a parameter, an
    attribute, a definition or an import; None when it does not parse. A rename made lowers it."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    uses = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.alias):
            uses += name in (node.asname, node.name)
        else:
            uses += sum(getattr(node, field, None) == name for field in ("id", "arg", "attr", "name"))
    return uses


def documentation_changed(old: str, new: str) -> frozenset[str]:
    """Which of "type hints" and "docstrings or comments" differ between two Python texts (empty
    when either does not parse)."""
    try:
        before, after = ast.parse(old), ast.parse(new)
    except (SyntaxError, ValueError):
        return frozenset()
    changed = set()
    if sorted(_hints(before)) != sorted(_hints(after)):
        changed.add("type hints")
    if sorted(_docstrings(before)) != sorted(_docstrings(after)) or sorted(_comments(old)) != sorted(_comments(new)):
        changed.add("docstrings or comments")
    return frozenset(changed)


def _hints(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            found.append(f"{node.name} -> {ast.unparse(node.returns)}")
        elif isinstance(node, ast.arg) and node.annotation is not None:
            found.append(f"{node.arg}: {ast.unparse(node.annotation)}")
        elif isinstance(node, ast.AnnAssign):
            found.append(f"{ast.unparse(node.target)}: {ast.unparse(node.annotation)}")
        elif isinstance(node, ast.stmt) and _is_documentation_statement(node) and not isinstance(
                node, (ast.Import, ast.ImportFrom)):
            found.append(ast.unparse(node))  # T = TypeVar("T"), type aliases
    return found


def _docstrings(tree: ast.AST) -> list[str]:
    return [statement.value.value for node in ast.walk(tree)
            for statement in (node.body if isinstance(getattr(node, "body", None), list) else ())
            if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)]


def _comments(text: str) -> list[str]:
    try:
        return [token.string for token in tokenize.generate_tokens(io.StringIO(text).readline)
                if token.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError):
        return []

"""Reading the data files people ask to edit (JSON, TOML, YAML, INI) the way their tools will.

No tree-sitter grammar is loaded for these, yet they are where one wrong character
breaks a whole project: a ``package.json`` npm cannot read, a ``pyproject.toml`` pip
cannot build, a workflow GitHub will not run, a ``setup.cfg`` or ``tox.ini`` setuptools
and tox refuse. The check stage (:mod:`amigo.checks`) asks two things of a proposed data
file, using each format's reference parser (``json``, ``tomllib`` and ``configparser``
from the standard library, PyYAML for YAML, composed only, so that custom tags such as
mkdocs' ``!!python/name:`` or CloudFormation's ``!Ref`` need no constructor):

* :func:`syntax_error`: does it still parse, and if not, the parser's message and line;
* :func:`keys`: which mapping keys and list entries it holds (as paths, with list items as
  ``*`` and a plain value in a list as ``=`` and its name: ``dependencies.*.=pytest``), so
  that what went missing can be named.

A file judged is read as its old self was: a JSON file that parsed only with comments or
trailing commas (``tsconfig.json``, VS Code's settings: JSONC) is read as JSONC before and
after; a file whose old text did not parse at all (a template, a Helm chart) is not judged,
since the change cannot be blamed for it.
"""

from __future__ import annotations

import configparser
import functools
import json
import math
import re
import tomllib
from collections.abc import Iterator
from typing import Any

import yaml

from amigo.filetypes import language_of

FORMATS = frozenset({"json", "toml", "yaml", "ini"})
KeyPath = tuple[str, ...]
ENTRY = "="  # the first character of a key path's last part that names a plain value in a list
# A list entry's name: its text up to a version or marker (``pytest-asyncio>=0.20`` and
# ``py-make >=0.1.0`` are the packages ``pytest-asyncio`` and ``py-make``), so a bump keeps it;
# after a tox factor condition (``py{38,39}: nbval`` and ``!py37: nbval`` are both ``nbval``)
_ENTRY_NAME = re.compile(r"[^\s<>=!~^;,@\[({:]+")
_FACTOR_CONDITION = re.compile(r"[\w{},.!-]+:\s+(?=\S)")
# A URL is named by its address up to a version (``@v1.2``), fragment or option: cut at its ``:``,
# every ``git+https://...`` entry would be the one package ``git+https``
_URL_NAME = re.compile(r"[\w+.-]+://[^\s@#;,]+")
# What a trailing comma may have between it and the bracket that makes it trailing (matched in
# place: a slice of the rest of the text per comma would make a large file quadratic)
_BLANKS_AND_COMMENTS = re.compile(r"(?:\s+|//[^\n]*|/\*.*?(?:\*/|\Z))*", re.DOTALL)
_TOML_WHERE = re.compile(r"\s*\(at (line (\d+), column \d+|end of document)\)$")


def format_of(path: str) -> str | None:
    """``json``, ``toml`` or ``yaml`` for a data file this module reads, else None."""
    language = language_of(path)
    return language if language in FORMATS else None


def jsonc_to_json(text: str) -> str:
    """``text`` with ``//`` and ``/* */`` comments and trailing commas blanked out (line breaks
    kept, so the strict parser's line numbers stay right); strings are left as they are."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            out.append(text[i:end + 1])
            i = end + 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif c == "," and text[(after := _BLANKS_AND_COMMENTS.match(text, i + 1).end()):after + 1] in ("}", "]"):
            out.append(" ")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _load(text: str, fmt: str, jsonc: bool = False, lists: frozenset[KeyPath] = frozenset()) -> Any:
    """The parsed document(s); raises the format's own error. ``lists``: INI options read as lists
    even when they hold one word (see _ini_value)."""
    if fmt == "json":
        return json.loads(jsonc_to_json(text) if jsonc else text)
    if fmt == "toml":
        return tomllib.loads(text)
    if fmt == "ini":
        return _ini(text, lists)
    return list(yaml.compose_all(text, Loader=yaml.SafeLoader))


def _ini(text: str, lists: frozenset[KeyPath] = frozenset()) -> dict[str, dict[str, Any]]:
    """An INI file (``setup.cfg``, ``tox.ini``, ``.flake8``) as setuptools, tox and flake8 read it
    with ``configparser``: sections of options, names kept as written, no interpolation (``%``
    and ``{posargs}`` are the tools' business); a section or an option given twice is an error,
    as is a line with no ``=`` or ``:`` that continues nothing. ``[DEFAULT]`` is a section like
    the others, and a value of several lines (``install_requires``, ``envlist``) a list of them."""
    parser = configparser.ConfigParser(interpolation=None, strict=True,
                                       default_section="\0", comment_prefixes=("#", ";"),
                                       delimiters=("=", ":"))
    parser.optionxform = str  # type: ignore[assignment, method-assign]  # keep the case as written
    parser.read_string(text)
    return {section: {name: _ini_value(value, (section, name) in lists)
                      for name, value in parser.items(section, raw=True)}
            for section in parser.sections()}


def _ini_value(value: str | None, listed: bool = False) -> Any:
    """A list of entries for a value of several lines or a comma list on one line (see
    ini_entries), else the value as it is. ``listed``: a list even of one word (``envlist = py38,
    py39`` answered with ``envlist = py39`` keeps py39; read alone, one word is a plain value)."""
    if value is None:
        return value
    entries = [entry for line in value.splitlines() for entry in ini_entries(line)]
    return entries if "\n" in value or len(entries) > 1 or (listed and entries) else value


def ini_entries(line: str) -> list[str]:
    """The entries of one line of an INI value: the parts of a comma list of single words, braces
    expanded as tox does (``envlist = py38, py{39,310}, lint`` is four, ``py{38,39}`` two;
    ``ignore = E203,W503``), else the line itself. Prose with commas ("description = Run the
    tests, then lint") has spaces inside its parts and stays one value."""
    parts, depth, start = [], 0, 0
    for at, char in enumerate(line):
        depth += (char == "{") - (char == "}")
        if char == "," and depth == 0:
            parts.append(line[start:at])
            start = at + 1
    parts = [part.strip() for part in [*parts, line[start:]]]
    if any(c.isspace() for part in parts for c in part):
        return [line.strip()] if line.strip() else []
    entries = [entry for part in parts if part for entry in _expand_braces(part)]
    return entries if len(entries) > 1 else [line.strip()] if line.strip() else []


MAX_BRACE_ENTRIES = 256  # of one tox brace word; a larger product is left as written


_BRACES = re.compile(r"\{([^{}]*,[^{}]*)\}")


def _expand_braces(word: str) -> list[str]:
    """tox's reading of a brace word: ``py{38,39}-django{32,42}`` is four environments. The size
    is known before any is made: a word of many braces (every candidate's text is read) could
    otherwise ask for millions."""
    if math.prod(group.count(",") + 1 for group in _BRACES.findall(word)) > MAX_BRACE_ENTRIES:
        return [word]
    found = _BRACES.search(word)
    if found is None:
        return [word]
    return [entry for choice in found.group(1).split(",")
            for entry in _expand_braces(word[:found.start()] + choice.strip() + word[found.end():])]


def _error(exc: Exception, fmt: str) -> tuple[str, int | None]:
    """(the parser's message, the 1-based line it names)."""
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg, exc.lineno
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        return message or str(exc).splitlines()[0], mark.line + 1 if mark else None
    if isinstance(exc, configparser.Error):
        return _ini_error(exc)
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    where = _TOML_WHERE.search(message)  # tomllib keeps the position in its message only
    line = int(where.group(2)) if where and where.group(2) else None
    return _TOML_WHERE.sub("", message), line


def _ini_error(exc: configparser.Error) -> tuple[str, int | None]:
    """(configparser's message without its file name, the line it names)."""
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return "an option before any [section] header", exc.lineno
    if isinstance(exc, configparser.ParsingError):
        line, _ = exc.errors[0]
        return "a line that is neither a [section] header, an option (name = value) nor an indented continuation", line
    if isinstance(exc, (configparser.DuplicateSectionError, configparser.DuplicateOptionError)):
        what = (f"option {exc.option!r} in section {exc.section!r}" if isinstance(exc, configparser.DuplicateOptionError)
                else f"section {exc.section!r}")
        return f"the {what} is given twice", exc.lineno
    return str(exc).splitlines()[0], None


_ERRORS = (json.JSONDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError, configparser.Error, RecursionError,
           ValueError)


@functools.lru_cache(maxsize=16)
def reading(text: str, fmt: str) -> str | None:
    """How ``text`` parses: ``strict``; ``jsonc`` (JSON only, with comments or trailing commas);
    None when it does not parse at all. Cached: every candidate is read against the same old text."""
    try:
        _load(text, fmt)
        return "strict"
    except _ERRORS:
        pass
    if fmt == "json":
        try:
            _load(text, fmt, jsonc=True)
            return "jsonc"
        except _ERRORS:
            pass
    return None


def syntax_error(text: str, fmt: str, jsonc: bool = False) -> tuple[str, int | None] | None:
    """The parser's complaint about ``text`` (message, line), or None when it parses. ``jsonc``:
    comments and trailing commas allowed (a JSONC file stays JSONC)."""
    try:
        _load(text, fmt, jsonc)
    except _ERRORS as exc:
        return _error(exc, fmt)
    return None


@functools.lru_cache(maxsize=16)
def keys(text: str, fmt: str, jsonc: bool = False,
         lists: frozenset[KeyPath] = frozenset()) -> dict[KeyPath, list[int | None]] | None:
    """Every mapping key of ``text`` as a path (list items are ``*``) -> the line of each time it
    occurs (a path under a list occurs once per item), where that is known; None when ``text``
    does not parse. ``lists``: INI options (section, option) read as lists even of one word (what
    an old text wrote as lists). Cached, so callers only read it: every candidate is checked
    against the same old text."""
    try:
        loaded = _load(text, fmt, jsonc, lists)
    except _ERRORS:
        return None
    found: dict[KeyPath, list[int | None]] = {}
    if fmt == "yaml":
        for document in loaded:
            for path, line in _yaml_keys(document, ()):
                found.setdefault(path, []).append(line)
        return found
    for path in _value_keys(loaded, ()):
        found.setdefault(path, []).append(None)
    # the lines that write each key, in file order: by its path in INI, by its name elsewhere
    by_path = fmt == "ini"
    written: dict[Any, list[int]] = _ini_lines(text) if by_path else _key_lines(text, fmt)
    for path, occurrences in found.items():
        lines = written.get(path if by_path else path[-1], [])
        found[path] = [lines[k] if k < len(lines) else None for k in range(len(occurrences))]
    return found


def entry_name(value: str) -> str | None:
    """The name a plain value in a list goes by (see _ENTRY_NAME; a trove classifier, ``A :: B``,
    by all of it), or None for one with none."""
    value = value.strip()
    if " :: " in value:
        return value
    start = condition.end() if (condition := _FACTOR_CONDITION.match(value)) else 0
    found = _URL_NAME.match(value, start) or _ENTRY_NAME.match(value, start)
    return found.group(0) if found else None


def _value_keys(value: Any, prefix: KeyPath) -> Iterator[KeyPath]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, str(key))
            yield from _value_keys(inner, (*prefix, str(key)))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (str, int, float)) and not isinstance(item, bool):
                if name := entry_name(str(item)):
                    yield (*prefix, "*", ENTRY + name)
            else:
                yield from _value_keys(item, (*prefix, "*"))


def _yaml_keys(node: yaml.Node | None, prefix: KeyPath) -> Iterator[tuple[KeyPath, int]]:
    if isinstance(node, yaml.MappingNode):
        for key, inner in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
            yield (*prefix, name), key.start_mark.line + 1
            yield from _yaml_keys(inner, (*prefix, name))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if isinstance(item, yaml.ScalarNode):
                if name := entry_name(str(item.value)):
                    yield (*prefix, "*", ENTRY + name), item.start_mark.line + 1
            else:
                yield from _yaml_keys(item, (*prefix, "*"))


_JSON_KEY = re.compile(r'"((?:[^"\\\n]|\\.)*)"\s*:')
# A TOML or JSON string written as a list entry: after a "[", a comma or the start of its line,
# and not a JSON key
_LISTED_STRING = re.compile(r"""(?:^|(?<=[\[,]))[ \t]*["']([^"'\n]*)["'](?![ \t]*:)""", re.MULTILINE)
_INI_SECTION = re.compile(r"\[([^\]]+)\]")
_TOML_HEADER = re.compile(r"^\s*\[+([^\]]*)\]+")
_TOML_KEY = re.compile(r"""^\s*["']?([^"'=.\s\[]+)["']?\s*[.=]""")


def _key_lines(text: str, fmt: str) -> dict[str, list[int]]:
    """Each key name -> the lines that write it as a key, in one pass (a guess for JSON and TOML,
    whose parsers keep no positions: each ``"key":``; each part of a ``[table.header]`` and the
    first of ``key =`` / ``key.sub =``)."""
    found: dict[str, list[int]] = {}
    if fmt == "json":
        line, at = 1, 0
        for match in _JSON_KEY.finditer(text):
            line += text.count("\n", at, match.start())
            at = match.start()
            try:
                name = json.loads(f'"{match.group(1)}"')
            except ValueError:
                continue
            found.setdefault(name, []).append(line)
        return _with_entry_lines(text, found)
    for number, written in enumerate(text.splitlines(), 1):
        if header := _TOML_HEADER.match(written):
            names = [part.strip().strip("\"'") for part in header.group(1).split(".")]
        elif key := _TOML_KEY.match(written):
            names = [key.group(1)]
        else:
            continue
        for name in dict.fromkeys(names):
            found.setdefault(name, []).append(number)
    return _with_entry_lines(text, found)


def _ini_lines(text: str) -> dict[KeyPath, list[int]]:
    """Each section, option and entry (see ini_entries) -> the lines that write it, by its path:
    ``pytest`` in a section's ``deps`` and in its ``commands`` are two entries on their own lines."""
    found: dict[KeyPath, list[int]] = {}
    section: KeyPath = ()
    option: KeyPath = ()
    for number, written in enumerate(text.splitlines(), 1):
        stripped = written.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if written[0].isspace():
            paths, entries = [], ini_entries(stripped)
        elif header := _INI_SECTION.match(written):
            section = option = (header.group(1),)
            paths, entries = [section], []
        else:
            name, _, value = written.partition("=") if "=" in written.split(":", 1)[0] else written.partition(":")
            option = (*section, name.strip())
            # (the first entry of a value of several lines may stand on the option's line)
            paths, entries = [option], ini_entries(value)
        paths += [(*option, "*", ENTRY + name) for entry in entries if (name := entry_name(entry))]
        for path in paths:
            found.setdefault(path, []).append(number)
    return found


def _with_entry_lines(text: str, found: dict[str, list[int]]) -> dict[str, list[int]]:
    """``found`` with the lines of the strings written as list entries: each one a ``[`` or a
    comma (or the start of its line) opens and no ``:`` follows (a JSON key). One pass over the
    text: a minified JSON file is one line of thousands of strings."""
    line, at = 1, 0
    for match in _LISTED_STRING.finditer(text):
        line += text.count("\n", at, match.start())
        at = match.start()
        if name := entry_name(match.group(1)):
            found.setdefault(ENTRY + name, []).append(line)
    return found

"""What an instruction spells out for the change to write: ``Use `.. deprecated::```, ``with 'from None'``.

An instruction often names the very code it wants: a call (``Sort with
sorted()``), a dotted name (``Use memo.setdefault``), a message in quotes
(``Change the error message to 'mean() requires at least one data point'``),
an entity (``Also replace backticks with &#x60;``). The embedded model answered
such instructions by rewording a docstring or dropping a branch, and each
answer compiled and kept every definition. When none of the terms an
instruction spells out turns up in the change, it did not do what was asked.

Reading errs towards "nothing is spelt out", since a term read wrongly would
refuse a right change under ``--yes``. A term counts only when

* it is in backticks or quotes, or has the shape of code: a call ``f()`` or
  ``f(x, y)``, a dotted name ``a.b`` (or ``A#b``), an entity ``&name;``, an
  exception ``ValueError``; not a file name such as ``setup.py``, nor
  ``from ... import ...``, whose dots stand for anything;
* a word that asks for writing comes right before it (``use``, ``add``,
  ``with``, ``to``, ``raise``, ``return``, ``call``, ``into``, ``also`` and a verb),
  not in a clause of "when" or "if" (``when using `python setup.py install```
  tells when); after "also", not a verb of trouble ("also fix a NetstringException");
  a bare word after ``with`` or ``using`` is a tool or a way (``Reformat with
  `black```), not code; an exception may follow "a" and a word ("Raise a clear
  ValueError"), while "raise the original ImportError" names one that is there;
* the instruction does not report a bug ("Fix ...": what it quotes is what goes
  wrong) or revert a commit (whose subject it quotes).

A term the changed files already hold names what is there (``Document
`duplicates_everseen```) and is not asked to be written again, and so does the
name of a changed module (``Add tests to `test_responses```, one slip away
too: ``test_datastructure`` for ``test_datastructures.py``). What must turn
up is the term itself, or for a call or dotted name its last name
(``from secrets import token_urlsafe`` writes ``secrets.token_urlsafe``), or
for an option or an extra its name (``--man_path`` as ``man_path``, ``[slack]`` as
``slack``). Words in quotes
match whatever their case and joints ('kv consistency' in
``test_kv_consistency``), code whatever its spacing, a term in lower case
whatever its case (``"elseif"`` in ``'ElseIf'``), and a name one slip away from
one the change writes or the files hold (``use `zip_equals``` for
``zip_equal``) counts as that name. How often real commits set it off:
benchmarks/RESULTS.md, "Code the instruction spells out".
"""

from __future__ import annotations

import difflib
import functools
import re
from collections import Counter
from pathlib import PurePosixPath
from typing import Sequence

# A span in backticks, single or double quotes (an apostrophe inside a word is not a quote).
_QUOTED = re.compile(r"`([^`\n]+)`|(?<![\w'])'([^'\n]{2,}?)'(?![\w'])|\"([^\"\n]{2,}?)\"")
# "a.b" or, as some write a method, "A#b"
_CALL = r"(?:[A-Za-z_]\w*[.#])*([A-Za-z_]\w*)\([^()\n]*\)"
_DOTTED = r"[A-Za-z_]\w*(?:[.#][A-Za-z_]\w*)+"
_ENTITY = r"&#?\w+;"
_EXCEPTION = r"[A-Z]\w*(?:Error|Exception|Warning)"
_CODE = re.compile(rf"(?<![\w.])({_CALL}|{_DOTTED}|{_ENTITY}|{_EXCEPTION})(?![\w(])")
# The words right before a term that make it what the change writes.
_WRITING = re.compile(r"(?:\b(?:with|to|use|using|add|added|raise|return|call|into)"
                      r"|\balso\s+(?!fix|avoid|prevent|catch|handle|ignore|skip|silence|suppress)\w+)"
                      r"(?:\s+(?:a|an|the))?\s*$", re.IGNORECASE)
# A new exception may be qualified: "Raise a clear ValueError" ("raise the original ImportError" is one there).
_RAISING = re.compile(r"\b(?:raise|with|to|use)\s+(?:a|an)\s+[a-z]+\s*$", re.IGNORECASE)
_CIRCUMSTANCE = re.compile(r"\b(when|if|while|because|whenever)\b[^,.;:]*$", re.IGNORECASE)
_NOT_ASKING = re.compile(r"\s*(fix(es|ed)?|revert(s|ed)?)\b", re.IGNORECASE)
_FILE_NAME = re.compile(r"\.(py|pyi|rst|md|txt|cfg|toml|ya?ml|json|ini|in|html?|js|css|sh|c|h|lock)$",
                        re.IGNORECASE)
_OPTION = re.compile(r"--?([\w-]+)")
_PROSE = re.compile(r"[A-Za-z]+(?:[\s_-]+[A-Za-z]+)+")  # words, which code may join by "_" or "-"
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
SLIP = 0.85  # difflib's ratio at which a name is read as a slip of another's spelling
_LEAST_SLIP_LENGTH = 5  # shorter names are too alike to tell a slip from another name


def terms(instruction: str) -> list[str]:
    """The terms ``instruction`` spells out for the change to write, in order (see the module)."""
    if _NOT_ASKING.match(instruction):
        return []
    found: list[tuple[int, str]] = []
    quoted: list[tuple[int, int]] = []
    for match in _QUOTED.finditer(instruction):
        found.append((match.start(), next(group for group in match.groups() if group is not None).strip()))
        quoted.append(match.span())
    found += [(match.start(), match.group(1)) for match in _CODE.finditer(instruction)
              if not any(start <= match.start() < end for start, end in quoted)]
    spelt = []
    for start, text in sorted(found):
        before = instruction[:start]
        writing = _WRITING.search(before) or (_RAISING.search(before) if re.fullmatch(_EXCEPTION, text) else None)
        if (not text or "..." in text or _FILE_NAME.search(text) or writing is None
                or _CIRCUMSTANCE.search(before[:writing.start()])):
            continue
        if (re.fullmatch(r"\w+", text) and not re.fullmatch(_EXCEPTION, text)
                and re.match(r"with|using", writing.group(0), re.IGNORECASE)):
            continue
        spelt.append(text)
    return spelt


def written_form(term: str) -> str:
    """What the code holds when it writes ``term``: a call's or dotted name's last name, an
    option's name, else the term."""
    if call := re.fullmatch(_CALL, term):
        return call.group(1)
    if re.fullmatch(_DOTTED, term):
        return re.split(r"[.#]", term)[-1]
    if option := _OPTION.fullmatch(term):
        return option.group(1)
    if extra := re.fullmatch(r"\[([\w.-]+)\]", term):  # an extra, "pip install x[slack]", or a section
        return extra.group(1)
    return term


def _count(text: str, form: str) -> int:
    if _PROSE.fullmatch(form):  # "The Jinja Team" may start a sentence; 'kv consistency' names test_kv_consistency
        words = re.split(r"[\s_-]+", form)
        return len(re.findall(r"[\s_-]+".join(map(re.escape, words)), text, re.IGNORECASE))
    # code may be spaced otherwise ("str | os.PathLike[str]"); a term in lower case may be capitalised ("ElseIf")
    form, text = re.sub(r"\s+", "", form), _squeezed(text)
    return text.lower().count(form) if form.islower() else text.count(form)


@functools.lru_cache(maxsize=16)
def _squeezed(text: str) -> str:
    """``text`` without whitespace; cached, since every term and every candidate reads the same old text."""
    return re.sub(r"\s+", "", text)


def _names(text: str) -> Counter:
    return Counter(_IDENTIFIER.findall(text))


def _slip_of(form: str, names: Sequence[str] | set[str]) -> bool:
    return (len(form) >= _LEAST_SLIP_LENGTH and _IDENTIFIER.fullmatch(form) is not None
            and bool(difflib.get_close_matches(form, names, 1, SLIP)))


def unwritten(changes: Sequence[tuple[str, str | None, str]], instruction: str) -> list[str]:
    """The terms ``instruction`` asks to write when the change writes none of them, else [].
    ``changes``: (path, old text or None for a new file, new text) of every file of the proposal."""
    held = set().union(*(_names(old) for _, old, _ in changes if old))
    modules = {PurePosixPath(path).stem for path, _, _ in changes}
    asked = [(term, form) for term in terms(instruction) if (form := written_form(term))
             and not any(old and _count(old, form) for _, old, _ in changes) and not _slip_of(form, held)
             and form not in modules and not _slip_of(form, modules)]
    if not asked:
        return []
    more = set().union(*(_names(new) - _names(old or "") for _, old, new in changes))
    for _, form in asked:
        if any(_count(new, form) > _count(old or "", form) for _, old, new in changes) or _slip_of(form, more):
            return []
    return [term for term, _ in asked]

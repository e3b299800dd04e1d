"""Which tree-sitter grammar parses which file, loaded lazily and offline.

The grammars come from the official per-language wheels (``tree-sitter-python``
and friends): each ships a compiled parser inside the wheel, so nothing is
downloaded at run time. A language whose wheel is missing is simply treated as
plain text.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from importlib import resources
from typing import Any

from tree_sitter import Language, Parser, Query

from amigo.filetypes import LANGUAGES, extension_of

# A C header may be C or C++; the C++ grammar reads both, so headers are parsed with it.
_PARSED_AS: dict[str, str] = {".h": "cpp"}

# tag language (amigo.filetypes' language name) -> (module, attribute that returns the grammar pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
}

# tsx shares the TypeScript query (plus JSX identifiers, which it ignores)
_QUERY_FILES: dict[str, str] = {"tsx": "typescript"}

TAG_LANGUAGES: tuple[str, ...] = tuple(_GRAMMARS)


def tag_language(path: str) -> str | None:
    """The grammar name for ``path`` (None when no grammar applies: plain text)."""
    extension = extension_of(path)
    language = _PARSED_AS.get(extension) or LANGUAGES.get(extension)
    return language if language in _GRAMMARS else None


@lru_cache(maxsize=None)
def grammar(name: str) -> Language | None:
    """The compiled grammar, or None when its wheel is not installed or none is known for ``name``
    (a file's language name may be one no grammar reads: ``toml``, ``markdown``)."""
    if name not in _GRAMMARS:
        return None
    module_name, attribute = _GRAMMARS[name]
    try:
        module: Any = importlib.import_module(module_name)
    except ImportError:
        return None
    return Language(getattr(module, attribute)())


@lru_cache(maxsize=None)
def query_source(name: str) -> str:
    """Our own tag query for ``name`` (see ``queries/*.scm``)."""
    file_name = _QUERY_FILES.get(name, name) + ".scm"
    return resources.files("amigo.context").joinpath("queries").joinpath(file_name).read_text("utf-8")


@lru_cache(maxsize=None)
def query(name: str) -> Query | None:
    """The compiled tag query for ``name`` (None when the grammar or, in a broken
    install, the query file is missing: the file then gets plain-text handling)."""
    lang = grammar(name)
    if lang is None:
        return None
    try:
        return Query(lang, query_source(name))
    except OSError:
        return None


def parser(name: str) -> Parser | None:
    """A fresh parser for ``name`` (parsers are cheap; one per call keeps threads safe)."""
    lang = grammar(name)
    return Parser(lang) if lang is not None else None

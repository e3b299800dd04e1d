"""Facts about files by their name and first bytes: which language, and whether text at all.

One home for them, so the prompt's fences, the context's parsers, feedback
records, training data and the TUI's highlighting name a file's language the
same way, and every reader calls the same file binary.
"""

from __future__ import annotations

# How much of a file is looked at to call it binary (git and grep look at as much).
BINARY_SNIFF_BYTES = 8192

# Extension (lower case) -> language name, as used in fences, feedback records, tree-sitter
# grammar names and Textual's highlighters. The first extension of a language is the one
# a file in that language is given when only the language is known.
LANGUAGES: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust", ".java": "java",
    ".c": "c", ".h": "c",
    ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
    ".rb": "ruby", ".php": "php", ".cs": "csharp", ".kt": "kotlin", ".swift": "swift",
    ".scala": "scala", ".lua": "lua", ".sh": "bash", ".bash": "bash", ".sql": "sql",
    ".html": "html", ".htm": "html", ".css": "css", ".xml": "xml",
    ".json": "json", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".ini": "ini", ".cfg": "ini",
    ".md": "markdown", ".txt": "text",
}
# Files known by their whole name (dotfiles have no extension): the INI files Python tools read.
NAMES: dict[str, str] = {".flake8": "ini", ".coveragerc": "ini", ".pylintrc": "ini", "pylintrc": "ini"}
_EXTENSIONS: dict[str, str] = {}
for _ext, _language in LANGUAGES.items():
    _EXTENSIONS.setdefault(_language, _ext)


def extension_of(path: str) -> str:
    """The lower-case extension of ``path``'s last part (``""`` for none or a dotfile such as ``.bashrc``).

    String operations rather than ``PurePosixPath``: the context index asks this of every file.
    """
    name = path[path.rfind("/") + 1:]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def language_of(path: str) -> str:
    """The language name for ``path`` (``"text"`` when its name and extension are unknown)."""
    return NAMES.get(path[path.rfind("/") + 1:]) or LANGUAGES.get(extension_of(path), "text")


def extension_for(language: str) -> str | None:
    """The usual extension (with its dot) of a file in ``language``, None when unknown."""
    return _EXTENSIONS.get(language)


def looks_binary(head: bytes) -> bool:
    """NUL bytes in the first :data:`BINARY_SNIFF_BYTES`: not text, whatever the extension says."""
    return b"\0" in head[:BINARY_SNIFF_BYTES]

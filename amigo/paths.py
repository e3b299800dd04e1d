"""The one rule for which files Amigo may read into a prompt or write.

A prompt may go to a remote model server, so what may be read into one is
exactly what may be written: a file inside the repository, never in
``.git/``, never reached through a symlink that leaves the repository (or
leads into ``.git/``). :class:`amigo.workspace.Workspace` applies the rule to
every write and to the file being edited; :mod:`amigo.context` applies it to
the edited path and to every file it indexes; :mod:`amigo.prompt` refuses a
path that is not repository-relative.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from amigo.errors import RefusedError

GIT_DIR = ".git"


def repo_relpath(root: Path, path: Path | str, name: str | None = None) -> str:
    """``path`` (absolute, or relative to ``root``) as a repository-relative path with forward slashes.

    ``root`` is the repository's absolute, resolved folder. Raises
    :class:`RefusedError` naming the path and the reason when it would leave
    the repository: ``..``, an absolute path elsewhere, ``.git/``, or a
    symlink (of the file or of a folder on the way) that leads outside or
    into ``.git/``. The file need not exist yet. Messages call the path
    ``name`` (what the person typed), else ``path``.
    """
    shown = name or path
    raw = Path(path)
    lexical = Path(os.path.normpath(raw if raw.is_absolute() else root / raw))
    try:
        rel = lexical.relative_to(root)
    except ValueError:
        raise RefusedError(f"{shown}: outside the repository {root}; refused "
                           "(Amigo reads and edits only files inside the repository it works in)") from None
    if not rel.parts:
        raise RefusedError(f"{shown}: is the repository folder itself, not a file")
    if GIT_DIR in rel.parts:
        raise RefusedError(f"{shown}: inside .git/; Amigo never reads or edits git's own files")
    real = Path(os.path.realpath(lexical))
    try:
        real_rel = real.relative_to(root)
    except ValueError:
        raise RefusedError(f"{shown}: a symlink leads outside the repository (to {real}); refused") from None
    if GIT_DIR in real_rel.parts:
        raise RefusedError(f"{shown}: a symlink leads into .git/; refused")
    return PurePosixPath(*rel.parts).as_posix()


def check_relative(path: str) -> str:
    """Refuse a name that is not repository-relative (absolute, ``..``, ``.git/``); no disk access.

    For what holds only a name (a prompt, training data): the check that
    needs no repository on disk.
    """
    pure = PurePosixPath(path.replace("\\", "/"))
    if not path or pure.is_absolute():
        raise RefusedError(f"{path!r}: not a path relative to the repository")
    if ".." in pure.parts:
        raise RefusedError(f"{path}: leads out of the repository (..); refused")
    if GIT_DIR in pure.parts:
        raise RefusedError(f"{path}: inside .git/; Amigo never reads or edits git's own files")
    return path

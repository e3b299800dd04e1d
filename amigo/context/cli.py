"""``amigo context PATH``: print exactly what the model would see, and what each step cost."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from amigo import progress
from amigo.cli import parse_lines  # one --lines syntax for every command
from amigo.context.build import build_context
from amigo.errors import EXIT_FAIL, EXIT_USAGE, InputError, RefusedError
from amigo.filetypes import looks_binary
from amigo.paths import repo_relpath
from amigo.prompt import EditRequest, build_messages
from amigo.workspace import find_repo_root


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amigo context",
        description="Show the prompt (with repository context) Amigo would send for an edit.")
    parser.add_argument("path", help="the file being edited")
    parser.add_argument("--lines", type=parse_lines, default=None, metavar="A-B",
                        help="the selected lines (1-based, inclusive)")
    parser.add_argument("--instruction", default="(no instruction given)",
                        help="what the person asked for")
    parser.add_argument("--budget", type=int, default=2048, help="context budget in tokens")
    parser.add_argument("--repo", type=Path, default=None,
                        help="repository root (default: the git work tree around PATH)")
    progress.add_quiet_flag([parser])
    return parser


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; give the path of an existing file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder; give the path of a file") from None
    except OSError as err:
        raise InputError(f"cannot read {path} ({err.strerror}); check its permissions") from None
    if looks_binary(data):
        raise InputError(f"{path} looks binary; Amigo edits text files only")
    return data.decode("utf-8", "replace")


def _root(repo: Path | None, file_path: Path) -> tuple[Path, bool]:
    """The folder whose files may be read, and whether it is a repository to index.

    ``--repo``, else the repository you stand in, else the one around the file
    (as ``amigo edit`` chooses); outside any repository, the file's own folder
    (only the file is shown then).
    """
    if repo is not None:
        return repo.resolve(), True
    found = find_repo_root(Path.cwd()) or find_repo_root(file_path.parent)
    return (found, True) if found is not None else (file_path.parent.resolve(), False)


def main(argv: list[str]) -> int:
    """Entry point of ``amigo context`` (returns the exit status)."""
    args = _parser().parse_args(argv)
    progress.enable(quiet=args.quiet)
    file_path = Path(os.path.abspath(args.path))  # not resolved: a symlink must meet the path rule itself
    root, indexed = _root(args.repo, file_path)
    try:
        rel = repo_relpath(root, file_path if indexed else root / file_path.name, name=args.path)
    except RefusedError as err:
        print(f"amigo context: {err}", file=sys.stderr)
        return EXIT_FAIL
    try:
        text = _read(root / rel)
    except InputError as err:
        print(f"amigo context: {err}", file=sys.stderr)
        return EXIT_FAIL
    n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if args.lines is not None and args.lines[1] > max(n_lines, 1):
        print(f"amigo context: --lines {args.lines[0]}-{args.lines[1]} is past the end of "
              f"{args.path} ({n_lines} lines)", file=sys.stderr)
        return EXIT_USAGE
    if indexed:
        result = build_context(root, rel, text, args.lines, args.instruction, args.budget)
    else:
        result = build_context(None, str(root / rel), text, args.lines, args.instruction, args.budget)
    request = EditRequest(instruction=args.instruction, path=rel, file_text=text,
                          selection=args.lines, context=result.sections)
    for message in build_messages(request):
        print(f"===== {message['role']} =====")
        print(message["content"])
    print("===== notes =====")
    for note in result.notes or ("(none)",):
        print(f"- {note}")
    print(f"===== context: {result.tokens} of {args.budget} tokens; timings =====")
    for step, seconds in result.timings.items():
        print(f"{step:>14}: {seconds * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))

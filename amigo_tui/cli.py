"""``amigo tui [--repo PATH] [FILE]``: start the terminal front end."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amigo tui", description="Amigo in the terminal: select, instruct, review.")
    parser.add_argument("file", nargs="?", help="a file to open at start (relative to the repository)")
    parser.add_argument("--repo", default=None, help="the repository to work in (default: the current folder)")
    parser.add_argument("--test-command", default=None,
                        help="command whose output the fix action (x, ctrl+t) sends, e.g. 'pytest -x -q'")
    return parser


def main(argv: list[str]) -> int:
    """Run the app; configuration errors are printed (not raised) with exit code 1."""
    args = build_parser().parse_args(argv)
    from amigo.cli import require_folder
    from amigo.engine import EditSession
    from amigo.errors import AmigoError
    from amigo_tui.app import AmigoApp

    try:
        require_folder(args.repo)
        session = EditSession.open(args.repo)
    except AmigoError as exc:
        print(f"amigo tui: {exc}", file=sys.stderr)
        return 1
    try:
        app = AmigoApp(session, path=args.file, test_command=args.test_command or session.config.test_command)
        result = app.run()
    finally:
        session.close()
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

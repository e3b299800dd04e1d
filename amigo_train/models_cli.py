"""``amigo models list|show|promote|rollback``: the model registry from the command line.

Standard library only (no torch): a person can inspect or roll back what is
served on a machine without the training stack.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from amigo.errors import AmigoError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amigo models", description="Trained models and what each name serves.")
    parser.add_argument("--registry", help="the registry file (default: $XDG_DATA_HOME/amigo/models/registry.json)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every registered model, newest first")
    show = sub.add_parser("show", help="everything recorded about one model (JSON)")
    show.add_argument("id")
    promote = sub.add_parser("promote", help="serve this model under its name (the previous one is retired)")
    promote.add_argument("id")
    rollback = sub.add_parser("rollback", help="reject what NAME serves and promote the one before it again")
    rollback.add_argument("served_name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``amigo models``; returns the exit status."""
    from amigo_train.models import Registry, format_table

    args = _parser().parse_args(list(argv) if argv is not None else None)
    registry = Registry(Path(args.registry) if args.registry else None)
    try:
        if args.command == "list":
            print(format_table(registry.read()))
        elif args.command == "show":
            print(json.dumps(registry.get(args.id), indent=2, sort_keys=True))
        elif args.command == "promote":
            entry = registry.promote(args.id)
            print(f"{entry['id']} is now promoted as {entry['served_name']!r}; a running server switches on the "
                  "next `amigo train nightly` or `amigo serve` start")
        else:
            entry = registry.rollback(args.served_name)
            print(f"{args.served_name!r} serves {entry['id']} again")
    except AmigoError as err:
        print(f"amigo models: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

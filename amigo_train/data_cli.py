"""``amigo data ...``: check the data registry against the hub, mine commits from git repositories.

``check`` needs network for hub ids; ``--local NAME=FILE`` checks a downloaded copy's
schema offline (the same column check the hub path runs on the first rows).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from amigo import progress
from amigo.errors import AmigoError, ConfigError, UsageError, exit_status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amigo data", description="Training data tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="verify registry ids, licenses and schemas (hub), or list them")
    check.add_argument("names", nargs="*", help="registry names (default: all)")
    check.add_argument("--list", action="store_true", help="print the registry only; no network")
    check.add_argument("--local", action="append", default=[], metavar="NAME=FILE",
                       help="check a local copy's schema instead of the hub (repeatable)")
    check.add_argument("--rows", type=int, default=3, help="rows read to check the schema and adapter")
    mine = sub.add_parser("mine-commits", help="mine CommitPackFT-style records from local git repositories")
    mine.add_argument("repos", nargs="+", help="paths of git repositories")
    mine.add_argument("--out", required=True, help="JSON Lines file to write")
    mine.add_argument("--max-commits", type=int, default=None, help="look at most at this many commits per repo")
    progress.add_quiet_flag(sub.choices.values())
    return parser


def check_rows(entry: Any, rows: list[dict[str, Any]]) -> tuple[str, int]:
    """(schema verdict, how many of ``rows`` the adapter turns into examples)."""
    from amigo_train.adapters import get_adapter

    if not rows:
        return "no rows", 0
    missing = [c for c in entry.columns if c not in rows[0]]
    adapter = get_adapter(entry.adapter)
    usable = sum(1 for r in rows if adapter(r) is not None)
    return ("ok" if not missing else "missing columns: " + ", ".join(missing)), usable


OFFLINE_HELP = ("checking hub ids needs network. Offline, `amigo data check --list` prints the registry, "
                "and `amigo data check --local NAME=FILE` checks a downloaded copy's schema")


def hub_endpoint() -> str:
    """The hub the check asks: ``HF_ENDPOINT`` (a mirror) or huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def require_hub(endpoint: str, timeout: float = 10.0) -> None:
    """Raise a ConfigError that says what to do when the hub cannot be reached.

    Why one probe first: without it every registry entry would wait for its own
    connection timeout and the table would fill with "NO (ConnectError)" rows that
    look like missing data sets, when the machine simply has no network."""
    import httpx

    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise ConfigError(f"HF_HUB_OFFLINE is set, so the hub is not asked: {OFFLINE_HELP}")
    try:
        httpx.head(endpoint, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise ConfigError(f"cannot reach the hub at {endpoint} ({type(exc).__name__}: {reason[:120]}): "
                          f"{OFFLINE_HELP}") from None


def check_hub(entry: Any, n_rows: int, endpoint: str | None = None) -> dict[str, str]:
    """Ask the hub whether the id exists, what license its card names, and read a few rows."""
    from huggingface_hub import HfApi

    out = {"exists": "-", "license": "-", "schema": "-"}
    if not entry.hub_id:
        out["exists"] = "no hub id"
        return out
    try:
        info = HfApi(endpoint=endpoint or hub_endpoint()).dataset_info(entry.hub_id)
    except Exception as exc:  # network errors and 404s both end up here; the row says which
        out["exists"] = f"NO ({type(exc).__name__})"
        return out
    out["exists"] = "yes"
    card = getattr(info, "card_data", None) or getattr(info, "cardData", None)
    out["license"] = str(getattr(card, "license", None) or (card or {}).get("license", "?") if card else "?")
    if entry.data_files:
        try:
            from datasets import load_dataset

            stream = load_dataset(entry.file_format, data_files=list(entry.data_files), split="train", streaming=True)
            rows = [r for _, r in zip(range(n_rows), stream)]
            verdict, usable = check_rows(entry, rows)
            out["schema"] = f"{verdict}; adapter used {usable}/{len(rows)}"
        except Exception as exc:
            out["schema"] = f"FAILED: {type(exc).__name__}: {str(exc)[:80]}"
    return out


def check_local(entry: Any, path: str, n_rows: int) -> dict[str, str]:
    from amigo_train.data import load_records

    ds = load_records([path])
    rows = [ds[i] for i in range(min(n_rows, len(ds)))]
    verdict, usable = check_rows(entry, rows)
    return {"exists": "local", "license": entry.license, "schema": f"{verdict}; adapter used {usable}/{len(rows)}"}


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``amigo data``; returns the exit status."""
    args = _parser().parse_args(list(argv) if argv is not None else None)
    progress.enable(quiet=args.quiet)
    try:
        if args.command == "mine-commits":
            from amigo_train.mine import mine_to_file

            for repo in args.repos:
                if not (Path(repo) / ".git").exists():
                    raise ConfigError(f"{repo} is not a git repository (no .git)")
            stats = mine_to_file(args.repos, args.out, args.max_commits)
            print(f"kept {stats.kept} of {stats.seen} commits -> {args.out}")
            for reason, n in sorted(stats.dropped.items(), key=lambda kv: -kv[1]):
                print(f"  dropped {n:6d}  {reason}")
            return 0
        from amigo_train.registry import REGISTRY, get_entry, table

        entries = [get_entry(n) for n in args.names] if args.names else list(REGISTRY.values())
        if args.list:
            print(table(entries))
            return 0
        local = {}
        for item in args.local:
            if "=" not in item:
                raise UsageError(f"--local takes NAME=FILE, got {item!r}")
            name, path = item.split("=", 1)
            get_entry(name)
            local[name] = path
        if local:
            entries = [get_entry(n) for n in local] if not args.names else entries
        endpoint = hub_endpoint()
        if any(e.name not in local and e.hub_id for e in entries):
            require_hub(endpoint)
        rows = [["name", "hub id", "status", "exists", "license", "schema"]]
        failed = 0
        for entry in entries:
            result = (check_local(entry, local[entry.name], args.rows) if entry.name in local
                      else check_hub(entry, args.rows, endpoint))
            failed += result["exists"].startswith("NO") or not (result["schema"].startswith(("ok", "-")))
            rows.append([entry.name, entry.hub_id or "-", entry.status, result["exists"], result["license"][:30],
                         result["schema"]])
        print(_table(rows))
        return 1 if failed else 0
    except AmigoError as err:
        print(f"amigo data: {err}", file=sys.stderr)
        return exit_status(err)


if __name__ == "__main__":
    raise SystemExit(main())

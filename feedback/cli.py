"""``amigo feedback export|stats|purge|follow-up|push`` (``amigo.cli`` dispatches here).

With ``feedback.url`` set, ``stats`` and ``export`` read the team store
(``--local`` reads this machine's database), ``push`` sends it what it lacks,
and ``purge --repo`` / ``--person`` purges what was pushed as well.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from amigo import progress
from amigo.errors import AmigoError, InputError, UsageError, exit_status
from feedback.settings import FeedbackSettings

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from feedback.store import Reader

USAGE_DATES = "a date like 2026-11-01, 2026-11-01T08:30, or an age like 7d / 12h"


def parse_date(text: str, now: float | None = None) -> float:
    """A UTC timestamp from an ISO date/time (UTC unless it says otherwise) or an age (``7d``, ``12h``)."""
    value = text.strip()
    age = re.fullmatch(r"(\d+)\s*([smhdw])", value)
    if age:
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[age.group(2)]
        return (time.time() if now is None else now) - int(age.group(1)) * seconds
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"cannot read the date {text!r}: give {USAGE_DATES}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _repo_root(start: Path) -> Path | None:
    done = subprocess.run(["git", "-C", str(start), "rev-parse", "--show-toplevel"],
                          capture_output=True, text=True, check=False)
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


def _settings(root: Path | None) -> "FeedbackSettings":
    from amigo.config import load_config

    return load_config(root).feedback


def _db(args: argparse.Namespace, must_exist: bool = True) -> Path:
    from feedback.settings import db_path

    path = Path(args.db).expanduser() if args.db else db_path(_settings(_repo_root(Path.cwd())))
    if must_exist and not path.exists():
        raise InputError(f"no feedback database at {path}: nothing has been recorded yet "
                         "(or feedback.enabled is false); pass --db to read another file")
    return path


@contextlib.contextmanager
def _open_store(args: argparse.Namespace) -> Iterator["Reader"]:
    """The feedback store to read. A machine where nothing was recorded yet has
    no database file at the default place: reading gives an empty store (in a temporary folder, so
    that reading never creates the person's database as a side effect)."""
    from feedback.store import Store

    path = _db(args, must_exist=bool(args.db))  # a --db that names no file is a mistake, not a fresh machine
    if path.exists():
        with Store(path) as store:
            yield store
        return
    with tempfile.TemporaryDirectory(prefix="amigo-feedback-empty-") as folder:
        with Store(Path(folder) / "feedback.db") as store:
            yield store


def _team_url(args: argparse.Namespace) -> str | None:
    """The team store's URL, unless there is none or ``--local`` asks for this machine's database."""
    if getattr(args, "local", False):
        return None
    return _settings(_repo_root(Path.cwd())).url or None


def _reader(args: argparse.Namespace) -> "AbstractContextManager[Reader]":
    """What stats and export read: the team store when one is configured, else the local database."""
    url = _team_url(args)
    if url:
        from feedback.team import TeamStore

        return TeamStore(url)
    return _open_store(args)


def _export(args: argparse.Namespace) -> int:
    from feedback.export import export

    since = parse_date(args.since) if args.since else 0.0
    until = parse_date(args.until) if args.until else None
    with _reader(args) as store:
        result = export(store, args.format, Path(args.out), since, until, args.test_fraction, args.min_retention,
                        args.license)
    counts = result.manifest["counts"]
    print(f"wrote {counts['total']} {args.format} examples ({counts['train']} train, {counts['test']} test, "
          f"{counts['duplicates_dropped']} duplicates dropped) to {result.out}")
    if result.manifest["parquet"] is not True:
        print(f"note: {result.manifest['parquet']}; JSON Lines were written", file=sys.stderr)
    return 0


def _stats(args: argparse.Namespace) -> int:
    from feedback.stats import compute, format_table, plot

    with _reader(args) as store:
        stats = compute(store, parse_date(args.since) if args.since else 0.0)
    if stats.total.proposals == 0:
        print("0 proposals are recorded yet" + (" in that period" if args.since else "")
              + f" (database: {_db(args, must_exist=False)})")
    print(format_table(stats))
    if args.plot:
        print(f"chart written to {plot(stats, Path(args.plot))}")
    return 0


def _purge(args: argparse.Namespace) -> int:
    from feedback.purge import purge, purge_team
    from feedback.repoid import identify
    from feedback.store import Store

    if not (args.repo or args.before or args.all or args.person):
        raise UsageError("purge needs --repo, --person, --before or --all (to delete everything)")
    if args.person and (args.before or args.all):
        raise UsageError("--person purges the team store only: combine it with --repo, not --before or --all")
    repo_id = None
    if args.repo:
        candidate = Path(args.repo).expanduser()
        repo_id = identify(candidate.resolve()).id if candidate.is_dir() else args.repo
    before = parse_date(args.before) if args.before else None
    person = args.person
    url = None if args.local_only else _team_url(args)
    path = _db(args, must_exist=not url)
    if person == "me":
        from feedback.push import identity

        with Store(path) as store:
            person = identity(store, _settings(_repo_root(Path.cwd())))[1]
    if not args.person and path.exists():
        with Store(path) as store:
            print(f"this machine: {purge(store, repo_id, before)}")
    if url and (repo_id or person):
        from feedback.team import TeamStore

        with TeamStore(url) as team:
            print(f"team store {team.url}: {purge_team(team, repo_id, person)}; what other machines have not "
                  "pushed yet of it will stay on them")
    elif url:
        print("the team store is untouched: purge pushed data there with --repo or --person")
    elif person:
        raise InputError("--person purges pushed data, but feedback.url names no team store")
    return 0


def _push(args: argparse.Namespace) -> int:
    from feedback.push import push
    from feedback.store import Store
    from feedback.team import TeamStore

    if args.batch < 1:
        raise InputError(f"--batch {args.batch}: give the number of rows per transaction, 1 or more")
    settings = _settings(_repo_root(Path.cwd()))
    if not settings.url:
        raise InputError("feedback.url is not set: name the team store (postgresql://user@host:port/database) "
                         "in amigo.toml or AMIGO_FEEDBACK__URL, and the password in AMIGO_FEEDBACK_PASSWORD")
    path = _db(args, must_exist=False)
    if not path.exists():
        print("nothing to push: no feedback database yet")
        return 0

    def progress(kind: str, count: int) -> None:
        if not args.quiet:
            print(f"  {kind}: {count} sent", flush=True)

    with Store(path) as store, TeamStore(settings.url) as team:
        print(push(store, team, settings, batch=args.batch, progress=progress), flush=True)
    return 0


def _follow_up(args: argparse.Namespace) -> int:
    from feedback.followup import follow_up_store
    from feedback.repoid import identify
    from feedback.store import Store

    start = Path(args.repo).expanduser() if args.repo else Path.cwd()
    root = _repo_root(start)
    if root is None:
        raise InputError(f"{start} is not inside a git repository: run this in the repository to follow up")
    settings = _settings(root)
    path = Path(args.db).expanduser() if args.db else None
    if path is None:
        from feedback.settings import db_path

        path = db_path(settings)
    if not path.exists():
        print("nothing to follow up: no feedback database yet")
        return 0
    with Store(path) as store:
        print(follow_up_store(store, root.resolve(), identify(root.resolve()).id, settings))
    return 0


def _publish(args: argparse.Namespace) -> int:
    """Upload an export (its card included) as a Hub dataset, private unless --public."""
    from amigo.hub import check_repo_id, folder_files, upload_folder

    check_repo_id(args.repo_id)
    folder = Path(args.folder)
    if not (folder / "manifest.json").is_file():
        raise InputError(f"{folder} holds no export (no manifest.json): run `amigo feedback export --out {folder}` first")
    files = folder_files(folder)
    if not args.dry_run:
        upload_folder(folder, args.repo_id, not args.public, "dataset", "Upload Amigo preference data")
    verb = "would upload" if args.dry_run else "uploaded"
    for path, size in files:
        print(f"{verb} {path} ({size:,} bytes)")
    visibility = "public" if args.public else "private"
    print(f"{len(files)} files -> https://huggingface.co/datasets/{args.repo_id} ({visibility})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from feedback.export import FORMATS

    parser = argparse.ArgumentParser(prog="amigo feedback", description="The preference data Amigo keeps.")
    parser.add_argument("--db", help="the database file (default: feedback.db_path, else "
                        "$XDG_DATA_HOME/amigo/feedback.db)")
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write DPO/SFT datasets (Parquet + JSON Lines) for training, or the "
                        "requests as asked (for replaying held-out ones through a model)")
    ex.add_argument("--format", choices=FORMATS, required=True)
    ex.add_argument("--out", required=True, help="folder to write jsonl/, parquet/ and manifest.json into")
    ex.add_argument("--since", help=f"only proposals made since then: {USAGE_DATES}")
    ex.add_argument("--until", help="only proposals made before then")
    ex.add_argument("--test-fraction", "--eval-fraction", dest="test_fraction", type=float, default=0.1,
                    help="share of requests held out as the test split (stable by request: a request's retries "
                    "and repairs stay on its side)")
    ex.add_argument("--min-retention", type=float, default=0.5, help="sft: least retention kept (0..1)")
    ex.add_argument("--license", default="other", help="Hub license id for the dataset card (default: other)")
    ph = sub.add_parser("publish", help="upload an export folder to the Hugging Face Hub as a dataset (private)")
    ph.add_argument("folder", help="the folder `amigo feedback export --out` wrote")
    ph.add_argument("--repo-id", required=True, help="ORG/NAME")
    ph.add_argument("--public", action="store_true", help="create the dataset public (default private)")
    ph.add_argument("--dry-run", action="store_true", help="list what would be uploaded; send nothing")
    st = sub.add_parser("stats", help="proposals, accept rate, retention per model, language, week")
    st.add_argument("--plot", metavar="PNG", help="also write a chart")
    st.add_argument("--since")
    for p in (ex, st):
        p.add_argument("--local", action="store_true", help="read this machine's database, not the team store")
    pu = sub.add_parser("purge", help="delete records for real (then VACUUM), here and in the team store")
    pu.add_argument("--repo", help="a repository folder or a repository id (as stats shows); "
                    "also purged from the team store")
    pu.add_argument("--person", help="a person id (as push shows; 'me' for yours): purge what they pushed "
                    "from the team store")
    pu.add_argument("--before", help=f"records made before: {USAGE_DATES} (this machine only)")
    pu.add_argument("--all", action="store_true", help="delete everything on this machine")
    pu.add_argument("--local-only", action="store_true", help="leave the team store alone")
    pu_ = sub.add_parser("push", help="send the team store (feedback.url) what it lacks")
    pu_.add_argument("--batch", type=int, default=500, help="rows per transaction (default 500)")
    fu = sub.add_parser("follow-up", help="measure retention and capture corrections now")
    fu.add_argument("--repo", help="the repository (default: the current one)")
    for p in (ex, st, pu, fu, pu_):
        p.add_argument("--db", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    progress.add_quiet_flag(sub.choices.values())
    return parser


def main(argv: list[str]) -> int:
    """Run one ``amigo feedback`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    progress.enable(quiet=args.quiet)
    handlers = {"export": _export, "stats": _stats, "purge": _purge, "follow-up": _follow_up, "push": _push,
                "publish": _publish}
    try:
        return handlers[args.command](args)
    except AmigoError as exc:
        print(f"amigo feedback {args.command}: {exc}", file=sys.stderr)
        return exit_status(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))

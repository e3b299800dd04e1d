#!/usr/bin/env python3
"""Benchmark amigo.edits on real commits with the mistakes models really make.

For every changed text file of every commit (this repository's history, plus
any repositories given on the command line, plus with --stdlib a repository
built from the standard libraries of the Python versions installed by pyenv,
one commit per version), render the change with ``edits.render``, then apply
each block on its own (to the text as the earlier blocks left it) after a
perturbation:

  clean     the rendered block, untouched
  context   3 more lines of context each side (what models usually copy)
  indent    context block, indentation drifted (dedented, or 4 spaces added)
  trailing  context block, trailing spaces on half the SEARCH lines
  blank     context block with one blank context line dropped (both sides)
  elision   6 lines of context each side, their middles replaced by '...'
  crlf      the file uses CRLF, the block LF
  combo     indent + trailing + blank together
  lostblank context block whose SEARCH alone lost one interior blank line
            (REPLACE as rendered: the way models copy SEARCH carelessly)
  dotfile   the whole answer for a file whose path has a part starting with
            '.' (.pre-commit-config.yaml, .github/workflows/ci.yml), applied
            by path through apply_answer: the path line must name the file

An outcome is *correct* when the result equals what the clean block gives,
*blank-only* when it differs from that only in blank lines, *refused* when
apply raises EditError, and *WRONG* otherwise (must be 0).

Then the worst case of the matcher's work: a one-line edit near the top of a
file of N repeated short lines, against the same edit in N unique lines, each
applied and diffed as `amigo apply` does (apply_answer, unified_diff, hunks),
side by side in one run; the ratio must stay under 3 (exit status 1 if not).

    python benchmarks/edit_apply.py [REPO ...] [--stdlib] [--max-commits N]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from amigo import edits  # noqa: E402
from amigo.edits import EditBlock, EditError  # noqa: E402
from amigo.edits.lines import indent_of, key, split_lines  # noqa: E402
from amigo.edits.match import find_exact  # noqa: E402

DUMP: Path | None = None  # --dump-wrong: pickles of wrong cases, for debugging
PERTURBATIONS = ["clean", "context", "indent", "trailing", "blank", "elision", "crlf", "combo", "lostblank"]
SCALING_SIZES = (8_000, 16_000, 32_000)
MAX_RATIO = 3.0
STDLIB_FILES = [
    "argparse.py", "difflib.py", "textwrap.py", "dataclasses.py", "functools.py", "json/__init__.py",
    "json/decoder.py", "json/encoder.py", "shutil.py", "subprocess.py", "typing.py", "enum.py",
    "logging/__init__.py", "http/client.py", "urllib/parse.py", "ast.py", "inspect.py", "tarfile.py",
    "configparser.py", "csv.py", "string.py", "statistics.py", "fractions.py", "tempfile.py",
    "contextlib.py", "collections/__init__.py", "asyncio/tasks.py", "email/message.py",
    "unittest/case.py", "pprint.py", "heapq.py", "bisect.py", "copy.py", "glob.py", "fnmatch.py",
]


@dataclass
class Tally:
    outcomes: Counter = field(default_factory=Counter)
    tiers: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    wrong_examples: list[str] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)


def _reason(message: str) -> str:
    """The kind of refusal, from its message."""
    for needle, kind in (("matches", "ambiguous"), ("leaves out", "left-out line"),
                         ("does not have", "extra line"), ("not found", "not found"),
                         ("'...'", "elision"), ("more than one", "ambiguous")):
        if needle in message:
            return kind
    return "other"


# ---------------------------------------------------------------- sources


def git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True).stdout


def commit_files(repo: Path, max_commits: int, max_bytes: int, subjects: Callable[[str], bool] | None = None,
                 ) -> Iterator[tuple[str, str, list[tuple[str, str, str]]]]:
    """(hash, subject, [(path, old text, new text), ...]) of the last non-merge commits, newest first:
    each file the commit changed that is UTF-8 text within ``max_bytes`` (old "" when it was added,
    new "" when deleted; a root commit is compared with the empty tree). ``repo`` may be a clone or
    a bare mirror. ``subjects``: only the commits whose subject it accepts (read before any diff)."""
    log = git(repo, "log", "--no-merges", "--format=%H%x00%s", "-n", str(max_commits)).decode(errors="replace")
    for sha, _, subject in (line.partition("\0") for line in log.splitlines()):
        if subjects is not None and not subjects(subject):
            continue
        parents = git(repo, "rev-list", "--parents", "-n", "1", sha).decode().split()[1:]
        base = parents[0] if parents else "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # empty tree
        names = git(repo, "diff", "--name-only", "--no-renames", base, sha).decode().splitlines()
        files = []
        for name in names:
            old, new = _show(repo, base, name, max_bytes), _show(repo, sha, name, max_bytes)
            if old is not None and new is not None and old != new:
                files.append((name, old, new))
        yield sha, subject, files


def file_pairs(repo: Path, max_commits: int, max_bytes: int) -> Iterator[tuple[str, str, str]]:
    """(label, old text, new text) for each changed UTF-8 file of the last commits."""
    for sha, _, files in commit_files(repo, max_commits, max_bytes):
        for name, old, new in files:
            yield f"{repo.name}@{sha[:8]}:{name}", old, new


def _show(repo: Path, rev: str, name: str, max_bytes: int) -> str | None:
    r = subprocess.run(["git", "-C", str(repo), "show", f"{rev}:{name}"], capture_output=True)
    if r.returncode != 0:
        return ""  # added or deleted in this commit
    if len(r.stdout) > max_bytes or b"\0" in r.stdout:
        return None
    try:
        return r.stdout.decode("utf-8")
    except UnicodeDecodeError:
        return None


def stdlib_repo(dest: Path) -> Path | None:
    """A git repo with one commit per installed Python version's copy of STDLIB_FILES."""
    roots = sorted(Path("/root/.pyenv/versions").glob("3.*/lib/python3.*"), key=lambda p: _version(p))
    debian = Path("/usr/lib/python3.11")
    if debian.is_dir():
        roots.insert(next((i for i, r in enumerate(roots) if _version(r) >= (3, 11)), len(roots)), debian)
    if len(roots) < 2:
        return None
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    for root in roots:
        for name in STDLIB_FILES:
            src, dst = root / name, dest / name
            if src.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(src.read_bytes())
            elif dst.exists():
                dst.unlink()
        git(dest, "add", "-A", ".")
        git(dest, "-c", "user.name=bench", "-c", "user.email=bench@invalid", "commit", "-q",
            "--allow-empty", "-m", f"stdlib from {root}")
    return dest


def _version(path: Path) -> tuple[int, ...]:
    name = path.parts[-3] if "pyenv" in str(path) else "3.11.2"
    return tuple(int(x) for x in name.split(".") if x.isdigit())


# ---------------------------------------------------------------- perturbations


def _lines(text: str) -> list[str]:
    return split_lines(text)


def _extend(evolving: str, blk: EditBlock, n: int) -> tuple[list[str], list[str], list[str], list[str]]:
    """n unchanged lines above and below the block's match (its SEARCH is unique)."""
    flines = split_lines(evolving)
    fkeys = [key(x) for x in flines]
    s = _lines(blk.search)
    start = find_exact(fkeys, [key(x) for x in s])[0] if s else len(flines)
    end = start + len(s)
    above = [x if x.endswith("\n") else x + "\n" for x in flines[max(0, start - n) : start]]
    below = [x if x.endswith("\n") else x + "\n" for x in flines[end : end + n]]
    if end < len(flines) and below and not flines[min(end + n, len(flines)) - 1].endswith("\n"):
        below = below[:-1]  # keep the no-final-newline line out of SEARCH: simpler to reason about
    return above, s, _lines(blk.replace), below


def _mk(blk: EditBlock, search: list[str], replace: list[str]) -> EditBlock:
    return EditBlock(blk.path, "".join(search), "".join(replace), blk.index, blk.eol)


def _with_context(evolving: str, blk: EditBlock, n: int = 3) -> EditBlock:
    above, s, r, below = _extend(evolving, blk, n)
    return _mk(blk, above + s + below, above + r + below)


def _indent(blk: EditBlock, rng: random.Random) -> EditBlock:
    s, r = _lines(blk.search), _lines(blk.replace)
    nonblank = [x for x in s + r if x.strip()]
    common = min((len(x) - len(x.lstrip(" ")) for x in nonblank), default=0)
    if common:
        shift = (lambda x: x[common:] if x.strip() else x)
    else:
        shift = (lambda x: "    " + x if x.strip() else x)
    return _mk(blk, [shift(x) for x in s], [shift(x) for x in r])


def _trailing(blk: EditBlock, rng: random.Random) -> EditBlock:
    s = [key(x) + "  \n" if x.strip() and rng.random() < 0.5 else x for x in _lines(blk.search)]
    return _mk(blk, s, _lines(blk.replace))


def _blank(evolving: str, blk: EditBlock, rng: random.Random) -> EditBlock | None:
    """The context block with one blank context line (not its first or last line) left out
    of both SEARCH and REPLACE: the same file line on both sides, as a careless copy does."""
    above, s, r, below = _extend(evolving, blk, 3)
    search = above + s + below
    candidates = [("a", i) for i, x in enumerate(above) if not x.strip() and i > 0]
    candidates += [("b", i) for i, x in enumerate(below) if not x.strip() and i < len(below) - 1]
    if not candidates:
        return None
    side, i = rng.choice(candidates)
    if side == "a":
        above = above[:i] + above[i + 1 :]
    else:
        below = below[:i] + below[i + 1 :]
    if len(above + s + below) != len(search) - 1:
        return None
    return _mk(blk, above + s + below, above + r + below)


def _lost_blank(evolving: str, blk: EditBlock, rng: random.Random) -> EditBlock | None:
    """The context block with one interior blank line of its SEARCH (one with non-blank
    lines above and below it) left out of SEARCH only; REPLACE stays as rendered."""
    above, s, r, below = _extend(evolving, blk, 3)
    search = above + s + below
    body = [i for i, x in enumerate(search) if x.strip()]
    if not body:
        return None
    inner = [i for i, x in enumerate(search) if not x.strip() and body[0] < i < body[-1]]
    if not inner:
        return None
    i = rng.choice(inner)
    return _mk(blk, search[:i] + search[i + 1 :], above + r + below)


def _elision(evolving: str, blk: EditBlock, rng: random.Random) -> EditBlock | None:
    above, s, r, below = _extend(evolving, blk, 6)
    if len(above) < 6 and len(below) < 6:
        return None

    def dots(neighbour: str) -> str:
        return indent_of(key(neighbour)) + rng.choice(["...", "# ..."]) + "\n"

    top = above[:2] + [dots(above[-1])] + above[-1:] if len(above) == 6 else above
    bottom = below[:1] + [dots(below[0])] + below[-2:] if len(below) == 6 else below
    return _mk(blk, top + s + bottom, top + r + bottom)


# ---------------------------------------------------------------- run


def run_pair(label: str, old: str, new: str, tallies: dict[str, Tally], rng: random.Random,
             max_blocks: int) -> int:
    answer = edits.render(old, new, "f")
    blocks = edits.parse_blocks(answer).blocks
    chosen = set(rng.sample(range(len(blocks)), min(max_blocks, len(blocks))))
    evolving = old
    for blk in blocks:
        expected, _ = edits.apply_block(evolving, blk)
        if blk.index in chosen:
            for name in PERTURBATIONS:
                case = perturb(name, evolving, blk, rng)
                if case is None:
                    continue
                text, block, want = case
                tally = tallies[name]
                t0 = time.perf_counter()
                try:
                    got, tier = edits.apply_block(text, block)
                except EditError as err:
                    tally.outcomes["refused"] += 1
                    tally.reasons[_reason(str(err))] += 1
                    tally.seconds += time.perf_counter() - t0
                    continue
                tally.seconds += time.perf_counter() - t0
                tally.tiers[tier] += 1
                if got == (want if want is not None else expected):
                    tally.outcomes["correct"] += 1
                elif blank_only(got, want if want is not None else expected):
                    tally.outcomes["blank-only"] += 1
                else:
                    tally.outcomes["WRONG"] += 1
                    if DUMP is not None:
                        import pickle
                        DUMP.mkdir(parents=True, exist_ok=True)
                        with open(DUMP / f"{name}-{len(list(DUMP.iterdir()))}.pickle", "wb") as fh:
                            pickle.dump((text, block, want if want is not None else expected, label, blk), fh)
                    if len(tally.wrong_examples) < 5:
                        tally.wrong_examples.append(f"{label} block {blk.index}:\n{block.search}=====\n{block.replace}")
        evolving = expected
    if evolving != new:
        raise SystemExit(f"render round trip failed for {label}")
    return len(blocks)


def perturb(name: str, evolving: str, blk: EditBlock, rng: random.Random) -> tuple[str, EditBlock, str | None] | None:
    if name == "clean":
        return evolving, blk, None
    if not blk.search:
        return None  # file creation: nothing to perturb
    ctx = _with_context(evolving, blk)
    if name == "context":
        return evolving, ctx, None
    if name == "indent":
        return evolving, _indent(ctx, rng), None
    if name == "trailing":
        return evolving, _trailing(ctx, rng), None
    if name == "blank":
        b = _blank(evolving, blk, rng)
        return None if b is None else (evolving, b, None)
    if name == "elision":
        b = _elision(evolving, blk, rng)
        return None if b is None else (evolving, b, None)
    if name == "crlf":
        if "\r" in evolving or blk.eol is not None:
            return None
        want, _ = edits.apply_block(evolving, blk)
        return evolving.replace("\n", "\r\n"), blk, want.replace("\n", "\r\n")
    if name == "combo":
        b = _blank(evolving, blk, rng)
        return None if b is None else (evolving, _trailing(_indent(b, rng), rng), None)
    if name == "lostblank":
        b = _lost_blank(evolving, blk, rng)
        return None if b is None else (evolving, b, None)
    raise ValueError(name)


def blank_only(got: str, want: str) -> bool:
    """Do two texts differ only in blank lines?"""
    def body(text: str) -> list[str]:
        return [line for line in split_lines(text) if line.strip()]
    return got != want and body(got) == body(want)


def is_dotfile(path: str) -> bool:
    return any(part.startswith(".") for part in path.split("/"))


def run_dotfile(path: str, old: str, new: str, tally: Tally) -> None:
    """The whole rendered answer, naming ``path``, applied by path as `amigo apply` does."""
    answer = edits.render(old, new, path)
    t0 = time.perf_counter()
    result = edits.apply_answer(answer, {path: old or None}, "")
    tally.seconds += time.perf_counter() - t0
    if result.errors:
        tally.outcomes["refused"] += 1
        tally.reasons[_reason(result.errors[0])] += 1
    elif result.new_texts == {path: new}:
        tally.outcomes["correct"] += 1
        tally.tiers["path"] += 1
    else:
        tally.outcomes["WRONG"] += 1
        tally.wrong_examples.append(f"{path}:\n{answer}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repos", nargs="*", type=Path, help="more git repositories to take commits from")
    parser.add_argument("--stdlib", action="store_true", help="also build and use a repo of Python stdlib versions")
    parser.add_argument("--no-self", action="store_true", help="skip this repository's own history")
    parser.add_argument("--max-commits", type=int, default=200)
    parser.add_argument("--max-blocks", type=int, default=25, help="blocks sampled per changed file")
    parser.add_argument("--max-file-bytes", type=int, default=400_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-wrong", action="store_true")
    parser.add_argument("--why", action="store_true", help="count refusals by reason")
    parser.add_argument("--dump-wrong", type=Path, help="write each wrong case as a pickle here")
    parser.add_argument("--only", help="only files whose label contains this")
    args = parser.parse_args(argv)
    global DUMP
    DUMP = args.dump_wrong

    repos = [] if args.no_self else [Path(__file__).resolve().parents[1]]
    repos += args.repos
    tmp = tempfile.TemporaryDirectory()
    if args.stdlib:
        built = stdlib_repo(Path(tmp.name) / "cpython-stdlib")
        if built is None:
            print("no pyenv Python versions found; --stdlib skipped", file=sys.stderr)
        else:
            repos.append(built)
    rng = random.Random(args.seed)
    tallies: dict[str, Tally] = defaultdict(Tally)
    files = blocks = 0
    render_s = 0.0
    t_start = time.perf_counter()
    for repo in repos:
        for label, old, new in file_pairs(repo, args.max_commits, args.max_file_bytes):
            if args.only and args.only not in label:
                continue
            t0 = time.perf_counter()
            blocks += run_pair(label, old, new, tallies, rng, args.max_blocks)
            path = label.split(":", 1)[1]
            if is_dotfile(path):
                run_dotfile(path, old, new, tallies["dotfile"])
            render_s += time.perf_counter() - t0
            files += 1
    total_s = time.perf_counter() - t_start
    print(f"repos: {', '.join(str(r) for r in repos)}")
    print(f"changed files: {files}, rendered blocks: {blocks} (every render round-trips), "
          f"total {total_s:.1f}s\n")
    print(f"{'perturbation':<12}{'edits':>7}{'correct %':>11}{'refused %':>11}{'blank-only':>12}{'WRONG':>7}"
          f"{'edits/s':>10}  tiers")
    all_wrong = 0
    for name in PERTURBATIONS + ["dotfile"]:
        t = tallies[name]
        n = sum(t.outcomes.values())
        if not n:
            continue
        all_wrong += t.outcomes["WRONG"]
        tiers = " ".join(f"{k}:{v}" for k, v in t.tiers.most_common())
        rate = n / t.seconds if t.seconds else 0
        print(f"{name:<12}{n:>7}{100 * t.outcomes['correct'] / n:>10.1f}%{100 * t.outcomes['refused'] / n:>10.1f}%"
              f"{t.outcomes['blank-only']:>12}{t.outcomes['WRONG']:>7}{rate:>10.0f}  {tiers}")
        if args.why and t.reasons:
            print(" " * 12 + "refused: " + ", ".join(f"{k} {v}" for k, v in t.reasons.most_common()))
        if args.show_wrong:
            for ex in t.wrong_examples:
                print("---- WRONG", ex)
    tmp.cleanup()
    slow = scaling()
    return 1 if all_wrong or slow else 0


# ---------------------------------------------------------------- worst case


def _one_line_edit(lines: list[str]) -> tuple[str, str]:
    """The file and an answer that changes its line 10 (unique in either file)."""
    lines = list(lines)
    lines[9] = "value = compute(1)\n"
    text = "".join(lines)
    answer = "f.py\n<<<<<<< SEARCH\nvalue = compute(1)\n=======\nvalue = compute(2)\n>>>>>>> REPLACE\n"
    return text, answer


def _apply_seconds(text: str, answer: str, repeats: int = 3) -> float:
    """Best of ``repeats``: apply the answer, then the diff and hunks the front ends show."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = edits.apply_answer(answer, {"f.py": text}, "f.py")
        new = result.new_texts["f.py"]
        edits.unified_diff("f.py", text, new)
        edits.hunks(text, new)
        best = min(best, time.perf_counter() - t0)
    return best


def scaling() -> bool:
    """Print the worst-case rows; True when repeated lines cost MAX_RATIO times unique ones."""
    print(f"\nworst case: one-line edit near the top, apply + diff + hunks (best of 3)")
    print(f"{'lines':>7}{'unique s':>10}{'repeated s':>12}{'ratio':>9}")
    too_slow = False
    for n in SCALING_SIZES:
        unique = _apply_seconds(*_one_line_edit([f"item_{i} = {i}\n" for i in range(n)]))
        repeated = _apply_seconds(*_one_line_edit(["    pass\n"] * n))
        ratio = repeated / unique
        too_slow |= n == SCALING_SIZES[-1] and ratio >= MAX_RATIO
        print(f"{n:>7}{unique:>10.4f}{repeated:>12.4f}{ratio:>9.2f}")
    return too_slow


if __name__ == "__main__":
    sys.exit(main())

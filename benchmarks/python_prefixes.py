"""Does the streaming syntax stop ever judge valid Python broken? Every line prefix of real files.

    python benchmarks/python_prefixes.py                 # 700 files of each of two samples
    python benchmarks/python_prefixes.py --files 200 --seeds 7

The engine stops reading a sampled whole-format answer once
:func:`amigo.checks.python_prefix_error` says its code holds a syntax error
that no continuation can fix. Stopping a valid answer would turn it into a
failure, so this feeds that function every line prefix (the first line, the
first two, ...) of Python files that compile: the standard library and the
installed packages (up to 20,000 characters each, the size of an answer and
more). Any prefix judged broken is printed: the count should be 0.
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amigo.checks import python_prefix_error  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=700, help="files per sample")
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3], help="one sample of files per seed")
    args = parser.parse_args(argv)
    roots = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]}
    files = sorted({f for root in roots for f in glob.glob(os.path.join(root, "**", "*.py"), recursive=True)})
    print(f"# {len(files)} .py files under {', '.join(sorted(roots))}; load average {os.getloadavg()[0]:.2f}")
    started = time.monotonic()
    seen: set[str] = set()
    checked = prefixes = broken = 0
    for seed in args.seeds:
        sample = list(files)
        random.Random(seed).shuffle(sample)
        for path in sample[: args.files]:
            if path in seen:
                continue
            seen.add(path)
            try:
                text = Path(path).read_text(encoding="utf-8")
                compile(text, path, "exec", dont_inherit=True)
            except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
                continue
            if len(text) > 20_000:
                continue
            checked += 1
            lines = text.splitlines(keepends=True)
            for i in range(1, len(lines) + 1):
                prefixes += 1
                if (error := python_prefix_error("".join(lines[:i]))) is not None:
                    broken += 1
                    print(f"judged broken: {path} after line {i} ({lines[i - 1].strip()[:60]!r}): {error}")
                    break
    print(f"{checked} files, {prefixes} line prefixes, {broken} judged broken; "
          f"{time.monotonic() - started:.0f} s")
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())

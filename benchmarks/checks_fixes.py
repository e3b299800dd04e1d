"""The check stage on known right fixes of published bug benchmarks: every error finding here
is a false alarm, one ``--yes`` would turn into a refused right edit.

    python benchmarks/checks_fixes.py                         # data in AMIGO_DATA_DIR or ../shared/data
    python benchmarks/checks_fixes.py --data-dir DIR --show   # each fix with an error finding

Each case is a buggy program, its reference fix and an instruction of the
kind a person would give: HumanEvalFix (HumanEvalPack, Python: the buggy
solution and the canonical one under the function's declaration, "Fix bugs in
ENTRY_POINT.", the benchmark's own instruction), QuixBugs (Python: "Fix the bug
in NAME."), and DebugBench (Python 3: the buggy code and the oracle code, with
the benchmark's explanation of the bug as the instruction, "Fix the bug: ...").
DebugBench's oracle is often another solution altogether, so there the fix is a
rewrite of the class, as a strong model may answer. ``benchmarks/checks_history.py``
is the same measure on real commits, whose subjects are terser than any instruction.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from amigo.checks import Finding, check_changes  # noqa: E402
from amigo_train.eval.data import read_jsonl  # noqa: E402

Case = tuple[str, str, str, str]  # (id, buggy program, fixed program, instruction)


def humanevalfix(data: Path) -> Iterator[Case]:
    """HumanEvalPack's Python fixes: the declaration (imports and signature) with each body."""
    for r in read_jsonl(data / "humanevalpack" / "python.jsonl"):
        yield (r["task_id"], r["declaration"] + r["buggy_solution"], r["declaration"] + r["canonical_solution"],
               f"Fix bugs in {r['entry_point']}.")


def quixbugs(data: Path) -> Iterator[Case]:
    for r in read_jsonl(data / "quixbugs" / "quixbugs_python.jsonl"):
        yield f"QuixBugs/{r['name']}", r["buggy_program"], r["solution"], f"Fix the bug in {r['name']}."


# What LeetCode's Python 3 runs a solution with, written out as a module in a repository would hold
# it: DebugBench's programs use these names without importing them.
LEETCODE_PRELUDE = """\
import bisect, collections, functools, heapq, itertools, math, operator, random, re, string
from bisect import bisect_left, bisect_right, insort
from collections import Counter, OrderedDict, defaultdict, deque
from functools import cache, lru_cache, reduce
from heapq import heapify, heappop, heappush, heappushpop, heapreplace, nlargest, nsmallest
from itertools import accumulate, chain, combinations, groupby, permutations, product, zip_longest
from math import ceil, comb, factorial, floor, gcd, inf, isqrt, lcm, log, log2, sqrt
from operator import add, and_, attrgetter, gt, itemgetter, lt, mul, or_, sub, xor
from typing import Dict, List, Optional, Set, Tuple


"""
# The node classes its problems give, left out where the program defines its own.
LEETCODE_CLASSES = {
    "ListNode": "class ListNode:\n    def __init__(self, val=0, next=None):\n        self.val, self.next = val, next\n",
    "TreeNode": "class TreeNode:\n    def __init__(self, val=0, left=None, right=None):\n"
                "        self.val, self.left, self.right = val, left, right\n",
    "Node": "class Node:\n    def __init__(self, val=None, children=None):\n        self.val, self.children = val, children\n",
}


def leetcode_module(buggy: str, fixed: str) -> tuple[str, str]:
    """Both programs under LEETCODE_PRELUDE and the node classes the fixed one does not define
    (its problem's definition of them is often in a comment or docstring)."""
    defined = {node.name for node in ast.parse(fixed).body if isinstance(node, ast.ClassDef)}
    classes = "".join(f"\n\n{text}" for name, text in LEETCODE_CLASSES.items() if name not in defined)
    return LEETCODE_PRELUDE + classes + "\n\n" + buggy.strip() + "\n", LEETCODE_PRELUDE + classes + "\n\n" + fixed.strip() + "\n"


def debugbench(data: Path) -> Iterator[Case]:
    """DebugBench's Python 3 cases as modules (leetcode_module); its explanation of the bug is the
    instruction where it has one (the cases with two to four bugs have none)."""
    for path in sorted((data / "debugbench" / "benchmark").glob("python3_*.json")):
        for r in json.loads(path.read_text(encoding="utf-8")):
            explanation = " ".join(r.get("explanations", "").split())
            buggy, fixed = leetcode_module(r["buggy_code"], r["oracle_code"])
            yield (f"DebugBench/{path.stem.removeprefix('python3_')}/{r['slug']}", buggy, fixed,
                   f"Fix the bug: {explanation}" if explanation else "Fix the bugs.")


# name -> (its folder in the data directory, its reader)
SOURCES = {"HumanEvalFix": ("humanevalpack", humanevalfix), "QuixBugs": ("quixbugs", quixbugs),
           "DebugBench": ("debugbench", debugbench)}


def error_findings(case: Case) -> list[Finding]:
    """The error findings the check stage has for the fix."""
    _, buggy, fixed, instruction = case
    return [f for f in check_changes([("solution.py", buggy, fixed)], instruction) if f.level == "error"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("AMIGO_DATA_DIR") or REPO.parent / "shared" / "data"))
    parser.add_argument("--show", action="store_true", help="print each fix with an error finding")
    args = parser.parse_args(argv)
    missing = [name for name, (folder, _) in SOURCES.items() if not (args.data_dir / folder).is_dir()]
    if missing:
        print(f"no {', '.join(missing)} data in {args.data_dir}: pass --data-dir (e.g. ../shared/data)",
              file=sys.stderr)
        return 1
    rows = ["| source | fixes | with an error finding | by kind |", "|---|---|---|---|"]
    for name, (_, read) in SOURCES.items():
        cases = flagged = 0
        kinds: Counter = Counter()
        for case in read(args.data_dir):
            cases += 1
            found = error_findings(case)
            flagged += bool(found)
            kinds.update({f.kind for f in found})
            if found and args.show:
                print(f"{case[0]}  ({case[3][:100]})")
                for f in found:
                    print(f"    {f.kind}: {f.message[:200]}")
        by_kind = ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()) or "-"
        rows.append(f"| {name} | {cases} | {flagged} ({100 * flagged / max(cases, 1):.1f}%) | {by_kind} |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

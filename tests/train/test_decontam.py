"""Decontamination against evaluation sets laid out like the shared data directory."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from amigo_train.adapters import commitpackft, instruct_code
from amigo_train.decontam import Decontaminator, decontaminate, load_problems

HUMANEVAL_0 = {"task_id": "HumanEval/0", "prompt": "from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n    \"\"\"\n",
               "canonical_solution": "    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n                if distance < threshold:\n                    return True\n\n    return False\n"}
MBPP_1 = {"task_id": 1, "text": "Write a function to find the minimum cost path to reach (m, n) from (0, 0) for the given cost matrix.", "code": "def min_cost(cost, m, n):\n    return cost[m][n]\n"}


def _data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "evaldata"
    (root / "humaneval").mkdir(parents=True)
    with gzip.open(root / "humaneval" / "HumanEval.jsonl.gz", "wt") as fh:
        fh.write(json.dumps(HUMANEVAL_0) + "\n")
    (root / "mbpp").mkdir()
    (root / "mbpp" / "mbpp.jsonl").write_text(json.dumps(MBPP_1) + "\n")
    return root


def test_overlapping_examples_are_dropped_with_a_report(tmp_path: Path) -> None:
    problems = load_problems(_data_dir(tmp_path), ["humaneval", "mbpp", "quixbugs"])
    assert len(problems["humaneval"]) == 1 and len(problems["mbpp"]) == 1 and problems["quixbugs"] == []
    index = Decontaminator.from_problems(problems, n=13)
    leaked = instruct_code({"instruction": "Check closeness.",
                            "output": "```python\n" + HUMANEVAL_0["prompt"] + HUMANEVAL_0["canonical_solution"] + "```"})
    # reformatted whitespace does not hide the overlap
    leaked_mbpp = instruct_code({"instruction": MBPP_1["text"].replace(" ", "  "), "output": "```python\nx = 1\n```"})
    clean = commitpackft({"old_file": "a.py", "new_file": "a.py", "old_contents": "x = 1\n", "new_contents": "x = 2\n",
                          "subject": "Change x to two in module a"})
    rows = [dict(e, id=str(i), source="s") for i, e in enumerate([leaked, leaked_mbpp, clean])]
    kept, dropped = decontaminate(rows, index)
    assert [e["id"] for e in kept] == ["2"]
    assert dropped[0]["problems"] == ["humaneval/0"] and dropped[1]["problems"] == ["mbpp/0"]


def test_boilerplate_ngrams_shared_by_many_problems_are_ignored() -> None:
    boiler = "import sys\nimport os\nfrom typing import List, Dict, Tuple, Optional\n"
    problems = {"humaneval": [boiler + f"def f{i}(): return {i}" for i in range(8)]}
    index = Decontaminator.from_problems(problems, n=8)
    assert index.hits(boiler) == set()
    assert index.hits(boiler + "def f3(): return 3") != set()

"""Small benchmark files in each real schema, written by the tests (never the real data).

Imported by the evaluation suite's fixture and by the nightly loop's tests.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

ADD_PROMPT = 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b.\n    >>> add(2, 3)\n    5\n    """\n'
ADD_TEST = "\n\ndef check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-4, 4) == 0\n"
QUAD_PROMPT = ('def _double(x: int) -> int:\n    return 2 * x\n\n\n'
               'def quad(x: int) -> int:\n    """Four times x, using _double."""\n')
QUAD_TEST = "\n\ndef check(candidate):\n    assert candidate(3) == 12\n    assert candidate(0) == 0\n"

HUMANEVAL = [
    {"task_id": "HumanEval/0", "prompt": ADD_PROMPT, "canonical_solution": "    return a + b\n",
     "test": ADD_TEST, "entry_point": "add"},
    {"task_id": "HumanEval/1", "prompt": QUAD_PROMPT, "canonical_solution": "    return _double(_double(x))\n",
     "test": QUAD_TEST, "entry_point": "quad"},
]

HUMANEVALPLUS = [
    dict(HUMANEVAL[0], base_input=[[2, 3], [-4, 4]], plus_input=[[10**6, 1], [0, 0], [7, -9]], atol=0,
         contract="\n    assert isinstance(a, int)\n"),
    dict(HUMANEVAL[1], base_input=[[3], [0]], plus_input=[[-5], [123]], atol=0, contract=""),
]

MBPP = [
    {"task_id": "11", "text": "Write a function to reverse a string.",
     "code": "def rev(s):\r\n    return s[::-1]", "test_setup_code": "",
     "test_list": "['assert rev(\"ab\") == \"ba\"', 'assert rev(\"\") == \"\"']", "challenge_test_list": "[]"},
    {"task_id": "12", "text": "Write a function to find the largest of three numbers.",
     "code": "def big3(a, b, c):\n    return max(a, b, c)", "test_setup_code": "",
     "test_list": "['assert big3(1, 5, 2) == 5', 'assert big3(-1, -5, -2) == -1']", "challenge_test_list": "[]"},
    {"task_id": "600", "text": "outside the standard test split", "code": "x = 1", "test_setup_code": "",
     "test_list": "['assert x == 1']", "challenge_test_list": "[]"},
]

MBPPPLUS = [
    {"task_id": "Mbpp/11", "prompt": '"""\nWrite a function to reverse a string.\nassert rev("ab") == "ba"\n"""\n',
     "entry_point": "rev", "canonical_solution": "\ndef rev(s):\n    return s[::-1]\n",
     "base_input": [["ab"], [""]], "plus_input": [["racecar"], ["xyz" * 50]], "atol": 0, "contract": "",
     "assertion": '\nassert rev("ab") == "ba"\n'},
    {"task_id": "Mbpp/13", "prompt": '"""\nWrite a function to compute the mean of a list.\n"""\n',
     "entry_point": "mean", "canonical_solution": "def mean(xs):\n    return sum(xs) / len(xs)\n",
     "base_input": [[[1, 2]]], "plus_input": [[[0.1, 0.2, 0.3]], [[1e9, 1.0]]], "atol": 1e-9, "contract": "",
     "assertion": "\nassert math.isclose(mean([1, 2]), 1.5)\n"},
]

PACK_PYTHON = [
    {"task_id": "Python/0", "prompt": ADD_PROMPT, "declaration": "def add(a: int, b: int) -> int:\n",
     "canonical_solution": "    return a + b\n", "buggy_solution": "    return a - b\n",
     "test": ADD_TEST.replace("candidate", "add").replace("def check(add)", "def check(add)") + "\ncheck(add)\n",
     "entry_point": "add", "bug_type": "operator misuse", "failure_symptoms": "incorrect output"},
    {"task_id": "Python/1", "prompt": QUAD_PROMPT, "declaration": QUAD_PROMPT.split('    """')[0],
     "canonical_solution": "    return _double(_double(x))\n", "buggy_solution": "    while True:\n        x = _double(x)\n",
     "test": QUAD_TEST + "\ncheck(quad)\n", "entry_point": "quad", "bug_type": "missing logic",
     "failure_symptoms": "infinite loop"},
]

PACK_JS = [
    {"task_id": "JavaScript/0", "prompt": "/* Add two numbers. */\nconst add = (a, b) => {\n",
     "declaration": "\nconst add = (a, b) => {\n", "canonical_solution": "  return a + b;\n}\n",
     "buggy_solution": "  return a - b;\n}\n", "entry_point": "add",
     "test": "const testAdd = () => {\n  console.assert(add(2, 3) === 5)\n}\ntestAdd()\n"},
]

QUIXBUGS = [
    {"name": "gcd", "buggy_program": "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(a % b, b)",
     "docstring": '"""Greatest common divisor."""',
     "solution": "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(b, a % b)",
     "tests": "assert gcd(*[12, 18]) == 6\nassert gcd(*[7, 5]) == 1"},
    {"name": "count_up", "buggy_program": "def count_up(n):\n    i = 0\n    while i != n:\n        i += 2\n    return i",
     "docstring": "", "solution": "def count_up(n):\n    i = 0\n    while i < n:\n        i += 1\n    return i",
     "tests": "assert count_up(*[3]) == 3"},
]

DEBUGBENCH = [
    {"slug": "add-two", "description": "Return the sum of two integers.",
     "examples": ["Input: a = 1, b = 2\nOutput: 3", "Input: a = -1, b = 1\nOutput: 0\nExplanation: none"],
     "constraints": "", "release_time": 0, "level": "easy", "explanations": "uses minus",
     "oracle_code": "class Solution:\n    def addTwo(self, a: int, b: int) -> int:\n        return a + b",
     "buggy_code": "class Solution:\n    def addTwo(self, a: int, b: int) -> int:\n        return a - b"},
    {"slug": "list-thing", "description": "skipped: uses a linked list",
     "examples": ["Input: head = [1,2]\nOutput: [2,1]"], "constraints": "", "release_time": 0, "level": "easy",
     "explanations": "",
     "oracle_code": "class Solution:\n    def rev(self, head: Optional[ListNode]) -> Optional[ListNode]:\n        pass",
     "buggy_code": "class Solution:\n    def rev(self, head): pass"},
    {"slug": "sum-list", "description": "Sum a list.",
     "examples": ["Input: nums = [1,2,3], flag = true\nOutput: 6"], "constraints": "", "release_time": 0,
     "level": "easy", "explanations": "",
     "oracle_code": "class Solution:\n    def total(self, nums: List[int], flag: bool) -> int:\n        return sum(nums)",
     "buggy_code": "class Solution:\n    def total(self, nums: List[int], flag: bool) -> int:\n        return sum(nums[1:])"},
]

GSM8K = [
    {"question": "Ann has 3 apples and buys 4 more. How many apples does she have?",
     "answer": "She has 3 + 4 = <<3+4=7>>7 apples.\n#### 7"},
    {"question": "A book costs $1,200 and is discounted by $200. What is the price?",
     "answer": "1,200 - 200 = <<1200-200=1000>>1000\n#### 1,000"},
]


def _jsonl(path: Path, rows: list[dict], gz: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def write_fixture_data(root: Path) -> Path:
    """Lay out ``root`` like the shared data folder, with the tiny data sets above."""
    _jsonl(root / "humaneval" / "HumanEval.jsonl.gz", HUMANEVAL, gz=True)
    _jsonl(root / "humanevalplus" / "HumanEvalPlus.jsonl.gz", HUMANEVALPLUS, gz=True)
    _jsonl(root / "mbpp" / "mbpp.jsonl", MBPP)
    _jsonl(root / "mbppplus" / "MbppPlus.jsonl", MBPPPLUS)
    _jsonl(root / "humanevalpack" / "python.jsonl", PACK_PYTHON)
    _jsonl(root / "humanevalpack" / "js.jsonl", PACK_JS)
    _jsonl(root / "quixbugs" / "quixbugs_python.jsonl", QUIXBUGS)
    _jsonl(root / "gsm8k" / "test.jsonl", GSM8K)
    bench = root / "debugbench" / "benchmark"
    bench.mkdir(parents=True)
    (bench / "python3_condition_error.json").write_text(json.dumps(DEBUGBENCH), encoding="utf-8")
    return root


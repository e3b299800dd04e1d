"""Bug-fixing benchmarks: HumanEvalFix (HumanEvalPack), QuixBugs and DebugBench."""

from __future__ import annotations

import ast
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from amigo.edits import apply_answer
from amigo.errors import InputError
from amigo.filetypes import extension_for
from amigo.prompt import ContextSection, EditRequest, build_messages, render_answer
from amigo_train.eval.data import data_dir, locate, read_jsonl, require
from amigo_train.eval.sandbox import Job, Limits, Sandbox
from amigo_train.eval.tasks.base import Outcome, Problem, Task, extract_code, fenced, python_imports

AMIGO_PROMPT_FORMAT = ("amigo.prompt.build_messages, blocks format: the buggy file as the file, the tests as "
                       "context, the benchmark's fix instruction; the answer is applied with "
                       "amigo.edits.apply_answer and the resulting file is run")


class EditCase(NamedTuple):
    """A repair problem as an editor request: the file, its buggy and fixed text, the ask and the tests."""

    path: str
    buggy: str
    fixed: str
    instruction: str
    tests: str


class RepairTask(Task):
    """A bug-fixing benchmark that can also be put as an editor request (see :class:`EditorStyle`)."""

    def edit_case(self, problem: Problem) -> EditCase:
        """``problem`` as the file an editor would send and the fix it should come back with."""
        raise NotImplementedError

    def available(self) -> tuple[bool, str]:
        """Whether the tools that run this task's programs are installed."""
        return True, ""


class EditorStyle(Task):
    """A repair task asked the way the editor asks (SEARCH/REPLACE blocks); the edited file is run.

    Wraps the plain task: problems, programs and limits are its; only the prompt,
    the reference and buggy answers, and scoring (apply the blocks first) differ.
    """

    prompt_format = AMIGO_PROMPT_FORMAT

    def __init__(self, task: RepairTask) -> None:
        self.task = task
        self.name = task.name + "@amigo"
        self.wall_s, self.memory_mb = task.wall_s, task.memory_mb
        self.needs_sandbox, self.calibrate = task.needs_sandbox, task.calibrate

    def available(self) -> tuple[bool, str]:
        return self.task.available()

    def load(self, data_dir: str | Path | None = None, download: bool = False) -> list[Problem]:
        return self.task.load(data_dir, download)

    def request(self, problem: Problem) -> EditRequest:
        """The editor request: the buggy file, the tests as context, the benchmark's instruction."""
        case = self.task.edit_case(problem)
        context = (ContextSection("tests", "Unit tests", case.tests),) if case.tests else ()
        return EditRequest(instruction=case.instruction, path=case.path, file_text=case.buggy, context=context,
                           edit_format="blocks")

    def messages(self, problem: Problem) -> list[dict[str, str]]:
        return build_messages(self.request(problem))

    def reference(self, problem: Problem) -> str:
        return render_answer(self.request(problem), self.task.edit_case(problem).fixed)

    def buggy(self, problem: Problem) -> str | None:
        return "The code looks correct to me; no change is needed."

    def job(self, problem: Problem, answer: str) -> Job | None:
        return self.task.job(problem, answer)

    def score(self, problem: Problem, answer: str, sandbox: Sandbox | None) -> Outcome:
        """Apply the answer's blocks to the buggy file, then run the result as the plain task would."""
        case = self.task.edit_case(problem)
        applied = apply_answer(answer, {case.path: case.buggy}, case.path, "blocks")
        if not applied.ok:
            return Outcome(False, "failed", "the edit did not apply: " + "; ".join(applied.errors)[:1400],
                           {"applies": 0.0})
        outcome = self.task.score(problem, fenced(applied.new_texts.get(case.path, case.buggy)), sandbox)
        return Outcome(outcome.passed, outcome.status, outcome.detail, {"applies": 1.0})


@dataclass(frozen=True)
class Language:
    """How HumanEvalPack code in one language is fenced, assembled and run."""

    key: str          # file name in humanevalpack/
    fence: str
    tags: tuple[str, ...]
    filename: str
    run: str          # shell command run in the sample's folder
    tool: str         # must be on PATH
    prelude: str = ""
    memory_mb: int | None = None
    wall_s: float = 30.0


LANGUAGES: dict[str, Language] = {
    "python": Language("python", "python", ("python", "py", "python3"), "", "", "python3", memory_mb=1024,
                       wall_s=10.0),
    # console.assert only logs in Node; make it throw so a failed check fails the run
    "js": Language("js", "javascript", ("javascript", "js", "node"), "main.js", "node main.js", "node",
                   prelude="console.assert = (ok, ...m) => { if (!ok) throw new Error('Assertion failed ' + m.join(' ')); };\n"),
    "cpp": Language("cpp", "cpp", ("cpp", "c++", "cc"), "main.cpp", "g++ -std=c++17 -O1 -o main main.cpp $(grep -q openssl main.cpp && echo -lcrypto) && ./main", "g++"),
    "java": Language("java", "java", ("java",), "Main.java",
                     "javac -J-Xmx512m Main.java && java -Xmx512m -XX:+UseSerialGC Main", "javac"),
}


# global npm modules (JavaScript/162 needs `js-md5`: `npm install -g js-md5`)
NODE_PATH = "/usr/local/lib/node_modules:/usr/lib/node_modules"


class HumanEvalFix(RepairTask):
    """HumanEvalFix (OctoPack): a buggy function plus its unit tests; fix the bug."""

    name = "humanevalfix"
    prompt_format = ("chat, zero-shot, 'HumanEvalFixTests' layout: the buggy function and its tests in "
                     "fences, then 'Fix bugs in {entry_point}.'; the answer's code block replaces the function")

    def __init__(self, language: str = "python") -> None:
        if language not in LANGUAGES:
            raise InputError(f"HumanEvalFix language {language!r} is not supported; use one of "
                             f"{', '.join(LANGUAGES)}")
        self.lang = LANGUAGES[language]
        if language != "python":
            self.name = f"humanevalfix-{language}"
        self.wall_s = self.lang.wall_s
        self.memory_mb = self.lang.memory_mb

    def edit_case(self, problem: Problem) -> EditCase:
        d = problem.data
        return EditCase(f"solution{extension_for(self.lang.fence)}", d["declaration"] + d["buggy_solution"],
                        d["declaration"] + d["canonical_solution"], f"Fix bugs in {d['entry_point']}.", d["test"])

    def available(self) -> tuple[bool, str]:
        """Whether this language's toolchain is installed."""
        if shutil.which(self.lang.tool):
            return True, ""
        return False, f"{self.lang.tool} is not installed"

    def load(self, data_dir: str | Path | None = None, download: bool = False) -> list[Problem]:
        path = locate(f"humanevalpack/{self.lang.key}.jsonl", data_dir, download)
        problems = []
        for rec in read_jsonl(path):
            require(rec, ("task_id", "declaration", "buggy_solution", "canonical_solution", "test",
                          "entry_point"), str(path))
            problems.append(Problem(rec["task_id"], rec))
        return problems

    def messages(self, problem: Problem) -> list[dict[str, str]]:
        d = problem.data
        code = d["declaration"] + d["buggy_solution"]
        content = (f"{fenced(code, self.lang.fence)}\n{fenced(d['test'], self.lang.fence)}\n"
                   f"Fix bugs in {d['entry_point']}. Answer with the complete fixed function in one "
                   f"```{self.lang.fence} code block.")
        return [{"role": "user", "content": content}]

    def reference(self, problem: Problem) -> str:
        return fenced(problem.data["declaration"] + problem.data["canonical_solution"], self.lang.fence)

    def buggy(self, problem: Problem) -> str | None:
        return fenced(problem.data["declaration"] + problem.data["buggy_solution"], self.lang.fence)

    def job(self, problem: Problem, answer: str) -> Job:
        d = problem.data
        entry = d["entry_point"]
        limits = Limits(wall_s=self.wall_s, memory_mb=self.memory_mb, file_mb=64)
        if self.lang.key == "python":
            code = extract_code(answer, self.lang.tags, must_contain=f"def {entry}")
            if f"def {entry}" in code:
                program = python_imports(d["prompt"]) + d["prompt"] + "    pass\n\n" + code
            else:
                program = d["declaration"] + code
            return Job(code=program + "\n\n" + d["test"] + "\n", limits=limits)
        code = extract_code(answer, self.lang.tags, must_contain=entry)
        if not _defines(code, d["declaration"], entry):
            code = d["declaration"] + code
        elif self.lang.key == "cpp" and "#include" not in code:
            code = _cpp_headers(d["declaration"]) + code
        elif self.lang.key == "java" and "import " not in code:
            code = "import java.util.*;\nimport java.lang.*;\n" + code
        source = self.lang.prelude + code + "\n" + d["test"] + "\n"
        env = {"NODE_PATH": NODE_PATH} if self.lang.key == "js" else {}
        return Job(argv=("sh", "-c", self.lang.run), files={self.lang.filename: source}, limits=limits, env=env)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _defines(code: str, declaration: str, entry: str) -> bool:
    """Whether ``code`` holds the whole function (its signature) rather than just a body."""
    lines = [line for line in declaration.splitlines() if line.strip()]
    signature = _squash(lines[-1]) if lines else ""
    if signature and signature in _squash(code):
        return True
    return re.search(rf"(function\s+{re.escape(entry)}\b|\b{re.escape(entry)}\s*=|"
                     rf"\b{re.escape(entry)}\s*\([^)]*\)\s*\{{)", code) is not None


def _cpp_headers(declaration: str) -> str:
    return "".join(line + "\n" for line in declaration.splitlines()
                   if line.startswith("#include") or line.startswith("using namespace"))


class QuixBugs(RepairTask):
    """QuixBugs (Python): 40 classic algorithms with a one-line bug each."""

    name = "quixbugs"
    prompt_format = ("chat, zero-shot: the buggy program and its docstring in a ```python fence, then "
                     "'Fix the bug in {name}.'; the answer's code block is run against the tests")
    wall_s = 5.0  # three buggy programs loop forever

    def edit_case(self, problem: Problem) -> EditCase:
        d = problem.data
        return EditCase(f"{d['name']}.py", d["buggy_program"].rstrip() + "\n", d["solution"].rstrip() + "\n",
                        f"Fix the bug in {d['name']}.", d["tests"])

    def load(self, data_dir: str | Path | None = None, download: bool = False) -> list[Problem]:
        path = locate("quixbugs/quixbugs_python.jsonl", data_dir, download)
        problems = []
        for rec in read_jsonl(path):
            require(rec, ("name", "buggy_program", "solution", "tests"), str(path))
            problems.append(Problem(f"QuixBugs/{rec['name']}", rec))
        return problems

    def messages(self, problem: Problem) -> list[dict[str, str]]:
        d = problem.data
        content = (f"{fenced(d['buggy_program'])}\n{d.get('docstring', '')}\n\nFix the bug in {d['name']}. "
                   "Answer with the complete fixed program in one ```python code block.")
        return [{"role": "user", "content": content}]

    def reference(self, problem: Problem) -> str:
        return fenced(problem.data["solution"])

    def buggy(self, problem: Problem) -> str | None:
        return fenced(problem.data["buggy_program"])

    def job(self, problem: Problem, answer: str) -> Job:
        d = problem.data
        code = extract_code(answer, must_contain=f"def {d['name']}")
        return Job(code=code + "\n\n" + d["tests"] + "\n", limits=self.limits())


_ASSIGN = re.compile(r"(\w+)\s*=\s*")


def _parse_example(example: str) -> tuple[dict[str, object], object] | None:
    """``Input: a = 1, b = [2]`` / ``Output: 3`` as Python values, or None if not literal."""
    m = re.search(r"Input:\s*(.*?)\s*\n\s*Output:\s*(.*?)\s*(?:\n|$)", example, re.S)
    if not m:
        return None
    raw_args, raw_out = m.group(1).strip(), m.group(2).strip()
    names = list(_ASSIGN.finditer(raw_args))
    if not names or names[0].start() != 0:
        return None
    args: dict[str, object] = {}
    for i, name in enumerate(names):
        end = names[i + 1].start() if i + 1 < len(names) else len(raw_args)
        text = raw_args[name.end():end].strip().rstrip(",").strip()
        try:
            args[name.group(1)] = ast.literal_eval(text.replace("null", "None").replace("true", "True")
                                                   .replace("false", "False"))
        except (ValueError, SyntaxError):
            return None
    try:
        out = ast.literal_eval(raw_out.replace("null", "None").replace("true", "True").replace("false", "False"))
    except (ValueError, SyntaxError):
        return None
    return args, out


def _method_of(code: str) -> str | None:
    m = re.search(r"class Solution[^:]*:\s*\n(?:\s*#.*\n|\s*\n)*\s+def (\w+)\(self", code)
    return m.group(1) if m else None


class DebugBench(Task):
    """DebugBench (Python3): LeetCode solutions with injected bugs.

    Upstream scores by submitting to LeetCode; offline we run the problem's
    own examples (``Input: ... Output: ...``) against the fixed ``Solution``.
    Only problems whose examples are plain literals and whose signature uses
    no ListNode/TreeNode are kept, so the score is over that subset.
    """

    name = "debugbench"
    prompt_format = ("chat, zero-shot: problem description + buggy Solution in a ```python fence, then "
                     "'Fix the bug.'; scored offline on the problem's own examples (subset with literal I/O)")
    wall_s = 10.0
    calibrate = True

    def load(self, data_dir_arg: str | Path | None = None, download: bool = False) -> list[Problem]:
        folder = data_dir(data_dir_arg)
        bench = folder / "debugbench" / "benchmark" if folder else None
        if bench is None or not bench.is_dir():
            raise InputError("cannot find debugbench/benchmark/ in the data folder: pass --data-dir DIR "
                             "(a copy of the benchmark data, e.g. ../shared/data) or set AMIGO_DATA_DIR")
        problems = []
        for path in sorted(bench.glob("python3_*.json")):
            records = json.loads(path.read_text(encoding="utf-8"))
            for index, rec in enumerate(records):
                require(rec, ("slug", "oracle_code", "buggy_code", "examples"), str(path))
                if "ListNode" in rec["oracle_code"] or "TreeNode" in rec["oracle_code"]:
                    continue
                method = _method_of(rec["oracle_code"])
                cases = [c for c in (_parse_example(e) for e in rec["examples"]) if c is not None]
                if method is None or not cases or len(cases) != len(rec["examples"]):
                    continue
                try:
                    json.dumps(cases)
                except (TypeError, ValueError):
                    continue
                kind = path.stem.removeprefix("python3_")
                data = dict(rec, method=method, cases=[[a, o] for a, o in cases], bug_kind=kind)
                problems.append(Problem(f"DebugBench/{kind}/{index}/{rec['slug']}", data))
        return problems

    def messages(self, problem: Problem) -> list[dict[str, str]]:
        d = problem.data
        content = (f"{d.get('description', '')}\n\n{fenced(d['buggy_code'].strip())}\n"
                   "Fix the bug in this code. Answer with the complete fixed code in one ```python code block.")
        return [{"role": "user", "content": content}]

    def reference(self, problem: Problem) -> str:
        return fenced(problem.data["oracle_code"])

    def buggy(self, problem: Problem) -> str | None:
        return fenced(problem.data["buggy_code"])

    def job(self, problem: Problem, answer: str) -> Job:
        d = problem.data
        code = extract_code(answer, must_contain="class Solution")
        header = ("from typing import *\nfrom collections import *\nfrom itertools import *\n"
                  "from functools import *\nfrom heapq import *\nfrom bisect import *\nfrom math import *\n"
                  "import math, re, string, collections, heapq, bisect, itertools, functools, random\n"
                  "inf = float('inf')\n")
        checks = (
            f"import json as _json\n_cases = _json.loads({json.dumps(json.dumps(d['cases']))})\n"
            "for _args, _want in _cases:\n"
            f"    _got = Solution().{d['method']}(**_args)\n"
            "    if isinstance(_want, float) or isinstance(_got, float):\n"
            "        assert abs(_got - _want) < 1e-5, (_args, _got, _want)\n"
            "    else:\n"
            "        assert _got == _want or (isinstance(_got, tuple) and list(_got) == _want), (_args, _got, _want)\n"
        )
        return Job(code=header + code + "\n\n" + checks, limits=self.limits())

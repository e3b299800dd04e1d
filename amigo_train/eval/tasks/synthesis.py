"""Code synthesis benchmarks: HumanEval, HumanEval+, MBPP and MBPP+."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from amigo_train.eval.data import locate, read_jsonl, require
from amigo_train.eval.sandbox import Job
from amigo_train.eval.tasks.base import Problem, Task, extract_code, fenced

_HE_INSTRUCTION = (
    "Complete the following Python function. Answer with the complete function, "
    "including its signature and any imports it needs, in one ```python code block.\n\n"
)

# Compares a candidate with the reference on the same inputs, inside the sandbox.
# The reference's outputs are computed before the candidate's code is run.
_DIFFERENTIAL = '''
import copy as _copy, json as _json, math as _math

def _amigo_same(a, b, atol):
    if type(a).__name__ == "Match" and type(b).__name__ == "Match":
        return a.span() == b.span() and a.group() == b.group()
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) and isinstance(b, float) and _math.isnan(a) and _math.isnan(b):
            return True
        if isinstance(a, float) or isinstance(b, float) or atol:
            return _math.isclose(a, b, rel_tol=1e-6, abs_tol=max(atol, 1e-6))
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_amigo_same(x, y, atol) for x, y in zip(a, b))
    return a == b

_amigo_inputs = _json.loads({inputs!r})
_amigo_ref_ns = {{"__name__": "amigo_reference"}}
exec({reference!r}, _amigo_ref_ns)
_amigo_expected = []
for _amigo_args in _amigo_inputs:
    try:
        _amigo_expected.append(("ok", _amigo_ref_ns[{entry!r}](*_copy.deepcopy(_amigo_args))))
    except BaseException as _exc:
        _amigo_expected.append(("raise", type(_exc).__name__))
del _amigo_ref_ns
exec({candidate!r}, globals())
for _amigo_i, (_amigo_args, (_amigo_kind, _amigo_want)) in enumerate(zip(_amigo_inputs, _amigo_expected)):
    if _amigo_kind == "raise":
        continue
    _amigo_got = globals()[{entry!r}](*_copy.deepcopy(_amigo_args))
    assert _amigo_same(_amigo_got, _amigo_want, {atol!r}), (
        f"input #{{_amigo_i}} {{str(_amigo_args)[:200]}}: got {{str(_amigo_got)[:200]}}, expected {{str(_amigo_want)[:200]}}")
'''


def differential_program(candidate: str, reference: str, entry: str, inputs: list, atol: float) -> str:
    """A program asserting ``candidate`` agrees with ``reference`` on every input (EvalPlus-style)."""
    return _DIFFERENTIAL.format(inputs=json.dumps(inputs), reference=reference, entry=entry,
                                candidate=candidate, atol=float(atol))


class HumanEval(Task):
    """OpenAI's HumanEval: complete a function from its signature and docstring."""

    name = "humaneval"
    relative = "humaneval/HumanEval.jsonl.gz"
    prompt_format = ("chat, zero-shot: instruction + the HumanEval prompt in a ```python fence; "
                     "the answer's code block is run after the prompt (so helpers stay defined)")
    wall_s = 10.0

    def load(self, data_dir: str | Path | None = None, download: bool = False) -> list[Problem]:
        path = locate(self.relative, data_dir, download)
        problems = []
        for rec in read_jsonl(path):
            require(rec, ("task_id", "prompt", "canonical_solution", "test", "entry_point"), str(path))
            problems.append(Problem(rec["task_id"], rec))
        return problems

    def messages(self, problem: Problem) -> list[dict[str, str]]:
        return [{"role": "user", "content": _HE_INSTRUCTION + fenced(problem.data["prompt"])}]

    def reference(self, problem: Problem) -> str:
        return fenced(problem.data["prompt"] + problem.data["canonical_solution"])

    def candidate(self, problem: Problem, answer: str) -> str:
        """The program text defining the answer's function, with the prompt's helpers."""
        prompt, entry = problem.data["prompt"], problem.data["entry_point"]
        code = extract_code(answer, must_contain=f"def {entry}")
        if f"def {entry}" in code:
            return prompt + "    pass\n\n" + code + "\n"
        return prompt + code + "\n"

    def job(self, problem: Problem, answer: str) -> Job:
        d = problem.data
        program = self.candidate(problem, answer) + "\n" + d["test"] + f"\n\ncheck({d['entry_point']})\n"
        return Job(code=program, limits=self.limits())


class HumanEvalPlus(HumanEval):
    """EvalPlus's HumanEval+: the same problems, ~80x more inputs checked against the reference."""

    name = "humanevalplus"
    relative = "humanevalplus/HumanEvalPlus.jsonl.gz"
    prompt_format = HumanEval.prompt_format + "; scored on base tests + EvalPlus inputs vs. the reference"
    wall_s = 60.0

    def job(self, problem: Problem, answer: str) -> Job:
        d = problem.data
        candidate = self.candidate(problem, answer)
        base = candidate + "\n" + d["test"] + f"\n\ncheck({d['entry_point']})\n"
        reference = d["prompt"] + d["canonical_solution"]
        inputs = list(d.get("base_input", [])) + list(d.get("plus_input", []))
        program = differential_program(base, reference, d["entry_point"], inputs, float(d.get("atol") or 0))
        return Job(code=program, limits=self.limits())


def _mbpp_tests(rec: dict) -> list[str]:
    tests = rec["test_list"]
    return ast.literal_eval(tests) if isinstance(tests, str) else list(tests)


class MBPP(Task):
    """Google's MBPP (the standard test split, task ids 11-510 unless ``split='all'``)."""

    name = "mbpp"
    relative = "mbpp/mbpp.jsonl"
    prompt_format = ("chat, zero-shot: 'You are an expert Python programmer, and here is your task: "
                     "{text} Your code should pass these tests: {test_list}' + answer in a ```python fence")
    wall_s = 15.0

    def __init__(self, split: str = "test") -> None:
        if split not in ("test", "all"):
            raise ValueError("MBPP split must be 'test' (ids 11-510) or 'all'")
        self.split = split

    def load(self, data_dir: str | Path | None = None, download: bool = False) -> list[Problem]:
        path = locate(self.relative, data_dir, download)
        problems = []
        for rec in read_jsonl(path):
            require(rec, ("task_id", "text", "code", "test_list"), str(path))
            tid = int(rec["task_id"])
            if self.split == "all" or 11 <= tid <= 510:
                problems.append(Problem(f"Mbpp/{tid}", rec))
        return problems

    def messages(self, problem: Problem) -> list[dict[str, str]]:
        d = problem.data
        tests = "\n".join(_mbpp_tests(dict(d)))
        content = (f"You are an expert Python programmer, and here is your task: {d['text']} "
                   f"Your code should pass these tests:\n\n{tests}\n\n"
                   "Answer with the code in one ```python code block.")
        return [{"role": "user", "content": content}]

    def reference(self, problem: Problem) -> str:
        return fenced(problem.data["code"].replace("\r\n", "\n"))

    def job(self, problem: Problem, answer: str) -> Job:
        d = problem.data
        code = extract_code(answer)
        program = (d.get("test_setup_code") or "") + "\n" + code + "\n\n" + "\n".join(_mbpp_tests(dict(d))) + "\n"
        return Job(code=program, limits=self.limits())


class MBPPPlus(Task):
    """EvalPlus's MBPP+ (399 cleaned problems), scored on its assertions + inputs vs. the reference."""

    name = "mbppplus"
    relative = "mbppplus/MbppPlus.jsonl"
    prompt_format = ("chat, zero-shot: the MBPP+ docstring + its first assertion, answer in a "
                     "```python fence; scored on assertions + EvalPlus inputs vs. the reference")
    wall_s = 60.0

    def load(self, data_dir: str | Path | None = None, download: bool = False) -> list[Problem]:
        path = locate(self.relative, data_dir, download)
        problems = []
        for rec in read_jsonl(path):
            require(rec, ("task_id", "prompt", "entry_point", "canonical_solution", "assertion"), str(path))
            problems.append(Problem(rec["task_id"], rec))
        return problems

    def messages(self, problem: Problem) -> list[dict[str, str]]:
        d = problem.data
        first = next((line for line in d["assertion"].splitlines() if line.strip()), "")
        text = d["prompt"].strip().strip("'\"").strip()
        content = (f"{text}\n{first}\n\nWrite the Python function `{d['entry_point']}`. "
                   "Answer with the code in one ```python code block.")
        return [{"role": "user", "content": content}]

    def reference(self, problem: Problem) -> str:
        return fenced(problem.data["canonical_solution"])

    def job(self, problem: Problem, answer: str) -> Job:
        d = problem.data
        code = extract_code(answer, must_contain=f"def {d['entry_point']}")
        base = "import math\n" + code + "\n\n" + d["assertion"] + "\n"
        inputs = list(d.get("base_input", [])) + list(d.get("plus_input", []))
        program = differential_program(base, "import math\n" + d["canonical_solution"], d["entry_point"], inputs,
                                       float(d.get("atol") or 0))
        return Job(code=program, limits=self.limits())

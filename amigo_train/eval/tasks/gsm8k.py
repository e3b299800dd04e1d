"""GSM8K: grade-school math word problems, scored on the final numeric answer."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

from amigo_train.eval.data import locate, read_jsonl, require
from amigo_train.eval.sandbox import Sandbox
from amigo_train.eval.tasks.base import Outcome, Problem, Task

_NUMBER = r"-?\$?\s*\d[\d,]*(?:\.\d+)?"


def final_answer(text: str) -> str | None:
    """The final number in an answer: after '####', else after 'answer is', else the last number."""
    for pattern in (rf"####\s*({_NUMBER})", rf"answer is[:\s]*\**\s*({_NUMBER})", rf"\\boxed\{{({_NUMBER})\}}"):
        found = re.findall(pattern, text, re.I)
        if found:
            return _normalise(found[-1])
    numbers = re.findall(_NUMBER, text)
    return _normalise(numbers[-1]) if numbers else None


def _normalise(number: str) -> str:
    return number.replace(",", "").replace("$", "").replace(" ", "").rstrip(".")


def same_number(a: str | None, b: str | None) -> bool:
    """Exact numeric equality (so 18, 18.0 and 18.00 agree)."""
    if a is None or b is None:
        return False
    try:
        return Fraction(a) == Fraction(b)
    except (ValueError, ZeroDivisionError):
        return a == b


class GSM8K(Task):
    """OpenAI's GSM8K test split (1,319 problems)."""

    needs_sandbox = False
    name = "gsm8k"
    prompt_format = ("chat, zero-shot chain of thought: the question, then 'give the final answer on its own "
                     "line as #### <number>'; scored on the last '####'/'answer is'/last number")

    def load(self, data_dir: str | Path | None = None, download: bool = False) -> list[Problem]:
        path = locate("gsm8k/test.jsonl", data_dir, download)
        problems = []
        for i, rec in enumerate(read_jsonl(path)):
            require(rec, ("question", "answer"), str(path))
            problems.append(Problem(f"GSM8K/{i}", rec))
        return problems

    def messages(self, problem: Problem) -> list[dict[str, str]]:
        content = ("Solve this math problem. Think step by step, then give the final answer on its own "
                   f"line as '#### <number>'.\n\n{problem.data['question']}")
        return [{"role": "user", "content": content}]

    def reference(self, problem: Problem) -> str:
        return problem.data["answer"]

    def buggy(self, problem: Problem) -> str | None:
        want = final_answer(problem.data["answer"]) or "0"
        return f"I think it is\n#### {Fraction(want) + 1}"

    def score(self, problem: Problem, answer: str, sandbox: Sandbox | None) -> Outcome:
        want = final_answer(problem.data["answer"])
        got = final_answer(answer)
        ok = same_number(got, want)
        return Outcome(ok, "passed" if ok else "failed", f"extracted {got!r}, expected {want!r}")

"""Every task on small files of its real schema: loading, prompts, and scoring in the sandbox."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from amigo.errors import InputError
from amigo_train.eval.sandbox import Sandbox, strict_available
from amigo_train.eval.tasks import TASK_NAMES, extract_code, get_task
from amigo_train.eval.tasks.gsm8k import final_answer, same_number

STRICT, WHY = strict_available()


@pytest.fixture(scope="module")
def data(eval_data: Path) -> Path:
    return eval_data


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    with Sandbox(workers=2, mode="strict" if STRICT else "basic") as sb:
        yield sb


EXPECTED_IDS = {
    "humaneval": ["HumanEval/0", "HumanEval/1"],
    "humanevalplus": ["HumanEval/0", "HumanEval/1"],
    "mbpp": ["Mbpp/11", "Mbpp/12"],
    "mbppplus": ["Mbpp/11", "Mbpp/13"],
    "humanevalfix": ["Python/0", "Python/1"],
    "quixbugs": ["QuixBugs/gcd", "QuixBugs/count_up"],
    "humanevalfix@amigo": ["Python/0", "Python/1"],
    "quixbugs@amigo": ["QuixBugs/gcd", "QuixBugs/count_up"],
    "debugbench": ["DebugBench/condition_error/0/add-two", "DebugBench/condition_error/2/sum-list"],
    "gsm8k": ["GSM8K/0", "GSM8K/1"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_IDS))
def test_loader_reads_its_schema_and_references_pass(name: str, data: Path, sandbox: Sandbox) -> None:
    task = get_task(name)
    problems = task.load(data)
    assert [p.id for p in problems] == EXPECTED_IDS[name]
    for problem in problems:
        messages = task.messages(problem)
        assert messages[-1]["role"] == "user" and messages[-1]["content"].strip()
        outcome = task.score(problem, task.reference(problem), sandbox)
        assert outcome.passed, (problem.id, outcome.detail)
        buggy = task.buggy(problem)
        if buggy is not None:
            assert not task.score(problem, buggy, sandbox).passed, problem.id


def test_wrong_answers_fail_and_helpers_stay_defined(data: Path, sandbox: Sandbox) -> None:
    he = get_task("humaneval")
    add, quad = he.load(data)
    # a standalone function answer (no prompt) still sees the prompt's helper _double
    assert he.score(quad, "```python\ndef quad(x):\n    return _double(x) * 2\n```", sandbox).passed
    assert not he.score(add, "```python\ndef add(a, b):\n    return a * b\n```", sandbox).passed
    plus = get_task("humanevalplus")
    # passes the base tests but not the extra inputs: EvalPlus catches it
    sloppy = "```python\ndef add(a, b):\n    return a + b if a < 1000 else 0\n```"
    assert he.score(add, sloppy, sandbox).passed
    assert not plus.score(plus.load(data)[0], sloppy, sandbox).passed


def test_mbpp_split_and_all(data: Path) -> None:
    assert len(get_task("mbpp").load(data)) == 2
    assert len(get_task("mbpp", split="all").load(data)) == 3


def test_missing_data_says_how_to_point_at_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMIGO_DATA_DIR", raising=False)
    with pytest.raises(InputError, match="--data-dir"):
        get_task("humaneval").load(None)
    with pytest.raises(InputError, match="does not exist"):
        get_task("humaneval").load(tmp_path / "nowhere")
    monkeypatch.setenv("AMIGO_DATA_DIR", str(tmp_path))
    with pytest.raises(InputError, match="--download"):
        get_task("gsm8k").load(None)
    with pytest.raises(InputError, match="unknown task"):
        get_task("nope")


def test_wrong_schema_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text('{"prompt": "x"}\n')
    with pytest.raises(InputError, match="lacks question, answer"):
        get_task("gsm8k").load(tmp_path)
    (tmp_path / "gsm8k" / "test.jsonl").write_text("not json\n")
    with pytest.raises(InputError, match="test.jsonl:1 is not valid JSON"):
        get_task("gsm8k").load(tmp_path)


def test_code_extraction() -> None:
    answer = "Here:\n```text\nnote\n```\n```python\ndef f():\n    return 1\n```\nand\n```python\nx = 2\n```"
    assert extract_code(answer, must_contain="def f") == "def f():\n    return 1\n"
    assert extract_code("```python\ndef f():\n    pass") == "def f():\n    pass"  # truncated answer
    assert extract_code("def g(): pass") == "def g(): pass"


def test_gsm8k_answer_extraction() -> None:
    assert final_answer("so 5 + 2 = 7\n#### 7") == "7"
    assert final_answer("The answer is $1,000.") == "1000"
    assert final_answer("we get 3 then 12.50") == "12.50"
    assert final_answer("no digits") is None
    assert same_number("12.50", "12.5") and not same_number("7", "8") and not same_number(None, "1")


def test_task_names_resolve() -> None:
    for name in TASK_NAMES:
        assert get_task(name).name == name


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_fix_runs_node_and_console_assert_fails_the_run(data: Path, sandbox: Sandbox) -> None:
    task = get_task("humanevalfix-js")
    (problem,) = task.load(data)
    assert task.score(problem, task.reference(problem), sandbox).passed
    assert not task.score(problem, task.buggy(problem), sandbox).passed
    # a body-only answer is completed with the declaration; a whole function is used as is
    assert task.score(problem, "```js\n  return b + a;\n}\n```", sandbox).passed
    assert task.score(problem, "```javascript\nconst add = (x, y) => x + y\n```", sandbox).passed


def test_amigo_style_repair_uses_the_editor_prompt_and_blocks(data: Path, sandbox: Sandbox) -> None:
    task = get_task("quixbugs@amigo")
    gcd = task.load(data)[0]
    system, user = task.messages(gcd)
    assert "SEARCH/REPLACE" in system["content"] and "## File: gcd.py" in user["content"]
    fix = "gcd.py\n<<<<<<< SEARCH\n    return gcd(a % b, b)\n=======\n    return gcd(b, a % b)\n>>>>>>> REPLACE\n"
    good = task.score(gcd, fix, sandbox)
    assert good.passed and good.metrics["applies"] == 1.0
    unmatched = fix.replace("return gcd(a % b, b)", "return nonsense")
    bad = task.score(gcd, unmatched, sandbox)
    assert not bad.passed and bad.metrics["applies"] == 0.0 and "did not apply" in bad.detail
    with pytest.raises(InputError, match="unknown task"):
        get_task("gsm8k@amigo")

"""Adapters on real-schema records, and the render/parse contract shared with serving."""

from __future__ import annotations

import pytest

from amigo import edits
from amigo.prompt import EditRequest, build_messages
from amigo_train import adapters
from amigo_train.adapters import ADAPTERS, get_adapter
from amigo_train.registry import REGISTRY

from train_records import COMMITS, PAIRS


def _answer(ex: dict) -> str:
    return ex["completion"][0]["content"]


@pytest.mark.parametrize("rec", COMMITS, ids=["python", "javascript"])
def test_commitpackft_round_trips_through_the_serving_parser(rec: dict) -> None:
    ex = adapters.commitpackft(rec)
    assert ex is not None
    request = EditRequest(instruction=rec["subject"], path=rec["new_file"], file_text=rec["old_contents"])
    assert ex["prompt"] == build_messages(request)  # the very prompt serving sends
    applied = edits.apply_answer(_answer(ex), {rec["new_file"]: rec["old_contents"]}, rec["new_file"])
    assert applied.errors == ()
    assert applied.new_texts == {rec["new_file"]: rec["new_contents"]}


def test_commit_in_context_selects_the_changed_lines() -> None:
    rec = {**COMMITS[0], "context": [{"kind": "definitions", "title": "Used by", "text": "def total(xs): ..."}]}
    ex = adapters.commit_in_context(rec)
    assert ex is not None
    user = ex["prompt"][1]["content"]
    assert "## Selected lines 1-" in user and "### Used by" in user
    applied = edits.apply_answer(_answer(ex), {rec["new_file"]: rec["old_contents"]}, rec["new_file"])
    assert applied.new_texts[rec["new_file"]] == rec["new_contents"]


def test_unusable_records_are_skipped() -> None:
    same = {**COMMITS[0], "new_contents": COMMITS[0]["old_contents"]}
    assert adapters.commitpackft(same) is None
    assert adapters.commitpackft({**COMMITS[0], "subject": "", "message": ""}) is None
    assert adapters.instruct_code({"instruction": "x", "output": "  "}) is None
    assert adapters.reasoning({"question": "q"}) is None


def test_instruct_code_creates_a_file_and_keeps_the_prose() -> None:
    rec = {"instruction": "Write is_even.", "input": "", "output": "Here:\n\n```python\ndef is_even(n):\n    return n % 2 == 0\n```\nDone."}
    ex = adapters.instruct_code(rec)
    assert ex is not None
    parsed = edits.parse_blocks(_answer(ex))
    assert not parsed.errors and len(parsed.blocks) == 1 and parsed.blocks[0].search == ""
    assert "Here:" in parsed.prose
    applied = edits.apply_answer(_answer(ex), {"solution.py": None}, "solution.py")
    assert applied.new_texts == {"solution.py": "def is_even(n):\n    return n % 2 == 0\n"}


def test_reasoning_sets_end_in_an_appliable_answer_file() -> None:
    for rec in ({"query": "2+3?", "response": "2 + 3 = 5.\nThe answer is: 5", "type": "GSM_Rephrased"},
                {"question": "2+3?", "answer": "Adding gives 5."},
                {"system_prompt": "", "question": "2+3?", "response": "It is 5."},
                {"instruction": "2+3?", "input": "", "output": "5", "data_source": "x"}):
        ex = adapters.reasoning(rec)
        assert ex is not None
        applied = edits.apply_answer(_answer(ex), {"answer.md": None}, "answer.md")
        assert applied.errors == () and applied.new_texts["answer.md"].strip() in ("5", "Adding gives 5.", "It is 5.")


def test_bugfix_pairs_including_humanevalfix_schema() -> None:
    hef = {"task_id": "Python/0", "declaration": "def inc(x):\n", "buggy_solution": "    return x - 1\n",
           "canonical_solution": "    return x + 1\n", "bug_type": "operator misuse", "test": "", "entry_point": "inc"}
    for rec in (hef, {"buggy_code": "x = [1][1]\n", "fixed_code": "x = [1][0]\n", "error": "IndexError", "path": "a.py"},
                {"fail": "print(1/0)\n", "pass": "print(1)\n", "error": "ZeroDivisionError", "language": "Python"}):
        ex = adapters.bugfix_pair(rec)
        assert ex is not None
        path = rec.get("path", "solution.py")
        old = rec.get("buggy_code") or rec.get("fail") or rec["declaration"] + rec["buggy_solution"]
        new = rec.get("fixed_code") or rec.get("pass") or rec["declaration"] + rec["canonical_solution"]
        assert edits.apply_answer(_answer(ex), {path: old}, path).new_texts == {path: new}


def test_chat_messages_and_preferences() -> None:
    code = adapters.chat_messages({"messages": [{"role": "user", "content": "Write f."},
                                                {"role": "assistant", "content": "```python\ndef f():\n    pass\n```"}]})
    assert code is not None and "<<<<<<< SEARCH" in _answer(code)
    pair = adapters.preference_qa(PAIRS[0])
    assert pair is not None and pair["chosen"] != pair["rejected"]
    assert pair["prompt"] == adapters.reasoning({"question": PAIRS[0]["question"], "answer": "x"})["prompt"]
    edit = adapters.preference_edit({"instruction": "Fix add", "path": "m.py", "file_text": COMMITS[0]["old_contents"],
                                     "chosen_text": COMMITS[0]["new_contents"], "rejected_text": COMMITS[0]["old_contents"].replace("-", "*")})
    assert edit is not None
    good = edits.apply_answer(edit["chosen"][0]["content"], {"m.py": COMMITS[0]["old_contents"]}, "m.py")
    assert good.new_texts["m.py"] == COMMITS[0]["new_contents"]
    exported = {"prompt": edit["prompt"], "chosen": edit["chosen"], "rejected": edit["rejected"]}
    assert adapters.preference_edit(exported) == exported  # the feedback export passes through


def test_every_registry_entry_names_a_known_adapter() -> None:
    for entry in REGISTRY.values():
        assert entry.adapter in ADAPTERS, entry.name
        assert entry.status in ("known", "unverified", "not-on-hub", "eval-only")
    with pytest.raises(Exception, match="known adapters"):
        get_adapter("nope")

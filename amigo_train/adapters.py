"""Adapters: one function per public schema, each turning a record into Amigo examples.

Every example is rendered by ``amigo.prompt.build_messages`` (the prompt) and
``amigo.prompt.render_answer`` / ``amigo.edits.render`` (the target), the very
functions serving uses, so the model is trained on the layout it is asked in.
SFT examples are TRL prompt/completion records, DPO examples prompt/chosen/rejected.
An adapter returns None for a record it cannot use (empty, no change, too big).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from amigo import edits
from amigo.filetypes import extension_for
from amigo.prompt import FIX_INSTRUCTION, EditRequest, build_messages, render_answer

Record = Mapping[str, Any]
Example = dict[str, Any]
MAX_FILE_CHARS = 50_000
_FENCE = re.compile(r"^(`{3,})[^\n`]*\n(.*?)^\1[ \t]*$", re.S | re.M)


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def sft_example(request: EditRequest, new_text: str, prose: str = "") -> Example | None:
    """A prompt/completion pair whose completion is ``prose`` + the rendered edit."""
    if new_text == request.file_text:
        return None
    answer = render_answer(request, new_text)
    if prose.strip():
        answer = prose.strip() + "\n\n" + answer
    return {"prompt": build_messages(request), "completion": _assistant(answer)}


def extract_code(text: str) -> tuple[str, str]:
    """(prose outside fences, the first fenced block's body) - or ("", text) with no fence."""
    match = _FENCE.search(text)
    if not match:
        return "", text.strip("\n") + "\n"
    prose = (text[: match.start()] + text[match.end():]).strip()
    return prose, match.group(2)


# Language names datasets use for amigo.filetypes' names.
_LANGUAGE_ALIASES = {"c++": "cpp", "js": "javascript"}


def _guess_path(language: str | None) -> str:
    name = (language or "python").lower()
    return f"solution{extension_for(_LANGUAGE_ALIASES.get(name, name)) or '.py'}"


def commitpackft(rec: Record) -> Example | None:
    """CommitPackFT / mined commits: instruction = subject, file = old, target = blocks(old -> new)."""
    old, new = rec.get("old_contents") or "", rec.get("new_contents") or ""
    path = rec.get("new_file") or rec.get("old_file") or ""
    instruction = (rec.get("subject") or (rec.get("message") or "").strip().split("\n")[0]).strip()
    if not path or not instruction or old == new or len(old) > MAX_FILE_CHARS:
        return None
    request = EditRequest(instruction=instruction, path=path, file_text=old)
    return sft_example(request, new)


def commit_in_context(rec: Record) -> Example | None:
    """The code-context stage: a commit as a selection edit, with the neighbourhood as context.

    The selection covers the changed old lines (plus 3 lines either side), the way
    an editor sends it; ``context`` records (title, text) from mining become sections.
    """
    from amigo.prompt import ContextSection

    old, new = rec.get("old_contents") or "", rec.get("new_contents") or ""
    path = rec.get("new_file") or rec.get("old_file") or ""
    instruction = (rec.get("subject") or "").strip()
    if not path or not instruction or old == new or not old or len(old) > MAX_FILE_CHARS:
        return None
    spans = edits.hunks(old, new)
    old_lines = old.splitlines()
    if not spans or not old_lines:
        return None
    starts = [h.old_start for h in spans]
    ends = [h.old_start + max(len(h.old_lines), 1) - 1 for h in spans]
    selection = (max(1, min(starts) - 3), min(len(old_lines), max(ends) + 3))
    sections = tuple(
        ContextSection(kind=str(c.get("kind", "definitions")), title=str(c.get("title", "")), text=str(c.get("text", "")))
        for c in rec.get("context") or ()
    )
    request = EditRequest(instruction=instruction, path=path, file_text=old, selection=selection, context=sections)
    return sft_example(request, new)


def instruct_code(rec: Record) -> Example | None:
    """Code instruction sets (instruction/input/output): NL -> a new file, prose kept as explanation."""
    instruction = (rec.get("instruction") or rec.get("prompt") or rec.get("query") or "").strip()
    extra = (rec.get("input") or "").strip()
    output = rec.get("output") or rec.get("response") or rec.get("completion") or ""
    if not instruction or not output.strip():
        return None
    if extra:
        instruction = f"{instruction}\n\n{extra}"
    prose, code = extract_code(output)
    path = _guess_path(rec.get("lang") or rec.get("language"))
    return sft_example(EditRequest(instruction=instruction, path=path, file_text=""), code, prose)


def chat_messages(rec: Record) -> Example | None:
    """Chat-format sets (``messages``/``conversations``, e.g. the Claude reasoning sets): first user
    turn -> instruction, first assistant turn -> code (when fenced) or a reasoning answer."""
    turns = rec.get("messages") or rec.get("conversations") or []
    user = next((t for t in turns if (t.get("role") or t.get("from")) in ("user", "human")), None)
    bot = next((t for t in turns if (t.get("role") or t.get("from")) in ("assistant", "gpt")), None)
    if not user or not bot:
        return None
    question = user.get("content") or user.get("value") or ""
    answer = bot.get("content") or bot.get("value") or ""
    if _FENCE.search(answer):
        return instruct_code({"instruction": question, "output": answer})
    return reasoning({"question": question, "answer": answer})


def _final_answer(text: str) -> str:
    m = re.search(r"(?:The answer is:?|####)\s*(.+?)\s*$", text.strip(), re.S)
    if m:
        return m.group(1).strip()
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def reasoning(rec: Record) -> Example | None:
    """Math/reasoning sets (orca-math, MetaMathQA, Open-Platypus, OpenOrca): the reasoning is the
    answer's prose (text outside blocks is shown, never applied), and one block writes the
    final answer to ``answer.md`` so the example still ends in a valid, appliable edit."""
    question = (rec.get("question") or rec.get("query") or rec.get("instruction") or "").strip()
    extra = (rec.get("input") or "").strip()
    answer = rec.get("answer") or rec.get("response") or rec.get("output") or ""
    if not question or not answer.strip():
        return None
    if extra:
        question = f"{question}\n\n{extra}"
    final = _final_answer(answer)
    if not final:
        return None
    request = EditRequest(instruction=question, path="answer.md", file_text="")
    return sft_example(request, final + "\n", answer)


def bugfix_pair(rec: Record) -> Example | None:
    """Buggy/fixed pairs (BugLab-style, python bugs, HumanEvalFix, QuixBugs, DebugBench-like)."""
    buggy = rec.get("buggy_code") or rec.get("buggy_solution") or rec.get("buggy_program") or rec.get("fail") or ""
    fixed = rec.get("fixed_code") or rec.get("canonical_solution") or rec.get("solution") or rec.get("pass") or ""
    if "declaration" in rec and rec.get("buggy_solution"):
        buggy, fixed = rec["declaration"] + rec["buggy_solution"], rec["declaration"] + rec["canonical_solution"]
    if not buggy.strip() or not fixed.strip() or buggy == fixed or len(buggy) > MAX_FILE_CHARS:
        return None
    path = rec.get("path") or _guess_path(rec.get("language") or rec.get("lang"))
    instruction = (rec.get("instruction") or "").strip() or FIX_INSTRUCTION
    hint = rec.get("error") or rec.get("failure_symptoms") or ""
    if hint and hint not in instruction:
        instruction += f"\nObserved: {str(hint).strip()[:500]}"
    return sft_example(EditRequest(instruction=instruction, path=path, file_text=buggy), fixed)


def _reasoning_pair(question: str, chosen: str, rejected: str) -> Example | None:
    good = reasoning({"question": question, "answer": chosen})
    bad = reasoning({"question": question, "answer": rejected})
    if not good or not bad or good["completion"] == bad["completion"]:
        return None
    return {"prompt": good["prompt"], "chosen": good["completion"], "rejected": bad["completion"]}


def preference_qa(rec: Record) -> Example | None:
    """orca_dpo_pairs-style (system, question, chosen, rejected) -> a DPO pair."""
    question = (rec.get("question") or rec.get("prompt") or "").strip()
    chosen, rejected = rec.get("chosen"), rec.get("rejected")
    if not question or not isinstance(chosen, str) or not isinstance(rejected, str):
        return None
    return _reasoning_pair(question, chosen, rejected)


def preference_edit(rec: Record) -> Example | None:
    """An edit preference pair: one request, a preferred and a dispreferred new file text.

    Also accepts the feedback package's export (``prompt`` messages + chosen/rejected
    assistant turns), which is already rendered by ``amigo.prompt``: passed through."""
    if isinstance(rec.get("prompt"), list) and isinstance(rec.get("chosen"), list):
        return {"prompt": rec["prompt"], "chosen": rec["chosen"], "rejected": rec["rejected"]}
    instruction, path = (rec.get("instruction") or "").strip(), rec.get("path") or ""
    old = rec.get("file_text") or rec.get("old_contents") or ""
    good, bad = rec.get("chosen_text"), rec.get("rejected_text")
    if not instruction or not path or good is None or bad is None or good == bad:
        return None
    sel = tuple(rec["selection"]) if rec.get("selection") else None
    request = EditRequest(instruction=instruction, path=path, file_text=old, selection=sel)  # type: ignore[arg-type]
    chosen = render_answer(request, good) if good != old else ""
    rejected = render_answer(request, bad) if bad != old else "I could not find a change to make."
    if not chosen:
        return None
    return {"prompt": build_messages(request), "chosen": _assistant(chosen), "rejected": _assistant(rejected)}


def feedback_sft(rec: Record) -> Example | None:
    """The feedback package's SFT export (already rendered through amigo.prompt): passed through."""
    if isinstance(rec.get("prompt"), list) and isinstance(rec.get("completion"), list):
        return {"prompt": rec["prompt"], "completion": rec["completion"]}
    return None


ADAPTERS: dict[str, Callable[[Record], Example | None]] = {
    "commitpackft": commitpackft,
    "commit_in_context": commit_in_context,
    "instruct_code": instruct_code,
    "chat_messages": chat_messages,
    "reasoning": reasoning,
    "bugfix_pair": bugfix_pair,
    "preference_qa": preference_qa,
    "preference_edit": preference_edit,
    "feedback_sft": feedback_sft,
}
DPO_ADAPTERS = frozenset({"preference_qa", "preference_edit"})


def get_adapter(name: str) -> Callable[[Record], Example | None]:
    """The adapter called ``name``, or a ConfigError listing the known ones."""
    from amigo.errors import ConfigError

    try:
        return ADAPTERS[name]
    except KeyError:
        raise ConfigError(f"unknown adapter {name!r}; known adapters: {', '.join(ADAPTERS)}") from None

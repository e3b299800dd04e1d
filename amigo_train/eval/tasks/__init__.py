"""The benchmark registry: task names as the CLI and reports use them."""

from __future__ import annotations

from amigo.errors import InputError
from amigo_train.eval.tasks.base import Outcome, Problem, Task, extract_code
from amigo_train.eval.tasks.gsm8k import GSM8K
from amigo_train.eval.tasks.repair import LANGUAGES, DebugBench, EditorStyle, HumanEvalFix, QuixBugs, RepairTask
from amigo_train.eval.tasks.synthesis import MBPP, HumanEval, HumanEvalPlus, MBPPPlus

TASK_NAMES: tuple[str, ...] = (
    "humaneval", "humanevalplus", "mbpp", "mbppplus", "humanevalfix",
    *(f"humanevalfix-{lang}" for lang in LANGUAGES if lang != "python"),
    "quixbugs", "debugbench", "gsm8k", "amigo-edits",
    # the same repair tasks asked the way the editor asks (amigo.prompt + SEARCH/REPLACE blocks)
    "humanevalfix@amigo", *(f"humanevalfix-{lang}@amigo" for lang in LANGUAGES if lang != "python"),
    "quixbugs@amigo",
)


def get_task(name: str, **options: object) -> Task:
    """A task by name; ``options`` are task-specific (``edits`` file for amigo-edits, ``split`` for MBPP)."""
    if name == "humaneval":
        return HumanEval()
    if name == "humanevalplus":
        return HumanEvalPlus()
    if name == "mbpp":
        return MBPP(str(options.get("split") or "test"))
    if name == "mbppplus":
        return MBPPPlus()
    base, _, style = name.partition("@")
    if style and (style != "amigo" or not base.startswith(("humanevalfix", "quixbugs"))):
        raise InputError(f"unknown task {name!r}; choose from {', '.join(TASK_NAMES)}")
    repair: RepairTask | None = None
    if base == "humanevalfix":
        repair = HumanEvalFix("python")
    elif base.startswith("humanevalfix-"):
        repair = HumanEvalFix(base.split("-", 1)[1])
    elif base == "quixbugs":
        repair = QuixBugs()
    if repair is not None:
        return EditorStyle(repair) if style else repair
    if name == "debugbench":
        return DebugBench()
    if name == "gsm8k":
        return GSM8K()
    if name == "amigo-edits":
        from amigo_train.eval.tasks.edits import AmigoEdits

        return AmigoEdits(options.get("edits"))  # type: ignore[arg-type]
    raise InputError(f"unknown task {name!r}; choose from {', '.join(TASK_NAMES)}")


__all__ = ["TASK_NAMES", "Outcome", "Problem", "Task", "extract_code", "get_task"]

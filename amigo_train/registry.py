"""The registry of every public data set the plan names, in one place.

Each entry says where the data lives on the hub (id, config, data files), its
license, which adapter turns it into Amigo examples, which stage it feeds, and
what is known about it. ``status`` is honest about what nobody checked from here:

* ``known``: the id and schema match the authors' knowledge of the hub; not
  re-checked from this (offline) machine - run ``amigo data check`` once.
* ``unverified``: the plan's name is ambiguous or the id/schema is a best guess.
* ``not-on-hub``: no hub copy is known; the note says where the data is.
* ``eval-only``: an evaluation set; listed so that decontamination knows it,
  never trained on.

``datasets`` 4+ runs no loading scripts, so each entry names the data files
(``hf://datasets/...`` globs) loaded with the generic json/parquet builders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from amigo.errors import ConfigError

STATUSES = ("known", "unverified", "not-on-hub", "eval-only")


@dataclass(frozen=True)
class DatasetEntry:
    """One public data set: where it is, what it may be used for, how it is adapted."""

    name: str
    hub_id: str | None
    adapter: str
    stage: str
    license: str
    status: str
    data_files: tuple[str, ...] = ()
    config: str | None = None
    split: str = "train"
    columns: tuple[str, ...] = ()
    notes: str = ""
    kind: str = field(default="sft")

    @property
    def file_format(self) -> str:
        """``json`` or ``parquet``, from the data files' extension."""
        first = self.data_files[0] if self.data_files else ""
        return "parquet" if first.endswith(".parquet") else "json"


def _e(name: str, hub_id: str | None, adapter: str, stage: str, license: str, status: str,
       data_files: tuple[str, ...] = (), columns: tuple[str, ...] = (), notes: str = "",
       config: str | None = None, kind: str = "sft") -> DatasetEntry:
    return DatasetEntry(name, hub_id, adapter, stage, license, status, data_files, config,
                        "train", columns, notes, kind)


_COMMIT_COLS = ("commit", "old_file", "new_file", "old_contents", "new_contents", "subject",
                "message", "lang", "license", "repos")

REGISTRY: dict[str, DatasetEntry] = {e.name: e for e in (
    _e("commitpackft-python", "bigcode/commitpackft", "commitpackft", "nl2code", "mit (per-repo permissive licenses in column `license`)",
       "known", ("hf://datasets/bigcode/commitpackft/data/python/data.jsonl",), _COMMIT_COLS,
       "OctoPack's filtered commits; one file per language under data/<lang>/data.jsonl.", config="python"),
    _e("commitpackft-context", "bigcode/commitpackft", "commit_in_context", "code-context", "mit (per-repo)",
       "known", ("hf://datasets/bigcode/commitpackft/data/python/data.jsonl",), _COMMIT_COLS,
       "Same commits as selection edits; richer context comes from `amigo data mine-commits`.", config="python"),
    _e("python-self-instruct", "codeparrot/self-instruct-starcoder", "instruct_code", "nl2code", "unverified (check the card)",
       "unverified", ("hf://datasets/codeparrot/self-instruct-starcoder/data/*.parquet",), ("instruction", "output"),
       "The plan says 'python_self_instruct'; this is the closest known set. The data file layout is a guess."),
    _e("evol-instruct-code", "nickrosh/Evol-Instruct-Code-80k-v1", "instruct_code", "nl2code", "unverified (card: cc-by-nc-sa-4.0?)",
       "known", ("hf://datasets/nickrosh/Evol-Instruct-Code-80k-v1/*.json",), ("instruction", "output"),
       "WizardCoder's Evol-Instruct recipe, open re-creation (WizardLM never released the code set). License may be non-commercial."),
    _e("evol-codealpaca", "theblackcat102/evol-codealpaca-v1", "instruct_code", "nl2code", "unverified",
       "known", ("hf://datasets/theblackcat102/evol-codealpaca-v1/*.jsonl",), ("instruction", "output"),
       "Alternative Evol-Instruct code set (~110k)."),
    _e("the-stack-v2-smol", "bigcode/the-stack-v2-train-smol-ids", "commitpackft", "code-context", "other (per-file licenses; gated, terms of use)",
       "known", ("hf://datasets/bigcode/the-stack-v2-train-smol-ids/data/*.parquet",), ("repo_name", "files"),
       "Holds only Software Heritage blob ids: file contents must be fetched from S3 with AWS credentials first. "
       "Not usable offline; use mined commits for the code-context stage instead."),
    _e("humanevalpack-fix", "bigcode/humanevalpack", "bugfix_pair", "debugging", "mit",
       "eval-only", ("hf://datasets/bigcode/humanevalpack/data/python/data/humanevalpack.jsonl",),
       ("task_id", "declaration", "buggy_solution", "canonical_solution", "bug_type", "test"),
       "HumanEvalFix is an EVALUATION set (the plan names it; training on it would contaminate the eval gate). "
       "A local copy checked: /work/shared/data/humanevalpack/python.jsonl.", config="python"),
    _e("buglab", None, "bugfix_pair", "debugging", "mit (code), data: per-repo",
       "not-on-hub", (), ("buggy_code", "fixed_code"),
       "BugLab (Allamanis et al. 2021) ships code and a PyPiBugs URL list in microsoft/neurips21-self-supervised-bug-detection-and-repair, "
       "not a hub data set. Regenerate pairs locally into JSONL with columns buggy_code, fixed_code, path."),
    _e("python-bugs", "alexjercan/bugnet", "bugfix_pair", "debugging", "unverified",
       "unverified", ("hf://datasets/alexjercan/bugnet/*Python*",), ("fail", "pass", "error"),
       "The plan's 'python bugs' is ambiguous; BugNet (CodeNet buggy/fixed submissions) is one candidate; columns assumed.", config="Python"),
    _e("orca-math", "microsoft/orca-math-word-problems-200k", "reasoning", "reasoning", "mit",
       "known", ("hf://datasets/microsoft/orca-math-word-problems-200k/data/*.parquet",), ("question", "answer")),
    _e("metamathqa", "meta-math/MetaMathQA", "reasoning", "reasoning", "mit",
       "known", ("hf://datasets/meta-math/MetaMathQA/MetaMathQA-395K.json",), ("query", "response", "type"),
       "Responses end in 'The answer is: X'. Built from GSM8K/MATH train splits."),
    _e("open-platypus", "garage-bAInd/Open-Platypus", "reasoning", "reasoning", "mixed (per data_source; some non-commercial)",
       "known", ("hf://datasets/garage-bAInd/Open-Platypus/data/*.parquet",), ("instruction", "input", "output", "data_source"),
       "Filter by data_source for a commercial-use model."),
    _e("openorca", "Open-Orca/OpenOrca", "reasoning", "reasoning", "mit",
       "known", ("hf://datasets/Open-Orca/OpenOrca/1M-GPT4-Augmented.parquet",), ("system_prompt", "question", "response")),
    _e("orca-dpo-pairs", "Intel/orca_dpo_pairs", "preference_qa", "dpo", "apache-2.0",
       "known", ("hf://datasets/Intel/orca_dpo_pairs/orca_rlhf.jsonl",), ("system", "question", "chosen", "rejected"), kind="dpo"),
    _e("claude-3.7-reasoning", "reedmayhew/claude-3.7-sonnet-reasoning", "chat_messages", "reasoning", "unverified",
       "unverified", ("hf://datasets/reedmayhew/claude-3.7-sonnet-reasoning/*.jsonl",), ("messages",),
       "The plan's 'Claude-3.7 reasoning sets' are community uploads whose ids change; check the id and the provider's terms "
       "(outputs of a commercial model may not be usable to train a competing model)."),
    _e("amigo-feedback-dpo", None, "preference_edit", "dpo", "your own data",
       "known", (), ("prompt", "chosen", "rejected"),
       "Local: `amigo feedback export --format dpo` writes jsonl/train.jsonl; point a recipe `path:` at it.", kind="dpo"),
    _e("amigo-mined-commits", None, "commitpackft", "nl2code", "the mined repositories' licenses",
       "known", (), _COMMIT_COLS, "Local: `amigo data mine-commits REPO... --out FILE`."),
    _e("humaneval", "openai/openai_humaneval", "bugfix_pair", "eval", "mit", "eval-only",
       ("hf://datasets/openai/openai_humaneval/openai_humaneval/*.parquet",), ("task_id", "prompt", "canonical_solution")),
    _e("mbpp", "google-research-datasets/mbpp", "instruct_code", "eval", "cc-by-4.0", "eval-only",
       ("hf://datasets/google-research-datasets/mbpp/full/*.parquet",), ("task_id", "text", "code")),
    _e("quixbugs", None, "bugfix_pair", "eval", "mit", "eval-only", (), ("name", "buggy_program", "solution"),
       "From jkoppel/QuixBugs via bigcode-project/octopack (no official hub copy)."),
    _e("debugbench", "Rtian/DebugBench", "bugfix_pair", "eval", "apache-2.0", "eval-only",
       ("hf://datasets/Rtian/DebugBench/*.json",), ("buggy_code", "solution", "question")),
)}


def get_entry(name: str) -> DatasetEntry:
    """The registry entry ``name``, or a ConfigError listing the known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown data set {name!r}; known: {', '.join(REGISTRY)}") from None


def table(entries: list[DatasetEntry] | None = None) -> str:
    """A plain-text table of the registry (name, hub id, adapter, stage, license, status)."""
    rows = [("name", "hub id", "adapter", "stage", "license", "status")]
    for e in entries or list(REGISTRY.values()):
        rows.append((e.name, e.hub_id or "-", e.adapter, e.stage, e.license[:40], e.status))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

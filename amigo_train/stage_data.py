"""A stage's data files: built once by the main process (decontaminated, too-long examples dropped)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from amigo.errors import ConfigError
from amigo_train.data import StageData, build_stage_data, write_jsonl
from amigo_train.decontam import Decontaminator, data_dir, load_problems
from amigo_train.manifest import stage_dir
from amigo_train.ranks import distributed, is_main_process
from amigo_train.recipe import Recipe, StageSpec
from amigo_train.reports import example_lengths

Log = Callable[[str], None]


def drop_too_long(rows: list[dict[str, Any]], lengths: list[int],
                  max_length: int) -> tuple[list[dict[str, Any]], list[int], int]:
    """(rows that fit, their lengths, how many were dropped) for a ``max_length`` in tokens.

    Why drop rather than let the trainer truncate: truncation cuts the END of the
    sequence - the end of the answer and its end-of-turn token. A model trained on
    such answers learns to stop mid-block and not to stop at all, which is exactly
    the failure (unparseable, runaway answers) the edit format cannot afford."""
    kept = [(r, n) for r, n in zip(rows, lengths) if n <= max_length]
    return [r for r, _ in kept], [n for _, n in kept], len(rows) - len(kept)


def prepare_stage_data(recipe: Recipe, stage: StageSpec, run_dir: Path, base_dir: Path,
                       index: Decontaminator | None, reuse: bool,
                       tokenizer: Any = None) -> tuple[dict[str, Any], list[int] | None]:
    """Build (or, on resume, reuse) a stage's data files; returns their hashes and counts,
    and the token length of each training example when they were measured (else None).

    With a ``tokenizer``, examples longer than the stage's ``max_length`` are dropped
    (see :func:`drop_too_long`) and counted; a dry run has none and drops nothing. The
    lengths come back so the padding report need not tokenize the data a second time."""
    ddir = stage_dir(run_dir, stage) / "data"
    info_path = ddir / "info.json"
    with distributed().main_process_first():  # the others enter once the main process has written the files
        if (reuse or not is_main_process()) and info_path.is_file() and (ddir / "train.jsonl").is_file():
            return json.loads(info_path.read_text()), None
        if not is_main_process():
            raise ConfigError(f"the main process wrote no data for stage {stage.name} ({info_path} is missing)")
        return _build_stage_data(recipe, stage, ddir, base_dir, index, tokenizer)


def _build_stage_data(recipe: Recipe, stage: StageSpec, ddir: Path, base_dir: Path, index: Decontaminator | None,
                      tokenizer: Any) -> tuple[dict[str, Any], list[int] | None]:
    """Build a stage's data files (the main process only; see :func:`prepare_stage_data`)."""
    info_path = ddir / "info.json"
    spec = recipe.train_for(stage)
    data: StageData = build_stage_data(stage, base_dir, recipe.seed, spec.eval_fraction, index)
    too_long = 0
    lengths = None
    if tokenizer is not None:
        data.train, lengths, too_long = drop_too_long(data.train, example_lengths(data.train, tokenizer),
                                                      spec.max_length)
        data.eval, _, eval_too_long = drop_too_long(data.eval, example_lengths(data.eval, tokenizer), spec.max_length)
        too_long += eval_too_long
        if not data.train:
            raise ConfigError(f"stage {stage.name}: every training example is longer than max_length "
                              f"{spec.max_length} tokens; raise max_length in the recipe")
    info = {
        "train_sha256": write_jsonl(ddir / "train.jsonl", data.train),
        "eval_sha256": write_jsonl(ddir / "eval.jsonl", data.eval),
        "train_examples": len(data.train), "eval_examples": len(data.eval),
        "per_source": data.per_source, "decontaminated": len(data.dropped), "too_long": too_long,
    }
    (ddir / "decontamination.json").write_text(json.dumps(
        {"dropped": len(data.dropped), "rows": data.dropped}, indent=2))
    info_path.write_text(json.dumps(info, indent=2))
    return info, lengths


def decontaminator(recipe: Recipe, explicit_dir: str | None, log: Log) -> Decontaminator | None:
    """The n-gram index of the recipe's evaluation sets, or None when no data dir is known."""
    root = data_dir(explicit_dir or recipe.decontaminate.data_dir)
    if root is None or not root.is_dir():
        if recipe.decontaminate.required:
            raise ConfigError("decontamination is required: pass --data-dir or set AMIGO_DATA_DIR "
                              "to a directory holding the evaluation sets")
        log("decontamination skipped: no evaluation data dir (set AMIGO_DATA_DIR or --data-dir)")
        return None
    problems = load_problems(root, recipe.decontaminate.benchmarks)
    log("decontamination against " + ", ".join(f"{k} ({len(v)})" for k, v in problems.items()))
    return Decontaminator.from_problems(problems, recipe.decontaminate.ngram)

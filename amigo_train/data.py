"""A stage's data: load each source (hub data files or a local file), adapt every record
through amigo.prompt/amigo.edits, decontaminate, split, and write it down with a hash."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from amigo import progress
from amigo.errors import ConfigError
from amigo_train.adapters import DPO_ADAPTERS, Example, get_adapter
from amigo_train.decontam import Decontaminator, decontaminate
from amigo_train.recipe import DataSource, StageSpec
from amigo_train.registry import get_entry


def _format_of(path: str) -> str:
    lowered = path.lower()
    if lowered.endswith(".parquet") or "*.parquet" in lowered:
        return "parquet"
    return "json"


def load_records(data_files: list[str], split: str = "train") -> Iterable[dict[str, Any]]:
    """Records from data files (local paths or ``hf://datasets/...`` globs) via ``datasets``.

    The generic json/parquet builders are used on purpose: datasets 4+ refuses
    loading scripts, and this one path serves hub and local files alike.
    """
    from datasets import load_dataset

    try:
        ds = load_dataset(_format_of(data_files[0]), data_files={split: data_files}, split=split)
    except FileNotFoundError as exc:
        raise ConfigError(f"data files not found: {', '.join(data_files)} ({exc})") from None
    return ds


def source_records(source: DataSource, base_dir: Path) -> tuple[str, str, Iterable[dict[str, Any]]]:
    """(label, adapter name, records) for one recipe data source."""
    if source.path is not None:
        path = Path(source.path)
        if not path.is_absolute() and "://" not in source.path:
            path = base_dir / path
        if "://" not in source.path and not path.exists():
            raise ConfigError(f"data file {path} does not exist (from a recipe `path:`)")
        files = [source.path if "://" in source.path else str(path)]
        return source.path, str(source.adapter), load_records(files, source.split or "train")
    entry = get_entry(str(source.dataset))
    if entry.status == "eval-only":
        raise ConfigError(f"{entry.name} is an evaluation set; training on it would contaminate the eval gate")
    if not entry.data_files:
        raise ConfigError(f"{entry.name} has no hub data files: {entry.notes}")
    return entry.name, source.adapter or entry.adapter, load_records(list(entry.data_files), source.split or entry.split)


def example_id(example: Example) -> str:
    """A stable id: the hash of the example's content."""
    return hashlib.sha256(json.dumps(example, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def adapt(records: Iterable[dict[str, Any]], adapter_name: str, label: str, limit: int | None) -> Iterator[Example]:
    """Adapter output for each usable record, tagged with ``id`` and ``source``."""
    adapter = get_adapter(adapter_name)
    count = 0
    for rec in progress.track(records, f"preparing {label}", unit="records"):
        if limit is not None and count >= limit:
            return
        ex = adapter(rec)
        if ex is None:
            continue
        ex["id"] = example_id(ex)
        ex["source"] = label
        count += 1
        yield ex


@dataclass
class StageData:
    """What a stage trains on, plus what was dropped and why."""

    train: list[Example]
    eval: list[Example]
    dropped: list[dict[str, Any]]
    per_source: dict[str, int]


def build_stage_data(stage: StageSpec, base_dir: Path, seed: int, eval_fraction: float,
                     index: Decontaminator | None) -> StageData:
    """Load, adapt, mix, decontaminate and split one stage's data."""
    examples: list[Example] = []
    per_source: dict[str, int] = {}
    for source in stage.data:
        label, adapter_name, records = source_records(source, base_dir)
        is_pair = adapter_name in DPO_ADAPTERS
        if (stage.kind == "dpo") != is_pair:
            want = "a preference adapter (preference_qa, preference_edit)" if stage.kind == "dpo" else "an SFT adapter"
            raise ConfigError(f"stage {stage.name} ({stage.kind}) needs {want}; {label} uses {adapter_name}")
        got = list(adapt(records, adapter_name, label, source.max_examples))
        if source.weight != 1.0:
            whole, frac = int(source.weight), source.weight - int(source.weight)
            rng = random.Random(seed)
            got = got * whole + rng.sample(got, int(len(got) * frac))
        per_source[label] = len(got)
        examples.extend(got)
    if not examples:
        raise ConfigError(f"stage {stage.name}: its data gave no usable examples")
    dropped: list[dict[str, Any]] = []
    if index is not None:
        examples, dropped = decontaminate(examples, index)
    random.Random(seed).shuffle(examples)
    eval_set = [e for e in examples if eval_fraction and int(e["id"], 16) % 1000 < eval_fraction * 1000]
    eval_ids = {e["id"] for e in eval_set}
    train = [e for e in examples if e["id"] not in eval_ids]
    return StageData(train, eval_set, dropped, per_source)


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> str:
    """Write rows and return the file's sha256 (recorded in the run manifest)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            line = json.dumps(row, ensure_ascii=False) + "\n"
            digest.update(line.encode())
            fh.write(line)
    tmp.replace(path)
    return digest.hexdigest()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]

"""Fixtures for amigo_train: a tiny random Llama (with the embedded tokenizer) and real-schema records."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # so tests can import train_records

from train_records import COMMITS, PAIRS, write_jsonl  # noqa: E402

@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama saved with the embedded SmolLM2 tokenizer (real chat template)."""
    pytest.importorskip("torch")
    from amigo_train.base_model import tiny_llama

    return tiny_llama(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def commit_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "data" / "commits.jsonl", COMMITS * 3)


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "data" / "pairs.jsonl", PAIRS)



"""Fixtures for the evaluation suite: a data folder in each benchmark's real schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.eval_data import write_fixture_data


@pytest.fixture(scope="session")
def eval_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with every benchmark's schema, a few problems each."""
    return write_fixture_data(tmp_path_factory.mktemp("eval-data"))

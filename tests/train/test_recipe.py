"""Recipes: the shipped ones validate; mistakes name the key and the allowed keys/values."""

from __future__ import annotations

from pathlib import Path

import pytest

from amigo.errors import ConfigError
from amigo_train.recipe import load_recipe, parse_recipe

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = {"name": "x", "base_model": "b", "output_dir": "o", "stages": [{"name": "a", "data": [{"dataset": "orca-math"}]}]}


def test_shipped_recipes_are_valid_and_follow_the_plan() -> None:
    plan = load_recipe(ROOT / "recipes" / "amigo-1.0.yaml")
    assert plan.base_model == "google/gemma-3-12b-it"
    assert [s.kind for s in plan.stages] == ["sft", "sft", "sft", "sft", "dpo"]
    assert 16 <= plan.lora.r <= 32 and 32 <= plan.lora.alpha <= 64 and plan.lora.target_modules == "all-linear"
    assert plan.precision == "bf16" and plan.gradient_checkpointing
    for stage in plan.stages[:4]:
        spec = plan.train_for(stage)
        assert 1e-4 <= spec.learning_rate <= 5e-4 and spec.max_length == 8192
    smoke = load_recipe(ROOT / "recipes" / "smoke-cpu.yaml")
    assert [s.name for s in smoke.stages] == [s.name for s in plan.stages]


def test_unknown_key_names_the_allowed_keys() -> None:
    with pytest.raises(ConfigError) as err:
        parse_recipe({**MINIMAL, "lora": {"rank": 8}})
    assert "lora.rank: unknown key" in str(err.value) and "alpha" in str(err.value)


def test_bad_value_names_the_allowed_values() -> None:
    with pytest.raises(ConfigError) as err:
        parse_recipe({**MINIMAL, "precision": "bf8"})
    assert "'bf16', 'fp16' or 'fp32'" in str(err.value)
    bad_kind = {**MINIMAL, "stages": [{"name": "a", "kind": "ppo", "data": [{"dataset": "x"}]}]}
    with pytest.raises(ConfigError, match="'sft' or 'dpo'"):
        parse_recipe(bad_kind)


def test_stage_train_overrides_are_checked() -> None:
    bad = {**MINIMAL, "stages": [{"name": "a", "data": [{"dataset": "x"}], "train": {"lr": 1e-4}}]}
    with pytest.raises(ConfigError, match="unknown key\\(s\\) lr; allowed: learning_rate"):
        parse_recipe(bad)
    with pytest.raises(ConfigError, match="no stage named 'zzz'"):
        parse_recipe(MINIMAL).stage("zzz")


def test_a_path_source_needs_an_adapter(tmp_path: Path) -> None:
    bad = {**MINIMAL, "stages": [{"name": "a", "data": [{"path": "x.jsonl"}]}]}
    with pytest.raises(ConfigError, match="needs an `adapter`"):
        parse_recipe(bad)
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="does not exist"):
        load_recipe(missing)

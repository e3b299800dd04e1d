"""A real staged run on a tiny random Llama: SFT, then DPO on the SFT adapter; dry runs; resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amigo_train import cli

from train_records import tiny_recipe

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
STAGES = """  - name: sft
    data: [{path: data/commits.jsonl, adapter: commitpackft}]
    train: {packing: true}
  - name: pref
    kind: dpo
    data: [{path: data/pairs.jsonl, adapter: preference_qa}]
    train: {max_steps: 1, learning_rate: 0.001}
"""


def test_sft_then_dpo_on_the_sft_adapter(tmp_path: Path, tiny_model: Path, commit_file: Path, pairs_file: Path) -> None:
    recipe = tiny_recipe(tmp_path, tiny_model, STAGES)
    assert cli.main(["run", str(recipe)]) == 0
    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["sft"]["status"] == "complete" and manifest["stages"]["pref"]["status"] == "complete"
    assert manifest["versions"]["trl"] and manifest["recipe"]["name"] == "tiny"
    assert len(manifest["stages"]["sft"]["data"]["train_sha256"]) == 64
    padding = manifest["stages"]["sft"]["padding"]
    assert 0 < padding["padding_efficiency_unpacked"] <= 1 and padding["packing"] is True
    pref = json.loads((run / "stages" / "pref" / "stage.json").read_text())
    # the DPO stage started from the SFT result: the SFT adapter is merged into its model
    assert pref["previous_adapters"] == [str(run / "stages" / "sft" / "adapter")]
    assert pref["global_step"] == 1
    for stage in ("sft", "pref"):
        sdir = run / "stages" / stage
        assert (sdir / "adapter" / "adapter_config.json").is_file()
        assert (sdir / "loss.png").stat().st_size > 1000
        rows = [json.loads(line) for line in (sdir / "metrics.jsonl").read_text().splitlines()]
        assert any("loss" in r for r in rows)
    first = json.loads((run / "stages" / "pref" / "metrics.jsonl").read_text().splitlines()[0])
    # a fresh LoRA on the merged SFT model: policy == reference at step 0, so the margin is exactly 0
    assert first["rewards/margins"] == 0.0
    # a second plain run refuses to overwrite; --resume finds everything complete
    assert cli.main(["run", str(recipe)]) == 1
    assert cli.main(["run", str(recipe), "--resume"]) == 0


def test_dry_run_and_wrong_adapter_kind(tmp_path: Path, commit_file: Path, pairs_file: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    recipe = tiny_recipe(tmp_path, Path("/nonexistent-model"), STAGES)
    assert cli.main(["run", str(recipe), "--dry-run"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["stages"]["sft"]["train_examples"] == 6 and plan["stages"]["pref"]["train_examples"] == 2
    bad = tiny_recipe(tmp_path, Path("/x"), STAGES.replace("adapter: preference_qa", "adapter: commitpackft"))
    assert cli.main(["run", str(bad), "--dry-run"]) == 1
    assert "needs a preference adapter" in capsys.readouterr().err


def test_resume_after_a_killed_stage(tmp_path: Path, tiny_model: Path, commit_file: Path) -> None:
    stages = """  - name: sft
    data: [{path: data/commits.jsonl, adapter: commitpackft}]
    train: {max_steps: 400, save_steps: 3, per_device_batch_size: 1}
"""
    recipe = tiny_recipe(tmp_path, tiny_model, stages)
    ckpts = tmp_path / "run" / "stages" / "sft" / "checkpoints"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "amigo_train.cli", "run", str(recipe)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not (ckpts / "checkpoint-6" / "trainer_state.json").is_file():
            assert proc.poll() is None, "the run ended before it could be interrupted"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # a hard kill, as a lost node or OOM would do
    finally:
        proc.wait()
    assert not (tmp_path / "run" / "stages" / "sft" / "stage.json").exists()
    # resume, but finish sooner: the recipe may change max_steps between attempts
    recipe.write_text(recipe.read_text().replace("max_steps: 400", "max_steps: 12"))
    from amigo_train.manifest import latest_checkpoint

    resumed_from = latest_checkpoint(ckpts)
    assert resumed_from is not None and int(resumed_from.name.split("-")[1]) >= 6
    assert cli.main(["run", str(recipe), "--resume"]) == 0
    stage = json.loads((tmp_path / "run" / "stages" / "sft" / "stage.json").read_text())
    assert stage["resumed_from"] == resumed_from.name and stage["global_step"] == 12


def test_examples_longer_than_max_length_are_dropped_not_truncated(tmp_path: Path, tiny_model: Path,
                                                                     commit_file: Path) -> None:
    """A truncated answer loses its end-of-turn token and teaches the model not to stop."""
    from transformers import AutoTokenizer

    from amigo_train.data import read_jsonl
    from amigo_train.recipe import load_recipe
    from amigo_train.reports import example_lengths
    from amigo_train.stage_data import prepare_stage_data

    tok = AutoTokenizer.from_pretrained(str(tiny_model))
    path = tiny_recipe(tmp_path, tiny_model, STAGES)
    recipe = load_recipe(path)
    everything, _ = prepare_stage_data(recipe, recipe.stage("sft"), tmp_path / "all", tmp_path, None, reuse=False,
                                        tokenizer=tok)
    assert everything["too_long"] == 0
    rows = read_jsonl(tmp_path / "all" / "stages" / "sft" / "data" / "train.jsonl")
    lengths = sorted(set(example_lengths(rows, tok)))
    assert len(lengths) >= 2  # the fixture's commits differ in length
    limit = lengths[0]  # only the shortest examples fit
    path.write_text(path.read_text().replace("max_length: 512", f"max_length: {limit}"))
    recipe = load_recipe(path)
    info, _ = prepare_stage_data(recipe, recipe.stage("sft"), tmp_path / "cut", tmp_path, None, reuse=False,
                                 tokenizer=tok)
    kept = read_jsonl(tmp_path / "cut" / "stages" / "sft" / "data" / "train.jsonl")
    assert kept and all(n <= limit for n in example_lengths(kept, tok))
    assert info["too_long"] > 0 and info["train_examples"] == len(kept)
    assert info["train_examples"] + info["eval_examples"] + info["too_long"] == (
        everything["train_examples"] + everything["eval_examples"])
    assert all(r["completion"][-1]["content"] in {x["completion"][-1]["content"] for x in rows} for r in kept)

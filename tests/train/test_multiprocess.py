"""The smoke recipe (every stage: four SFT stages, then DPO) under ``accelerate launch --num_processes 2`` on
the CPU (gloo), with the shipped FSDP config and with DDP, on the tiny model: every stage saves a complete
adapter that the next stage loads, and the adapters match a one-process run with the same global batch.

What the FSDP case can and cannot show here: accelerate (1.16) turns FSDP on only for accelerator
processes; CPU processes run the FSDP config as plain data parallel (``MULTI_CPU``), which the test
asserts so that it notices the day that changes. So it checks that the shipped config launches and trains
every stage; the sharded-to-full save (``trainers.save_adapter``) runs only on GPUs.

Why they can match: accelerate gives rank r the batches r, r+2, ... of the one shuffled order, so a step
of two processes with batch 2 sees the same 4 examples as one process with batch 2 and 2 accumulation
steps; the loss is averaged over the same tokens either way. Small differences remain from the order of
floating-point sums (gradients are all-reduced across ranks), hence a tolerance.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from amigo_train import cli

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "recipes" / "smoke-cpu.yaml"
FSDP = ROOT / "recipes" / "accelerate" / "fsdp.yaml"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def smoke_recipe(folder: Path, model: Path, name: str, accumulation: int) -> Path:
    """recipes/smoke-cpu.yaml, every stage kept, on the tiny model: 2 steps a stage, a small LoRA."""
    recipe = yaml.safe_load(SMOKE.read_text())
    recipe.update(base_model=str(model), output_dir=str(folder / f"run-{name}"),
                  lora={"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"})
    recipe["defaults"].update(max_steps=2, save_steps=1, warmup_ratio=0.0, gradient_accumulation_steps=accumulation)
    for stage in recipe["stages"]:
        stage["train"] = {k: v for k, v in stage.get("train", {}).items() if k != "max_steps"}
    path = folder / f"recipe-{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    """The folder with the smoke data beside the recipes, and the one-process reference run done."""
    folder = tmp_path_factory.mktemp("multiprocess")
    (folder / "data").symlink_to(ROOT / "recipes" / "data")
    single = smoke_recipe(folder, tiny_model, "single", accumulation=2)
    assert cli.main(["run", str(single)]) == 0
    return folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(folder: Path, recipe: Path, how: str) -> subprocess.CompletedProcess[str]:
    # --cpu would make accelerate start one process (it expects mpirun for several CPU processes); without
    # it, torchrun starts two and the training code picks gloo because there is no GPU
    mode = ["--config_file", str(FSDP)] if how == "fsdp" else ["--multi_gpu"]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *mode, "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
           "-m", "amigo_train.cli", "run", str(recipe)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=1500)


@pytest.mark.parametrize("how", ["ddp", "fsdp"])
def test_smoke_recipe_on_two_processes_matches_one(runs: Path, tiny_model: Path, how: str) -> None:
    import torch
    from safetensors.torch import load_file

    recipe = smoke_recipe(runs, tiny_model, how, accumulation=1)
    done = launch(runs, recipe, how)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    single, multi = runs / "run-single", runs / f"run-{how}"
    stages = [s["name"] for s in yaml.safe_load(recipe.read_text())["stages"]]
    assert stages[-1] == "dpo" and len(stages) == 5
    for i, name in enumerate(stages):
        summary = json.loads((multi / "stages" / name / "stage.json").read_text())
        assert summary["processes"] == 2 and summary["global_step"] == 2
        assert summary["distributed"] == "MULTI_CPU"  # see the module docstring for FSDP on CPU processes
        # each stage started from the complete adapters of the stages before it
        assert summary["previous_adapters"] == [str(multi / "stages" / s / "adapter") for s in stages[:i]]
        ours = load_file(multi / "stages" / name / "adapter" / "adapter_model.safetensors")
        reference = load_file(single / "stages" / name / "adapter" / "adapter_model.safetensors")
        assert ours.keys() == reference.keys() and len(ours) > 0
        for key, tensor in reference.items():  # whole tensors, not a rank's shard
            assert ours[key].shape == tensor.shape, key
            torch.testing.assert_close(ours[key], tensor, rtol=1e-3, atol=1e-5, msg=lambda m: f"{name} {key}: {m}")
        one = json.loads((single / "stages" / name / "stage.json").read_text())
        assert summary["train_loss"] == pytest.approx(one["train_loss"], rel=1e-4)

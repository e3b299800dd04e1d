"""The smoke recipe (every stage: four SFT stages, then DPO) under ``accelerate launch --num_processes 2`` on
the CPU (gloo), with DDP and with the shipped FSDP and ZeRO-3 configs, on the tiny model: every stage saves a
complete adapter that the next stage loads, and the adapters match a one-process run with the same global batch.

FSDP and ZeRO-3 run for real: accelerate (1.16) turns them on only for accelerator processes and would run
those configs as plain data parallel (``MULTI_CPU``) on CPU processes, so the launch goes through
``accelerate_on_cpu.py``, which lifts only that gate (torch's FSDP2 and DeepSpeed's CPU accelerator both run on
gloo). So the FSDP case saves sharded checkpoints and its adapter through the sharded-to-full switch in
``trainers.save_adapter`` (without the switch the Trainer writes no adapter at all), and the ZeRO-3 case builds
the training arguments before the model, so each rank holds only its part of the weights from the load on,
and merges the earlier stages' adapters one gathered layer at a time (``modeling.merge_adapter``).

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
ZERO3 = ROOT / "recipes" / "accelerate" / "deepspeed-zero3.yaml"
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


def launch(folder: Path, recipe: Path, how: str, probe: Path) -> subprocess.CompletedProcess[str]:
    # --cpu would make accelerate start one process (it expects mpirun for several CPU processes); without
    # it, torchrun starts two and the training code picks gloo because there is no GPU
    mode = {"ddp": ["--multi_gpu"], "fsdp": ["--config_file", str(FSDP)], "zero3": ["--config_file", str(ZERO3)]}[how]
    script = ["-m", "amigo_train.cli"] if how == "ddp" else [str(Path(__file__).parent / "accelerate_on_cpu.py")]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *mode, "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
           *script, "run", str(recipe)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu",
           "AMIGO_TEST_LOAD_PROBE": str(probe)}
    return subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=1500)


@pytest.mark.parametrize("how", ["ddp", "fsdp", "zero3"])
def test_smoke_recipe_on_two_processes_matches_one(runs: Path, tiny_model: Path, how: str) -> None:
    import torch
    from safetensors.torch import load_file

    if how == "zero3":
        pytest.importorskip("deepspeed")
    recipe = smoke_recipe(runs, tiny_model, how, accumulation=1)
    probe = runs / f"probe-{how}"
    probe.mkdir()
    done = launch(runs, recipe, how, probe)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    single, multi = runs / "run-single", runs / f"run-{how}"
    stages = [s["name"] for s in yaml.safe_load(recipe.read_text())["stages"]]
    assert stages[-1] == "dpo" and len(stages) == 5
    if how == "zero3":  # partitioned at load: each rank held only its part of every stage's model
        loads = [json.loads(line) for rank in (0, 1) for line in (probe / f"rank{rank}.jsonl").read_text().splitlines()]
        assert len(loads) == 2 * len(stages)
        assert all(load["partitioned"] and 0 < load["held"] < 0.6 * load["whole"] for load in loads), loads
    for i, name in enumerate(stages):
        summary = json.loads((multi / "stages" / name / "stage.json").read_text())
        assert summary["processes"] == 2 and summary["global_step"] == 2
        assert summary["distributed"] == {"ddp": "MULTI_CPU", "fsdp": "FSDP", "zero3": "DEEPSPEED"}[how]
        if how == "fsdp":  # checkpoints stay sharded (SHARDED_STATE_DICT): one folder of shards, no adapter file
            checkpoint = multi / "stages" / name / "checkpoints" / "checkpoint-2"
            assert (checkpoint / "pytorch_model_fsdp_0").is_dir(), sorted(p.name for p in checkpoint.iterdir())
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

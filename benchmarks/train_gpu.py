"""SFT step loop on a real architecture with random weights: plain TRL defaults vs the recipe.

Prints tokens/s (real, non-padding tokens) and model FLOPs utilisation for both set-ups,
side by side, in one run. Nothing is downloaded: the model is a ~1.1B Llama-3.2-1B-shaped
config (SmolLM2's 49k vocabulary, whose tokenizer is carried in the repo's cache) with
random weights; the data are Amigo examples rendered through amigo.prompt / amigo.edits
from edits of this repository's own Python files.

    python benchmarks/train_gpu.py --recipe recipes/amigo-1.0.yaml [--tokenizer DIR] [--steps 12]
    python benchmarks/train_gpu.py --launch fsdp   [--processes N]   # the shipped FSDP config, N GPUs
    python benchmarks/train_gpu.py --launch zero3  [--processes N]   # the shipped DeepSpeed ZeRO-3 config
    python benchmarks/train_gpu.py --tiny --steps 3          # CPU check of the script itself

``--launch`` starts the same measurement under ``accelerate launch`` with
``recipes/accelerate/fsdp.yaml`` or ``deepspeed-zero3.yaml`` (N defaults to every GPU); tokens/s is then
the whole group's, and the row adds tokens/s and peak memory per GPU. Under ZeRO-3 the training arguments
are built before the model, so it is partitioned as it is made (as Amigo's training does).

MFU uses the usual 6 * N * tokens (+ attention) convention for a full fine-tune;
LoRA skips the frozen weights' gradients (about 4 * N), so its row also shows
MFU under that count. Peak bf16 dense throughput defaults to the H100 SXM's 989 TFLOP/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PEAKS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}
CONFIGS = {"fsdp": ROOT / "recipes" / "accelerate" / "fsdp.yaml",
           "zero3": ROOT / "recipes" / "accelerate" / "deepspeed-zero3.yaml"}


def launched() -> bool:
    """True inside ``accelerate launch`` (a rank of a --launch run; one process may run without torchrun)."""
    return "LOCAL_RANK" in os.environ or "AMIGO_BENCH_LAUNCH" in os.environ


def relaunch(args: argparse.Namespace, argv: list[str]) -> int:
    """Run this script again under ``accelerate launch`` with the shipped config ``args.launch``."""
    import torch

    processes = args.processes or max(1, torch.cuda.device_count())
    rest, skip = [], False
    for item in argv:  # everything but --launch/--processes goes through to every rank
        if skip:
            skip = False
        elif item in ("--launch", "--processes"):
            skip = True
        elif not item.startswith(("--launch=", "--processes=")):
            rest.append(item)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIGS[args.launch]),
           "--num_processes", str(processes), "--num_machines", "1", "--dynamo_backend", "no",
           *([] if torch.cuda.is_available() else ["--mixed_precision", "no"]), __file__, *rest]
    print("+ " + " ".join(cmd), flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AMIGO_BENCH_LAUNCH": args.launch}
    return subprocess.run(cmd, env=env).returncode


def numel(param) -> int:  # type: ignore[no-untyped-def]
    """A parameter's full size, also when ZeRO-3 left only a placeholder on this rank."""
    return int(getattr(param, "ds_numel", param.numel()))


def make_examples(n: int, seed: int = 0) -> list[dict]:
    """Prompt/completion examples from renaming identifiers in this repo's Python files."""
    from amigo_train.adapters import commitpackft

    rng = random.Random(seed)
    files = [p for p in sorted(ROOT.glob("amigo*/**/*.py")) if 2_000 < p.stat().st_size < 30_000]
    out: list[dict] = []
    while len(out) < n and files:
        path = rng.choice(files)
        old = path.read_text(encoding="utf-8")
        names = sorted(set(re.findall(r"\bdef ([a-z_][a-z0-9_]{3,})", old)))
        if not names:
            continue
        name = rng.choice(names)
        new = re.sub(rf"\b{name}\b", name + "_v2", old)
        ex = commitpackft({"old_file": str(path.relative_to(ROOT)), "new_file": str(path.relative_to(ROOT)),
                           "old_contents": old, "new_contents": new, "subject": f"Rename {name} to {name}_v2 everywhere"})
        if ex:
            out.append(ex)
    return out


def model_config(tiny: bool, vocab: int):  # type: ignore[no-untyped-def]
    from transformers import LlamaConfig

    if tiny:
        return LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16384,
                           tie_word_embeddings=True)
    # Llama-3.2-1B's shape (16 layers, 2048 wide, GQA 32/8, SwiGLU 8192) with a 49k vocabulary.
    return LlamaConfig(vocab_size=vocab, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                       num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=16384,
                       rope_theta=500000.0, tie_word_embeddings=True)


def run_setup(label: str, args: argparse.Namespace, tokenizer, examples, recipe_like: bool, recipe) -> dict:  # type: ignore[no-untyped-def]
    import torch
    from accelerate.utils import gather_object
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import LlamaForCausalLM, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    cuda = torch.cuda.is_available()
    torch.manual_seed(0)
    config = model_config(args.tiny, len(tokenizer))
    dtype = torch.bfloat16 if (recipe_like and cuda) else torch.float32
    marks: list[tuple[float, float]] = []

    class Clock(TrainerCallback):
        def on_log(self, a, state, control, logs=None, **kw):  # type: ignore[no-untyped-def]
            if logs and "num_tokens" in logs:
                if cuda:
                    torch.cuda.synchronize()
                marks.append((time.perf_counter(), float(logs["num_tokens"])))

    common = dict(output_dir=f"/tmp/train_gpu_{label}", max_steps=args.steps, logging_steps=1, report_to="none",
                  save_strategy="no", use_cpu=not cuda, disable_tqdm=True)
    if recipe_like:
        spec = recipe.train_for(recipe.stages[0])
        cfg = SFTConfig(**common, learning_rate=spec.learning_rate, max_length=min(spec.max_length, args.max_length),
                        packing=True, per_device_train_batch_size=args.recipe_batch,
                        gradient_accumulation_steps=1, gradient_checkpointing=recipe.gradient_checkpointing,
                        bf16=cuda, completion_only_loss=True)
        peft = LoraConfig(r=recipe.lora.r, lora_alpha=recipe.lora.alpha, lora_dropout=recipe.lora.dropout,
                          target_modules=recipe.lora.target_modules, task_type="CAUSAL_LM")
    else:
        cfg = SFTConfig(**common, bf16=cuda)  # TRL's defaults: full fine-tune, batch 8, max_length 1024
        peft = None
    # the arguments exist before the model: under ZeRO-3, from_config then partitions it as it is made
    if launched():
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_config(config, dtype=dtype)  # accelerate places and shards it
    else:
        with torch.device("cuda" if cuda else "cpu"):
            model = LlamaForCausalLM(config).to(dtype)
    n_params = sum(numel(p) for p in model.parameters())
    ds = Dataset.from_list([{"prompt": e["prompt"], "completion": e["completion"]} for e in examples])
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tokenizer, peft_config=peft,
                         callbacks=[Clock()])
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    warm = min(args.warmup, len(marks) - 2)
    (t0, n0), (t1, n1) = marks[warm], marks[-1]
    tps = (n1 - n0) / (t1 - t0)
    seq = cfg.max_length or 1024
    attn = 6 * config.num_hidden_layers * config.hidden_size * seq  # causal attention ~ 12*L*d*s/2 per token
    flops_full = (6 * n_params + attn) * tps
    flops_lora = (4 * n_params + attn * 2 / 3) * tps
    name = torch.cuda.get_device_name() if cuda else "cpu"
    processes = trainer.accelerator.num_processes
    peak = next((v for k, v in PEAKS.items() if k in name), args.peak_tflops * 1e12) * processes
    memory = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    per_rank = gather_object([memory or 0.0]) if processes > 1 else [memory or 0.0]
    row = {
        "setup": label, "device": name, "params": n_params,
        "trainable": sum(numel(p) for p in trainer.model.parameters() if p.requires_grad),
        "launch": args.launch_name, "processes": processes,
        "distributed": str(getattr(trainer.accelerator.distributed_type, "value", trainer.accelerator.distributed_type)),
        "tokens_per_s_per_gpu": round(tps / processes, 1),
        "peak_mem_gib_per_gpu": [round(m, 2) for m in per_rank] if cuda else None,
        "weights_dtype": str(dtype).replace("torch.", ""), "batch": cfg.per_device_train_batch_size, "max_length": seq,
        "packing": bool(cfg.packing), "grad_ckpt": bool(cfg.gradient_checkpointing), "tokens_per_s": round(tps, 1),
        "mfu_6N": round(flops_full / peak, 4), "mfu_4N_lora": round(flops_lora / peak, 4) if peft else None,
        "peak_mem_gib": round(max(per_rank), 2) if cuda else None,
        "timed_steps": len(marks) - 1 - warm, "final_loss": trainer.state.log_history[-2].get("loss") if len(trainer.state.log_history) > 1 else None,
    }
    del trainer, model
    if cuda:
        torch.cuda.empty_cache()
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(ROOT / "recipes" / "amigo-1.0.yaml"))
    parser.add_argument("--tokenizer", default=None, help="tokenizer dir (default: the dequantized SmolLM2 cache)")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--examples", type=int, default=400)
    parser.add_argument("--max-length", type=int, default=8192, help="cap on the recipe's max_length")
    parser.add_argument("--recipe-batch", type=int, default=1)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model: checks the script on a CPU")
    parser.add_argument("--only", choices=("defaults", "recipe"), default=None)
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    parser.add_argument("--launch", choices=sorted(CONFIGS), default=None,
                        help="run under accelerate launch with the shipped FSDP or ZeRO-3 config")
    parser.add_argument("--processes", type=int, default=None, help="with --launch: processes (default: every GPU)")
    args = parser.parse_args(argv)
    if args.launch and not launched():
        return relaunch(args, list(sys.argv[1:] if argv is None else argv))
    args.launch_name = os.environ.get("AMIGO_BENCH_LAUNCH") or ("accelerate" if launched() else "none")
    main_rank = os.environ.get("RANK", "0") == "0"

    from transformers import AutoTokenizer

    from amigo_train.recipe import load_recipe

    tok_dir = args.tokenizer
    if tok_dir is None:
        from amigo_train.base_model import dequantized_smollm2
        tok_dir = str(dequantized_smollm2())
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    recipe = load_recipe(args.recipe)
    examples = make_examples(args.examples)
    rows = []
    for label, recipe_like in (("trl-defaults", False), ("recipe", True)):
        if args.only and not label.startswith(args.only[:5]):
            continue
        rows.append(run_setup(label, args, tokenizer, examples, recipe_like, recipe))
        if main_rank:
            print(json.dumps(rows[-1]), flush=True)
    if not main_rank:
        return 0
    keys = ["setup", "device", "launch", "processes", "weights_dtype", "batch", "max_length", "packing", "grad_ckpt",
            "trainable", "tokens_per_s", "tokens_per_s_per_gpu", "mfu_6N", "mfu_4N_lora", "peak_mem_gib_per_gpu",
            "timed_steps", "final_loss"]
    print("\n" + " | ".join(keys))
    for row in rows:
        print(" | ".join(str(row[k]) for k in keys))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

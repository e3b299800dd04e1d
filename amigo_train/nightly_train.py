"""Nightly training: one LoRA adapter on a fixed release, continued night after night.

Why continue one adapter rather than merge and stack (as staged runs do): the
served base must stay the same between releases so that vLLM can swap the
nightly adapter by name without a restart. The DPO reference is the model the
DPO stage starts from: TRL (1.x) copies the adapter the policy carries into a
frozen one named ``ref`` and takes the reference log-probs through it. After the
night's SFT stage that is the promoted model plus tonight's SFT (the usual
"reference = SFT model" of DPO); with no SFT data it is the promoted model itself.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from amigo_train.recipe import Recipe, StageSpec
from amigo_train.modeling import lora_config, torch_dtype
from amigo_train.reports import _metrics_callback, plot_loss
from amigo_train.trainers import _common_args, _dataset, dpo_args

Log = Callable[[str], None]


def load_policy(release: Path, start_adapter: Path | None, recipe: Recipe, dtype: Any) -> Any:
    """The release with a trainable adapter: a copy of ``start_adapter``, or a fresh one.

    For DPO, TRL itself keeps a frozen copy of the starting adapter as ``ref``."""
    from peft import PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(release), dtype=dtype)
    if start_adapter is None:
        return get_peft_model(model, lora_config(recipe))
    return PeftModel.from_pretrained(model, str(start_adapter), is_trainable=True)


def train_continued(recipe: Recipe, stage: StageSpec, rows: list[dict[str, Any]], release: Path,
                    start_adapter: Path | None, out: Path, log: Log = print) -> dict[str, Any]:
    """Train ``stage`` (sft or dpo) on ``rows``; the adapter lands in ``out/adapter`` (atomically).

    Idempotent: a finished stage (``out/stage.json``) is returned as it is; an
    interrupted one starts over (nightly stages are minutes long)."""
    from transformers import AutoTokenizer

    done = out / "stage.json"
    if done.is_file():
        return json.loads(done.read_text())
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    spec = recipe.train_for(stage)
    tokenizer = AutoTokenizer.from_pretrained(str(release))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_policy(release, start_adapter, recipe, torch_dtype(recipe))
    args = _common_args(recipe, spec, out / "checkpoints", False)
    args["save_strategy"] = "no"
    if spec.max_steps > 0:  # in a nightly recipe max_steps caps the epochs (a busy night stays in its time)
        per_step = spec.per_device_batch_size * spec.gradient_accumulation_steps
        args["max_steps"] = min(spec.max_steps, max(1, math.ceil(len(rows) * spec.epochs / per_step)))
    callbacks = [_metrics_callback(out / "metrics.jsonl")]
    if stage.kind == "sft":
        from trl import SFTConfig, SFTTrainer

        trainer = SFTTrainer(model=model, args=SFTConfig(**args, packing=spec.packing, completion_only_loss=True),
                             train_dataset=_dataset(rows, "sft"), processing_class=tokenizer, callbacks=callbacks)
    else:
        from trl import DPOConfig, DPOTrainer

        trainer = DPOTrainer(model=model, ref_model=None, args=DPOConfig(**args, **dpo_args(spec)),
                             train_dataset=_dataset(rows, "dpo"), processing_class=tokenizer, callbacks=callbacks)
    log(f"nightly {stage.name}: {stage.kind} on {len(rows)} examples from "
        f"{start_adapter or 'a fresh adapter'} on {release}")
    started = time.time()
    result = trainer.train()
    tmp = out / "adapter.tmp"
    trainer.model.save_pretrained(str(tmp), selected_adapters=["default"])
    tokenizer.save_pretrained(str(tmp))
    tmp.rename(out / "adapter")
    plot_loss(out / "metrics.jsonl", out / "loss.png", f"{recipe.name}: {stage.name}")
    summary = {"stage": stage.name, "kind": stage.kind, "examples": len(rows), "global_step": trainer.state.global_step,
               "train_loss": result.training_loss, "seconds": time.time() - started,
               "start_adapter": str(start_adapter) if start_adapter else None, "release": str(release)}
    done.write_text(json.dumps(summary, indent=2))
    return summary


def sequence_logprobs(model: Any, tokenizer: Any, prompt: list[dict[str, str]],
                      answers: list[list[dict[str, str]]]) -> list[float]:
    """Sum of the answer tokens' log-probabilities under ``model``, for each answer to ``prompt``
    (the chat template's end-of-turn token included, as DPO scores them).

    The prompt is run once and its key/value cache reused for every answer (the prompt is most
    of the tokens); an answer whose rendering does not start with the prompt's is run whole."""
    import copy
    import inspect

    import torch

    # transformers 5.x renamed past_key_values to cache (the old name warns, then goes in 5.40)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    cache_name = "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"
    head = list(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=False))
    with torch.no_grad():
        prefix = model(torch.tensor([head]), use_cache=True)
    first = torch.log_softmax(prefix.logits[0, -1].float(), -1)
    out = []
    for answer in answers:
        full = list(tokenizer.apply_chat_template(list(prompt) + list(answer), tokenize=True, return_dict=False))
        with torch.no_grad():
            if full[:len(head)] == head and len(full) > len(head):
                tail = full[len(head):]
                state = copy.deepcopy(getattr(prefix, cache_name))
                logits = model(torch.tensor([tail]), use_cache=True, **{cache_name: state}).logits[0, :-1].float()
                logps = torch.log_softmax(logits, -1).gather(1, torch.tensor(tail[1:])[:, None])[:, 0]
                out.append(float(first[tail[0]] + logps.sum()))
            else:
                ids = torch.tensor([full])
                logits = model(ids).logits[0, :-1].float()
                logps = torch.log_softmax(logits, -1).gather(1, ids[0, 1:, None])[:, 0]
                out.append(float(logps[len(head) - 1:].sum()))
    return out


def load_for_evaluation(release: Path, adapter: Path | None) -> tuple[Any, Any]:
    """(tokenizer, model): the release in float32 with ``adapter`` on it (none: the release), in eval mode."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(release))
    model = AutoModelForCausalLM.from_pretrained(str(release), dtype=torch.float32)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter))
    return tokenizer, model.eval()


def preference_outcomes(release: Path, adapter: Path | None, pairs: list[dict[str, Any]]) -> list[int]:
    """1 where the model ranks the chosen answer above the rejected one, per held-out pair."""
    tokenizer, model = load_for_evaluation(release, adapter)
    outcomes = []
    for pair in pairs:
        chosen, rejected = sequence_logprobs(model, tokenizer, pair["prompt"], [pair["chosen"], pair["rejected"]])
        outcomes.append(int(chosen > rejected))
    return outcomes


def greedy_answers(release: Path, adapter: Path | None, prompts: list[list[dict[str, str]]], max_tokens: int,
                   batch_size: int = 8) -> list[str]:
    """The model's greedy answer to each chat prompt (the release with ``adapter``, as served).

    Prompts are generated in batches of similar length, left-padded; each answer ends at the
    chat template's end-of-turn token or after ``max_tokens``."""
    import torch

    tokenizer, model = load_for_evaluation(release, adapter)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    encoded = [list(tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=True, return_dict=False))
               for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    answers: list[str] = [""] * len(prompts)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        width = max(len(encoded[i]) for i in chunk)
        ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(encoded[i])) + encoded[i] for i in chunk])
        mask = torch.tensor([[0] * (width - len(encoded[i])) + [1] * len(encoded[i]) for i in chunk])
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        for row, i in zip(out, chunk):
            answers[i] = tokenizer.decode(row[width:], skip_special_tokens=True)
    return answers


def served_answers(gguf: Path, prompts: list[list[dict[str, str]]], max_tokens: int, threads: int | None = None,
                   log_path: Path | None = None, parallel: int = 4, n_ctx: int = 8192) -> list[str | Exception]:
    """The greedy answer to each chat prompt of the model in ``gguf``, served by llama.cpp as
    ``amigo serve`` would serve it (``llama-server`` with ``parallel`` slots where it is built,
    else llama-cpp-python, one request at a time).

    Why served, not generated with transformers: the gate then judges the file people will be
    answered by (conversion and half precision included), and llama.cpp decodes several
    requests at once; on 2 cores 16 held-out requests took 40 s this way against 64 s with
    transformers on both cores. A request the running server answers with an error (a prompt
    longer than its context) is that error, judged a failure; a server that dies raises."""
    from concurrent.futures import ThreadPoolExecutor

    from amigo.client import ChatClient
    from amigo.errors import ModelServerError
    from amigo.serve import ServerProcess, resolve_backend

    backend = resolve_backend("auto")
    slots = parallel if backend == "llama-server" else 1
    with ServerProcess(model_path=gguf, backend=backend, n_ctx=n_ctx, threads=threads, parallel=slots,
                       log_path=log_path) as server, \
            ChatClient(server.base_url, server.alias, read_timeout=600.0) as client:
        def answer(prompt: list[dict[str, str]]) -> str | Exception:
            try:
                return client.complete(prompt, temperature=0.0, max_tokens=max_tokens).text
            except ModelServerError as exc:
                if server.process is None or server.process.poll() is not None:
                    raise
                return exc

        with ThreadPoolExecutor(slots) as pool:
            return list(pool.map(answer, prompts))


def edit_outcomes(requests: list[dict[str, Any]], answers: list[str | Exception]) -> list[dict[str, Any]]:
    """For each held-out request (a row of the feedback ``requests`` export) and a model's answer
    to it: whether the answer applies to the file as it was and passes the engine's checks."""
    from amigo.checks import judge_answer
    from amigo.prompt import EditRequest

    out = []
    for row, answer in zip(requests, answers):
        if isinstance(answer, Exception):
            out.append({"request_id": row["request_id"], "passes": 0, "answer": "",
                        "why": f"no answer: {answer}"})
            continue
        selection = (row["selection_start"], row["selection_end"]) if row.get("selection_start") else None
        request = EditRequest(instruction=row["instruction"], path=row["path"], file_text=row["file_text"],
                              selection=selection, edit_format=row["edit_format"])
        why = judge_answer(request, answer)
        out.append({"request_id": row["request_id"], "passes": int(why is None), "why": why, "answer": answer})
    return out

"""Export a finished run: merged safetensors, GGUF (verified against transformers),
an Ollama Modelfile, a model card, and an upload to the hub.

The merge applies the stage adapters to the base in recipe order, exactly as
training chained them ("merge first"), so the merged model equals base + adapters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from amigo import progress
from amigo.errors import ConfigError
from amigo_train.gguf_export import QUANTIZATIONS


def run_adapters(run_dir: Path) -> tuple[str, list[Path], dict[str, Any]]:
    """(base model, ordered adapter dirs, manifest) of a finished run directory."""
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ConfigError(f"{run_dir} has no manifest.json: pass the output_dir of `amigo train run`")
    manifest = json.loads(manifest_path.read_text())
    adapters = []
    for stage in manifest["recipe"]["stages"]:
        adapter = run_dir / "stages" / stage["name"] / "adapter"
        if not (run_dir / "stages" / stage["name"] / "stage.json").is_file():
            raise ConfigError(f"stage {stage['name']} of {run_dir} is not complete; finish the run first (--resume)")
        adapters.append(adapter)
    return manifest["recipe"]["base_model"], adapters, manifest


def merge(base: str, adapters: list[Path], out: Path) -> Path:
    """Merge the adapters into the base (float32 on CPU, else bf16) and save safetensors + tokenizer."""
    import torch
    from transformers import AutoTokenizer

    from amigo_train.base_model import resolve_base
    from amigo_train.modeling import load_stage_model

    base_path = resolve_base(base)
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = load_stage_model(base_path, adapters, dtype)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    AutoTokenizer.from_pretrained(str(adapters[-1]) if adapters else base_path).save_pretrained(str(out))
    return out


def verification_prompts() -> list[list[dict[str, str]]]:
    """Chat prompts the GGUF check runs: a plain question, a code request, and an Amigo edit
    request rendered by ``amigo.prompt`` (the layout the exported model is served with)."""
    from amigo.prompt import EditRequest, build_messages

    edit = EditRequest(instruction="Return 0.0 for an empty list instead of failing.", path="stats.py",
                       file_text="def mean(xs):\n    return sum(xs) / len(xs)\n")
    return [
        [{"role": "user", "content": "Write a Python function that adds two numbers."}],
        [{"role": "user", "content": "What is the capital of France?"}],
        build_messages(edit),
    ]


def verify_gguf(merged: Path, gguf_path: Path, prompts: list[list[dict[str, str]]] | None = None,
                max_tokens: int = 24) -> dict[str, Any]:
    """llama.cpp on the GGUF vs transformers on the merged model, on several chat prompts.

    Per prompt: greedy tokens from each (real generation on both sides; ``match`` when
    identical) and, teacher-forced over prompt + transformers' answer, the share of
    positions whose top token agrees and the top-5 overlap. A conversion bug (rotary
    permutation, tied embeddings, rope base, tokenizer) shows as garbage here, while
    f16 rounding shows only as a rare late divergence on a near tie."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from amigo_train.gguf_export import compare_logits, greedy_llama_cpp, llama_cpp_logits, open_llama_cpp

    tok = AutoTokenizer.from_pretrained(str(merged))
    model = AutoModelForCausalLM.from_pretrained(str(merged), dtype=torch.float32).eval()
    eos = model.generation_config.eos_token_id
    stop = set(eos if isinstance(eos, list) else [eos]) | {tok.eos_token_id}
    rows = []
    encoded = [[int(i) for i in tok.apply_chat_template(m, add_generation_prompt=True, tokenize=True,
                                                        return_dict=False)]
               for m in prompts or verification_prompts()]
    # logits_all keeps n_ctx x vocab floats: size the context to the longest prompt, not more
    llm = open_llama_cpp(gguf_path, n_ctx=max(len(ids) for ids in encoded) + max_tokens + 8, logits_all=True)
    for ids in encoded:
        with torch.no_grad():
            gen = model.generate(torch.tensor([ids]), max_new_tokens=max_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id or tok.eos_token_id)
        hf = []
        for t in gen[0][len(ids):].tolist():
            if t in stop:
                break
            hf.append(int(t))
        cpp = greedy_llama_cpp(llm, ids, max_tokens)
        same = next((i for i, (a, b) in enumerate(zip(hf, cpp)) if a != b), min(len(hf), len(cpp)))
        seq = ids + hf
        with torch.no_grad():
            hf_logits = model(torch.tensor([seq])).logits[0].float().numpy()
        agreement = compare_logits(hf_logits, llama_cpp_logits(llm, seq), start=len(ids) - 1)
        rows.append({"transformers": tok.decode(hf), "llama_cpp": tok.decode(cpp), "tokens": len(hf),
                     "identical_prefix": same, "match": hf == cpp, **agreement})
    positions = sum(r["positions"] for r in rows)
    return {
        "prompts": rows, "match": all(r["match"] for r in rows),
        "tokens": sum(r["tokens"] for r in rows), "identical_prefix": sum(r["identical_prefix"] for r in rows),
        "top1_agreement": sum(r["top1_agreement"] * r["positions"] for r in rows) / positions,
        "top5_overlap": sum(r["top5_overlap"] * r["positions"] for r in rows) / positions,
        "max_abs_logit_diff": max(r["max_abs_logit_diff"] for r in rows),
    }


def _ollama_template(chat_template: str) -> tuple[str, list[str]] | None:
    """The model's own chat template as Ollama's Go template, by the family its Jinja template
    belongs to; None for one we do not know (Ollama then reads the template inside the GGUF)."""
    if "<start_of_turn>" in chat_template:
        return ("{{ if .System }}<start_of_turn>user\n{{ .System }}\n\n{{ end }}{{ if .Prompt }}"
                "{{ if not .System }}<start_of_turn>user\n{{ end }}{{ .Prompt }}<end_of_turn>\n{{ end }}"
                "<start_of_turn>model\n{{ .Response }}<end_of_turn>\n", ["<end_of_turn>"])
    if "<|start_header_id|>" in chat_template:
        return ("{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}"
                "<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>"
                "<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>", ["<|eot_id|>"])
    if "<|im_start|>" in chat_template:
        return ("{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
                "<|im_start|>user\n{{ .Prompt }}<|im_end|>\n<|im_start|>assistant\n{{ .Response }}<|im_end|>\n",
                ["<|im_end|>"])
    return None


def modelfile(gguf_name: str, chat_template: str) -> str:
    """An Ollama Modelfile: the GGUF, the model's chat template, Amigo's system prompt, low temperature."""
    from amigo.prompt import SYSTEM_BLOCKS

    family = _ollama_template(chat_template)
    lines = [f"FROM ./{gguf_name}"]
    if family is not None:
        lines.append(f'TEMPLATE """{family[0]}"""')
    lines += [f'SYSTEM """{SYSTEM_BLOCKS}"""', "PARAMETER temperature 0.2", "PARAMETER num_ctx 8192"]
    lines += [f'PARAMETER stop "{s}"' for s in (family[1] if family else [])]
    return "\n".join(lines) + "\n"


def model_card(manifest: dict[str, Any], name: str, eval_results: dict[str, float] | None = None,
               license: str = "apache-2.0", base_hub_id: str | None = None, gguf_files: list[str] | None = None) -> str:
    """README.md with YAML metadata (base_model as a Hub id, datasets, license, results) and the plain facts."""
    import yaml

    from amigo_train.registry import REGISTRY

    recipe = manifest["recipe"]
    datasets: list[str] = []
    for stage in recipe["stages"]:
        for src in stage["data"]:
            entry = REGISTRY.get(src.get("dataset") or "")
            if entry and entry.hub_id and entry.hub_id not in datasets:
                datasets.append(entry.hub_id)
    meta: dict[str, Any] = {
        **({"base_model": base_hub_id, "base_model_relation": "finetune"} if base_hub_id else {}),
        "license": license, "datasets": datasets,
        "library_name": "transformers", "pipeline_tag": "text-generation",
        "tags": ["code", "amigo", "lora", "sft", "dpo", "search-replace-edits", *(["gguf"] if gguf_files else [])],
    }
    if eval_results:
        meta["model-index"] = [{"name": name, "results": [
            {"task": {"type": "text-generation"}, "dataset": {"name": k, "type": k},
             "metrics": [{"type": "pass@1", "value": v}]} for k, v in eval_results.items()]}]
    stages = "\n".join(
        f"{i}. `{s['name']}` ({s.get('kind', 'sft').upper()}): {s.get('description') or ''} "
        f"data: {', '.join(d.get('dataset') or d.get('path') or '' for d in s['data'])}"
        for i, s in enumerate(recipe["stages"], 1))
    lora = recipe["lora"]
    results = "\n".join(f"| {k} | {v:.3f} |" for k, v in (eval_results or {}).items()) or "| (not evaluated) | - |"
    files = ", ".join(f"`{g}`" for g in gguf_files or []) or "none in this export"
    return f"""---
{yaml.safe_dump(meta, sort_keys=False).strip()}
---

# {name}

Amigo's editing model: given an instruction and a file, it answers with
SEARCH/REPLACE blocks (the format `amigo.edits` parses and applies).

## Use

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained("ORG/NAME")   # this repository
tokenizer = AutoTokenizer.from_pretrained("ORG/NAME")
```

GGUF for llama.cpp ({files}); `ollama create {name.lower()} -f Modelfile` for Ollama;
`amigo serve --model FILE.gguf` for Amigo itself. License: `{license}`, the base model's terms.

## Training method

LoRA (r={lora['r']}, alpha={lora['alpha']}, targets {lora['target_modules']}) on `{recipe['base_model']}`, in
stages; each stage trains a fresh adapter on the base with the earlier adapters merged in, and the
DPO stage uses the merged SFT model as its frozen reference. Prompts and targets are rendered by
`amigo.prompt` and `amigo.edits`, the same code that serves the model.

{stages}

Precision {recipe['precision']}, seed {recipe['seed']}, code commit `{manifest.get('git_commit')}`,
versions: {json.dumps(manifest.get('versions', {}))}.

## Evaluation

| benchmark | score |
| --- | --- |
{results}

## Limitations

- Trained for SEARCH/REPLACE edits of one file at a time; multi-file refactors are weak.
- Training data was decontaminated by 13-gram overlap against HumanEval, MBPP, HumanEvalFix,
  QuixBugs and DebugBench; paraphrased overlap can remain.
- Answers can be wrong or unsafe: every edit is shown as a diff for a person to accept.
- Licenses of the training sets vary (see the datasets list); check them before commercial use.
"""


def export_license(base: str, explicit: str | None) -> str:
    """The license the export is published under: ``--license``, else the base model's own
    (a fine-tune inherits its base's terms); an unknown base must be told, never guessed."""
    from amigo_train.base_model import base_license

    found = explicit or base_license(base)
    if not found:
        raise ConfigError(f"the license of the base model {base!r} is not known here: pass --license with the "
                          "Hub license id its model card gives (e.g. apache-2.0, gemma, llama3.1, mit)")
    return found


def write_gguf(model_dir: Path, out_dir: Path, base: str, template_gguf: Path | None,
               quantizations: tuple[str, ...], log: Any) -> list[Path]:
    """model.gguf (f16) and one ``model-<KIND>.gguf`` per quantization; returns their paths.

    The llama architecture with a template GGUF (the embedded model, or ``--template-gguf``)
    uses the writer here (bit-identical tokenizer); everything else llama.cpp's converter."""
    from transformers import AutoConfig

    from amigo_train.base_model import EMBEDDED, embedded_gguf
    from amigo_train.gguf_export import convert_with_llama_cpp, quantize, write_llama_gguf

    template = template_gguf or (embedded_gguf() if base == EMBEDDED else None)
    f16 = out_dir / "model.gguf"
    if AutoConfig.from_pretrained(model_dir).model_type == "llama" and template is not None:
        write_llama_gguf(model_dir, Path(template), f16)
    else:
        convert_with_llama_cpp(model_dir, f16)
    paths = [f16]
    with progress.task("quantizing GGUF", len(quantizations), "files") as reporter:
        for kind in quantizations:
            paths.append(quantize(f16, out_dir / f"model-{kind}.gguf", kind))
            reporter.advance()
    log("GGUF: " + ", ".join(f"{p.name} ({p.stat().st_size / 2**20:.0f} MiB)" for p in paths))
    return paths


def export_run(run_dir: Path, out: Path, *, gguf: bool = True, verify: bool = True,
               template_gguf: Path | None = None, eval_results: dict[str, float] | None = None,
               name: str | None = None, log: Any = print, license: str | None = None,
               quantizations: tuple[str, ...] = QUANTIZATIONS) -> dict[str, Any]:
    """A Hub-ready folder ``out``: the merged weights and tokenizer at its top (so
    ``from_pretrained("ORG/NAME")`` loads it), GGUF files (f16 checked against transformers,
    then quantized), an Ollama Modelfile and the model card README.md."""
    from amigo_train.base_model import hub_id

    base, adapters, manifest = run_adapters(run_dir)
    license = export_license(base, license)  # before hours of work, not after
    name = name or manifest["recipe"]["name"]
    merge(base, adapters, out)
    log(f"merged {len(adapters)} adapters into {out}")
    report: dict[str, Any] = {"merged": str(out), "adapters": [str(a) for a in adapters], "license": license}
    gguf_files: list[str] = []
    if gguf:
        paths = write_gguf(out, out, base, template_gguf, quantizations, log)
        gguf_files = [p.name for p in paths]
        report["gguf"] = [str(p) for p in paths]
        chat_template = (out / "chat_template.jinja").read_text() if (out / "chat_template.jinja").is_file() else ""
        (out / "Modelfile").write_text(modelfile(paths[-1].name, chat_template))
        if verify:
            report["verify"] = check = verify_gguf(out, paths[0])
            log(f"GGUF check ({len(check['prompts'])} prompts): {check['identical_prefix']}/{check['tokens']} greedy "
                f"tokens identical between llama.cpp and transformers, top-1 agreement {check['top1_agreement']:.3f}, "
                f"top-5 overlap {check['top5_overlap']:.3f}")
    (out / "README.md").write_text(model_card(manifest, name, eval_results, license, hub_id(base), gguf_files))
    (out / "export.json").write_text(json.dumps(report, indent=2))
    return report


def push(folder: Path, repo_id: str, dry_run: bool, private: bool = True) -> list[tuple[str, int]]:
    """Upload ``folder`` to the hub (token: see ``amigo.hub.hub_token``).

    Returns the (path, bytes) list; with ``dry_run`` nothing is sent and no token is needed.
    """
    from amigo.hub import check_repo_id, folder_files, upload_folder

    check_repo_id(repo_id)
    if not folder.is_dir():
        raise ConfigError(f"{folder} does not exist: run `amigo train export` first")
    files = folder_files(folder)
    if dry_run:
        return files
    upload_folder(folder, repo_id, private, "model", "Upload Amigo model")
    return files

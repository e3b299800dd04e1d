"""Run recipes/smoke-cpu.yaml on mined commits and measure the model before and after.

    python benchmarks/train_smoke.py [--repos REPO ...] [--functions 150] [--heldout 20] [--max-new-tokens 256] [--no-export]

Commits are mined with GitPython and the OctoPack filters (``amigo data mine-commits``).
With ``--repos`` they come from your repositories; without, from a repository this
script builds by committing real functions from Python's standard library and then
editing them one commit at a time (renames, docstrings, comment removals) - this
offline machine has no real history with single-file, imperative-subject commits.
The newest commits whose reference answer fits the generation cap are held out. Every
greedy answer is saved (answers-before.jsonl, answers-after.jsonl) and classified: truncated
(hit the cap), no-blocks, parse-error, apply-error, no-change, applies, exact. Printed, before/after training: held-out loss
(answer tokens only), the share of greedy answers that parse as valid SEARCH/REPLACE
blocks, the share that apply, the share that give exactly the committed file;
training tokens/s and peak memory (max RSS).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import resource
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from amigo import xdg  # noqa: E402


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "bench",
                        "GIT_COMMITTER_EMAIL": "b@x", "PATH": "/usr/bin:/bin"})


def stdlib_functions(limit: int, seed: int) -> list[tuple[str, str]]:
    """(name, source) of small top-level functions from the standard library."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    found = []
    for path in sorted(lib.glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (UnicodeDecodeError, SyntaxError):
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("__"):
                src = ast.get_source_segment(text, node) or ""
                if 150 < len(src) < 700 and src.count("\n") >= 4:
                    found.append((f"{path.stem}_{node.name}", src + "\n"))
    random.Random(seed).shuffle(found)
    return found[:limit]


def _edit(name: str, src: str, rng: random.Random) -> tuple[str, str] | None:
    """One plausible commit on a function: (subject, new source), or None."""
    tree = ast.parse(src)
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    args = [a.arg for a in fn.args.args if len(a.arg) > 2 and a.arg != "self"]
    has_doc = ast.get_docstring(fn) is not None
    lines = src.splitlines(keepends=True)
    options = []
    if args:
        old = rng.choice(args)
        new = old + "_value" if not old.endswith("s") else old[:-1] + "_items"
        # the name alone, not an attribute that happens to share it (``os.environ`` stays)
        options.append((f"Rename the {old} parameter of {fn.name} to {new}", re.sub(rf"(?<![.\w]){old}\b", new, src)))
    if not has_doc:
        indent = " " * (len(lines[1]) - len(lines[1].lstrip())) if len(lines) > 1 else "    "
        doc = f'{indent}"""{fn.name.replace("_", " ").strip().capitalize()}."""\n'
        body_at = next(i for i, ln in enumerate(lines) if ln.rstrip().endswith(":")) + 1
        options.append((f"Add a docstring to the {fn.name} function", "".join(lines[:body_at] + [doc] + lines[body_at:])))
    comments = [i for i, ln in enumerate(lines) if ln.strip().startswith("#")]
    if comments:
        i = rng.choice(comments)
        options.append((f"Remove an outdated comment from {fn.name}", "".join(lines[:i] + lines[i + 1:])))
    options = [o for o in options if o[1] != src]
    return rng.choice(options) if options else None


def build_repo(path: Path, n_functions: int, seed: int) -> Path:
    """A git repository: one commit adding real functions, then one commit per edit."""
    rng = random.Random(seed)
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q", "-b", "main")
    funcs = stdlib_functions(n_functions, seed)
    for name, src in funcs:
        (path / f"{name}.py").write_text(src)
    _git(path, "add", ".")
    _git(path, "commit", "-q", "-m", "Import the functions")
    for name, src in funcs:
        edit = _edit(name, src, rng)
        if edit is None:
            continue
        subject, new = edit
        (path / f"{name}.py").write_text(new)
        _git(path, "commit", "-q", "-am", subject)
    return path


def answer_tokens(tok: object, ex: dict) -> int:
    """Tokens of the reference answer as the chat template lays it out (end-of-turn included)."""
    prompt_ids = tok.apply_chat_template(ex["prompt"], add_generation_prompt=True, tokenize=True, return_dict=False)
    full_ids = tok.apply_chat_template(ex["prompt"] + ex["completion"], tokenize=True, return_dict=False)
    return len(full_ids) - len(prompt_ids)


def classify(answer: str, stopped: bool, ex: dict) -> str:
    """Why an answer is or is not usable: ok, exact, truncated, no-blocks, parse-error, apply-error."""
    from amigo import edits

    result = edits.parse_blocks(answer)
    if not result.blocks or result.errors:
        if not stopped:
            return "truncated"
        return "parse-error" if result.errors else "no-blocks"
    got = edits.apply_answer(answer, {ex["path"]: ex["old"]}, ex["path"])
    if got.errors:
        return "apply-error"
    if not got.new_texts:
        return "no-change"
    return "exact" if got.new_texts.get(ex["path"]) == ex["new"] else "applies"


def evaluate(model_dir: str, adapters: list[Path], examples: list[dict], max_new_tokens: int,
             answers_out: Path | None = None) -> dict[str, float]:
    """Held-out answer loss and greedy-answer parse/apply/exact shares; every answer is kept
    in ``answers_out`` (JSON Lines) so a low score can be read, not guessed at."""
    import collections

    import torch
    from transformers import AutoTokenizer

    from amigo_train.modeling import load_stage_model

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = load_stage_model(model_dir, adapters, torch.float32).eval()
    eos = model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos])
    losses: list[float] = []
    kinds: collections.Counter[str] = collections.Counter()
    rows = []
    generated = 0
    gen_seconds = 0.0
    for ex in examples:
        prompt_ids = tok.apply_chat_template(ex["prompt"], add_generation_prompt=True, tokenize=True, return_dict=False)
        full_ids = tok.apply_chat_template(ex["prompt"] + ex["completion"], tokenize=True, return_dict=False)
        ids = torch.tensor([full_ids])
        labels = ids.clone()
        labels[0, : len(prompt_ids)] = -100
        with torch.no_grad():
            losses.append(float(model(ids, labels=labels).loss))
            t0 = time.time()
            out = model.generate(torch.tensor([prompt_ids]), max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.eos_token_id)
            gen_seconds += time.time() - t0
        new_ids = [int(t) for t in out[0][len(prompt_ids):]]
        generated += len(new_ids)
        stopped = bool(new_ids) and new_ids[-1] in eos_ids
        answer = tok.decode(new_ids, skip_special_tokens=True)
        kind = classify(answer, stopped, ex)
        kinds[kind] += 1
        print(f"  [{len(rows) + 1}/{len(examples)}] {kind:<12} {len(new_ids):>4} tokens  {ex['path']}", flush=True)
        rows.append({"path": ex["path"], "instruction": ex["prompt"][-1]["content"].rsplit("## Instruction\n", 1)[-1],
                     "kind": kind, "stopped": stopped, "tokens": len(new_ids), "answer": answer,
                     "reference": ex["completion"][0]["content"]})
    if answers_out is not None:
        answers_out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    n = len(examples)
    parsed = sum(kinds[k] for k in ("applies", "exact", "apply-error", "no-change"))
    return {"heldout_loss": sum(losses) / n, "parse_share": parsed / n,
            "apply_share": (kinds["applies"] + kinds["exact"]) / n, "exact_share": kinds["exact"] / n,
            "stopped_share": sum(r["stopped"] for r in rows) / n, "examples": n, "kinds": dict(kinds),
            "generated_tokens_per_s": round(generated / gen_seconds, 1) if gen_seconds else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", nargs="*", default=None, help="git repositories to mine (default: build one)")
    parser.add_argument("--functions", type=int, default=60)
    parser.add_argument("--heldout", type=int, default=24)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--out", default=str(xdg.cache_dir() / "bench-smoke"))
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--no-export", action="store_true", help="skip the GGUF export and llama.cpp check")
    parser.add_argument("--no-cache", action="store_true", help="recompute the base model's answers")
    args = parser.parse_args(argv)

    import shutil

    from amigo_train.adapters import commitpackft
    from amigo_train.base_model import dequantized_smollm2
    from amigo_train.mine import mine_repo
    from amigo_train.recipe import load_recipe, parse_recipe
    from amigo_train.training import run_recipe

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    repos = [Path(r) for r in args.repos] if args.repos else [build_repo(out / "repo", args.functions, args.seed)]
    records = []
    for repo in repos:
        records += list(mine_repo(repo))
    # Newest first. mine_repo yields git-log order (newest first); a stable sort on the
    # date only interleaves repositories, so commits made in the same second keep their
    # order and the held-out set is the same on every run.
    records.sort(key=lambda r: r["date"], reverse=True)
    from transformers import AutoTokenizer

    base = str(dequantized_smollm2())
    tok = AutoTokenizer.from_pretrained(base)
    # Held out: the newest commits whose reference answer fits the generation cap (with
    # room to spare), so a failure means the model's answer, not the cap, was wrong.
    # Longer newest commits are set aside, not trained on, so "newest = held out" holds.
    fit = args.max_new_tokens - 16
    held, set_aside, train = [], [], []
    for r in records:
        ex = commitpackft(r)
        if len(held) >= args.heldout or ex is None:
            train.append(r)
        elif answer_tokens(tok, ex) <= fit:
            held.append(r)
        else:
            set_aside.append(r)
    print(f"mined {len(records)} commits from {len(repos)} repo(s): {len(train)} train, {len(held)} held out "
          f"(newest whose answer fits {fit} tokens), {len(set_aside)} newer ones set aside as too long", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    train_file = out / "mined-train.jsonl"
    train_file.write_text("".join(json.dumps(r) + "\n" for r in train))
    heldout = []
    for r in held:
        ex = commitpackft(r)
        if ex:
            heldout.append({**ex, "path": r["new_file"], "old": r["old_contents"], "new": r["new_contents"]})

    recipe_path = ROOT / "recipes" / "smoke-cpu.yaml"
    data = load_recipe(recipe_path).model_dump(mode="json")
    for stage in data["stages"]:
        if stage["name"] in ("nl2code", "code-context"):
            adapter = "commitpackft" if stage["name"] == "nl2code" else "commit_in_context"
            stage["data"] = [{"path": str(train_file), "adapter": adapter}] + (
                [{"path": "data/smoke/instruct.jsonl", "adapter": "instruct_code"}] if stage["name"] == "nl2code" else [])
    recipe = parse_recipe(data, str(recipe_path))

    t0, cpu0 = time.time(), time.process_time()
    manifest = run_recipe(recipe, str(recipe_path), output_dir=str(out / "run"), log=lambda m: print(m, flush=True))
    train_seconds, train_cpu = time.time() - t0, time.process_time() - cpu0
    tokens = 0.0
    runtime = 0.0
    for name, stage in manifest["stages"].items():
        metrics = stage["summary"]["metrics"]
        runtime += metrics.get("train_runtime", 0.0)
        rows = [json.loads(line) for line in (out / "run" / "stages" / name / "metrics.jsonl").read_text().splitlines()]
        tokens += max((r.get("num_tokens", 0.0) for r in rows), default=0.0)
    adapters = [Path(p) for p in manifest["adapters"]]
    t0 = time.time()
    after = evaluate(base, adapters, heldout, args.max_new_tokens, out / "answers-after.jsonl")
    print("after: ", json.dumps(after), f"({time.time() - t0:.0f}s)", flush=True)
    (out / "summary-after.json").write_text(json.dumps({"after": after, "train_wall_s": round(train_seconds, 1),
                                                        "train_cpu_s": round(train_cpu, 1)}, indent=2))
    # the base model last: its answers are the least informative and are cached across runs
    t0 = time.time()
    # The base model's answers depend only on the held-out set and the cap: cached, so that
    # tuning the recipe does not pay for them again (--no-cache to recompute).
    import hashlib

    key = hashlib.sha256(json.dumps([heldout, args.max_new_tokens, base], sort_keys=True).encode()).hexdigest()[:16]
    cache = xdg.cache_dir() / "bench-smoke-before" / f"{key}.json"
    if cache.is_file() and not args.no_cache:
        before = json.loads(cache.read_text())
        (out / "answers-before.jsonl").write_text((cache.with_suffix(".jsonl")).read_text())
        print(f"before: cached in {cache}", flush=True)
    else:
        before = evaluate(base, [], heldout, args.max_new_tokens, out / "answers-before.jsonl")
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(before))
        cache.with_suffix(".jsonl").write_text((out / "answers-before.jsonl").read_text())
    print("before:", json.dumps(before), f"({time.time() - t0:.0f}s)", flush=True)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    summary = {"before": before, "after": after, "train_wall_s": round(train_seconds, 1),
               "train_cpu_s": round(train_cpu, 1), "load_average": list(os.getloadavg()),
               "train_tokens": tokens, "train_tokens_per_s": round(tokens / runtime, 1) if runtime else None,
               "peak_rss_gib": round(peak_gib, 2),
               "padding": {n: s.get("padding", {}).get("padding_efficiency_unpacked") for n, s in manifest["stages"].items()}}
    if not args.no_export:
        from amigo_train.export import export_run

        report = export_run(out / "run", out / "export", log=lambda m: print(m, flush=True))
        summary["gguf_check"] = report.get("verify")
    print(f"{'metric':<22}{'before':>10}{'after':>10}")
    for key in ("heldout_loss", "parse_share", "apply_share", "exact_share", "stopped_share"):
        print(f"{key:<22}{before[key]:>10.3f}{after[key]:>10.3f}")
    print(f"answer kinds before: {before['kinds']}\nanswer kinds after:  {after['kinds']}")
    print(f"answers: {out / 'answers-before.jsonl'}, {out / 'answers-after.jsonl'}")
    print(f"training: {summary['train_wall_s']}s wall for all 5 stages ({summary['train_cpu_s']} CPU-s of this "
          f"process), {summary['train_tokens_per_s']} tokens/s, peak RSS {summary['peak_rss_gib']} GiB, "
          f"load average {summary['load_average']}")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run recipes/smoke-cpu.yaml on mined commits and measure the model before and after.

    python benchmarks/train_smoke.py [--repos REPO ...] [--heldout 12] [--out runs/bench-smoke]

Commits are mined with GitPython and the OctoPack filters (``amigo data mine-commits``).
With ``--repos`` they come from your repositories; without, from a repository this
script builds by committing real functions from Python's standard library and then
editing them one commit at a time (renames, docstrings, comment removals) - this
offline machine has no real history with single-file, imperative-subject commits.
The newest commits are held out. Printed, before/after training: held-out loss
(answer tokens only), the share of greedy answers that parse as valid SEARCH/REPLACE
blocks, the share that apply, the share that give exactly the committed file;
training tokens/s and peak memory (max RSS).
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import resource
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


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
        import re
        options.append((f"Rename the {old} parameter of {fn.name} to {new}", re.sub(rf"\b{old}\b", new, src)))
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


def evaluate(model_dir: str, adapters: list[Path], examples: list[dict], max_new_tokens: int) -> dict[str, float]:
    """Held-out answer loss and greedy-answer parse/apply/exact shares."""
    import torch
    from transformers import AutoTokenizer

    from amigo import edits
    from amigo_train.training import load_stage_model

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = load_stage_model(model_dir, adapters, torch.float32).eval()
    losses, parsed, applied, exact = [], 0, 0, 0
    for ex in examples:
        prompt_ids = tok.apply_chat_template(ex["prompt"], add_generation_prompt=True, tokenize=True, return_dict=False)
        full_ids = tok.apply_chat_template(ex["prompt"] + ex["completion"], tokenize=True, return_dict=False)
        ids = torch.tensor([full_ids])
        labels = ids.clone()
        labels[0, : len(prompt_ids)] = -100
        with torch.no_grad():
            losses.append(float(model(ids, labels=labels).loss))
            out = model.generate(torch.tensor([prompt_ids]), max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.eos_token_id)
        answer = tok.decode(out[0][len(prompt_ids):], skip_special_tokens=True)
        result = edits.parse_blocks(answer)
        if result.blocks and not result.errors:
            parsed += 1
        files = {ex["path"]: ex["old"]}
        got = edits.apply_answer(answer, files, ex["path"])
        if not got.errors and got.new_texts:
            applied += 1
            exact += got.new_texts.get(ex["path"]) == ex["new"]
    n = len(examples)
    return {"heldout_loss": sum(losses) / n, "parse_share": parsed / n, "apply_share": applied / n,
            "exact_share": exact / n, "examples": n}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", nargs="*", default=None, help="git repositories to mine (default: build one)")
    parser.add_argument("--functions", type=int, default=60)
    parser.add_argument("--heldout", type=int, default=12)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--out", default=str(Path.home() / ".cache" / "amigo" / "bench-smoke"))
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--no-export", action="store_true", help="skip the GGUF export and llama.cpp check")
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
    records.sort(key=lambda r: r["date"])  # oldest first; mine_repo yields newest first
    records.reverse()
    held, train = records[: args.heldout], records[args.heldout:]
    print(f"mined {len(records)} commits from {len(repos)} repo(s): {len(train)} train, {len(held)} held out", flush=True)
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
    base = str(dequantized_smollm2())

    t0 = time.time()
    before = evaluate(base, [], heldout, args.max_new_tokens)
    print("before:", json.dumps(before), f"({time.time() - t0:.0f}s)", flush=True)
    t0 = time.time()
    manifest = run_recipe(recipe, str(recipe_path), output_dir=str(out / "run"), log=lambda m: print(m, flush=True))
    train_seconds = time.time() - t0
    tokens = 0.0
    runtime = 0.0
    for name, stage in manifest["stages"].items():
        metrics = stage["summary"]["metrics"]
        runtime += metrics.get("train_runtime", 0.0)
        rows = [json.loads(line) for line in (out / "run" / "stages" / name / "metrics.jsonl").read_text().splitlines()]
        tokens += max((r.get("num_tokens", 0.0) for r in rows), default=0.0)
    adapters = [Path(p) for p in manifest["adapters"]]
    t0 = time.time()
    after = evaluate(base, adapters, heldout, args.max_new_tokens)
    print("after: ", json.dumps(after), f"({time.time() - t0:.0f}s)", flush=True)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    summary = {"before": before, "after": after, "train_wall_s": round(train_seconds, 1),
               "train_tokens": tokens, "train_tokens_per_s": round(tokens / runtime, 1) if runtime else None,
               "peak_rss_gib": round(peak_gib, 2),
               "padding": {n: s.get("padding", {}).get("padding_efficiency_unpacked") for n, s in manifest["stages"].items()}}
    if not args.no_export:
        from amigo_train.export import export_run

        report = export_run(out / "run", out / "export", log=lambda m: print(m, flush=True))
        summary["gguf_check"] = report.get("verify")
    print(f"{'metric':<22}{'before':>10}{'after':>10}")
    for key in ("heldout_loss", "parse_share", "apply_share", "exact_share"):
        print(f"{key:<22}{before[key]:>10.3f}{after[key]:>10.3f}")
    print(f"training: {summary['train_wall_s']}s wall for all 5 stages, {summary['train_tokens_per_s']} tokens/s, "
          f"peak RSS {summary['peak_rss_gib']} GiB")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

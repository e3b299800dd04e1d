"""``amigo train ...``: run a recipe, export a finished run, push it to the hub.

Arguments are parsed before anything heavy is imported, so ``--help`` and bad
input answer at once; torch and friends load only when work starts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from amigo import install_hint, progress
from amigo.errors import EXIT_FAIL, AmigoError, exit_status
from amigo_train.gguf_export import QUANTIZATIONS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amigo train", description="Staged SFT -> DPO training of Amigo models.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a recipe's stages (SFT stages, then DPO)")
    run.add_argument("recipe", help="a YAML recipe, e.g. recipes/smoke-cpu.yaml")
    run.add_argument("--stage", help="run only this stage (earlier stages must be complete)")
    run.add_argument("--resume", action="store_true", help="skip complete stages, resume the last checkpoint")
    run.add_argument("--dry-run", action="store_true", help="validate, build and decontaminate data; train nothing")
    run.add_argument("--output-dir", help="override the recipe's output_dir")
    run.add_argument("--data-dir", help="evaluation sets for decontamination (default: AMIGO_DATA_DIR)")
    exp = sub.add_parser("export", help="merge adapters; write safetensors (at the top, for from_pretrained), "
                                        "GGUF (f16 + quantized), Modelfile and model card")
    exp.add_argument("run_dir", help="the output_dir of a finished run")
    exp.add_argument("--out", required=True, help="where to write the export")
    exp.add_argument("--no-gguf", action="store_true", help="skip the GGUF file and Modelfile")
    exp.add_argument("--no-verify", action="store_true", help="skip comparing llama.cpp with transformers")
    exp.add_argument("--template-gguf", help="a GGUF of the base model (tokenizer metadata); default: embedded")
    exp.add_argument("--eval-results", help="a JSON file {benchmark: score} for the model card")
    exp.add_argument("--name", help="model name in the card")
    exp.add_argument("--license", help="Hub license id for the card (default: the base model's own license)")
    exp.add_argument("--quantize", default=",".join(QUANTIZATIONS), metavar="KINDS",
                     help=f"GGUF quantizations besides f16, comma-separated (default {','.join(QUANTIZATIONS)}; "
                          "'none' for none)")
    rel = sub.add_parser("release", help="merge a finished run into RUN/release (what `amigo serve` loads) "
                         "and register it")
    rel.add_argument("run_dir", help="the output_dir of a finished run")
    rel.add_argument("--name", help="the served name to register it under (e.g. amigo)")
    rel.add_argument("--promote", action="store_true", help="also promote it under --name")
    rel.add_argument("--template-gguf", help="a GGUF of the base model (tokenizer metadata); default: embedded")
    rel.add_argument("--f32", action="store_true", help="write the GGUF in float32 instead of float16")
    rel.add_argument("--registry", help=argparse.SUPPRESS)
    night = sub.add_parser("nightly", help="learn from the feedback since the last run: export, DPO, gate, promote")
    night.add_argument("--name", required=True, help="the served name whose promoted model is improved")
    night.add_argument("--recipe", default="recipes/nightly-cpu.yaml",
                       help="nightly recipe (recipes/nightly.yaml on a GPU, recipes/nightly-cpu.yaml for the embedded model)")
    night.add_argument("--db", help="the feedback database (default: the configured one)")
    night.add_argument("--min-pairs", type=int, default=20, help="skip the run below this many new pairs")
    night.add_argument("--test-fraction", type=float, default=0.2, help="share of pairs held out for the gate")
    night.add_argument("--tolerance", type=float, default=0.01, help="the gate's allowed drop")
    night.add_argument("--server-url", help="a running vLLM (http://HOST:PORT/v1) to load the promoted adapter into")
    night.add_argument("--data-dir", help="evaluation sets for decontamination (default: AMIGO_DATA_DIR)")
    night.add_argument("--eval-task", action="append", default=[], metavar="TASK",
                       help="also gate on this benchmark (amigo eval's names: humaneval, mbpp, humanevalfix, "
                            "amigo-edits...; repeatable), run on both models through llama.cpp")
    night.add_argument("--eval-limit", type=int, default=20, help="problems per --eval-task")
    night.add_argument("--edit-requests", type=int, default=40, help="held-out feedback requests both models "
                       "answer for the gate (does the answer apply and pass the checks?); 0: none")
    night.add_argument("--eval-max-tokens", type=int, default=512, help="longest answer in the evaluation")
    night.add_argument("--threads", type=int, help="CPU threads for training and evaluation (default: torch's; "
                       "on a small machine other work keeps busy, 1 is often several times faster)")
    night.add_argument("--root", help="where runs are kept (default: $XDG_DATA_HOME/amigo/nightly)")
    night.add_argument("--registry", help=argparse.SUPPRESS)
    night.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    push = sub.add_parser("push", help="upload an export folder to the Hugging Face hub "
                          "(token: HF_TOKEN, else the one `hf auth login` saved)")
    push.add_argument("folder", nargs="?", default="export", help="the export folder (default: ./export)")
    push.add_argument("--repo-id", required=True, help="ORG/NAME")
    push.add_argument("--dry-run", action="store_true", help="list what would be uploaded; send nothing")
    push.add_argument("--public", action="store_true", help="create the repository public (default private)")
    progress.add_quiet_flag(sub.choices.values())
    return parser


def _kinds(value: str) -> tuple[str, ...]:
    """``--quantize Q8_0,Q4_K_M`` (or ``none``) as a tuple of llama.cpp quantization names."""
    return () if value.strip().lower() == "none" else tuple(k.strip().upper() for k in value.split(",") if k.strip())


def _log(message: str) -> None:
    print(f"[amigo train] {message}", file=sys.stderr, flush=True)


def _release(args: argparse.Namespace) -> int:
    """Write RUN/release and register it (optionally promoted) under a served name."""
    from amigo_train.models import Registry
    from amigo_train.release import read_release, write_release

    run_dir = Path(args.run_dir)
    out = write_release(run_dir, template=Path(args.template_gguf) if args.template_gguf else None,
                        half=not args.f32, log=_log)
    print(f"release: {out}")
    if args.name:
        info = read_release(out)
        registry = Registry(Path(args.registry) if args.registry else None)
        model_id = f"{args.name}-release-{run_dir.resolve().name}"
        gguf = str(out / info["gguf"]) if info.get("gguf") else None
        registry.register(model_id, kind="release", served_name=args.name, base=info["base_model"],
                          recipe=info["recipe"], files={"release": str(out.resolve()), "gguf": gguf},
                          data_window={"datasets": info["data"]})
        if args.promote:
            registry.promote(model_id)
        print(f"registered {model_id}" + (" (promoted)" if args.promote else " (candidate)"))
    return 0


def _nightly(args: argparse.Namespace) -> int:
    """One nightly cycle (see amigo_train.nightly)."""
    from amigo_train.nightly import NightlySettings, run_nightly

    db = Path(args.db) if args.db else None
    if db is None:
        from amigo.config import load_config
        from feedback.settings import db_path

        db = db_path(load_config(Path.cwd()).feedback)
    settings = NightlySettings(served_name=args.name, recipe=Path(args.recipe), db=db,
                               root=Path(args.root) if args.root else None, min_pairs=args.min_pairs,
                               test_fraction=args.test_fraction, tolerance=args.tolerance,
                               eval_data_dir=args.data_dir, server_url=args.server_url,
                               registry=Path(args.registry) if args.registry else None,
                               eval_tasks=tuple(args.eval_task), eval_limit=args.eval_limit,
                               edit_requests=args.edit_requests, eval_max_tokens=args.eval_max_tokens,
                               threads=args.threads)
    state = run_nightly(settings, dry_run=args.dry_run, log=_log)
    if not args.dry_run:
        decide = state["steps"].get("decide")
        print(state.get("skipped") or (f"{state['candidate']}: {'promoted' if decide['ok'] else 'rejected'}; "
                                       f"report {decide['report']}"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``amigo train``; returns the exit status."""
    args = _parser().parse_args(list(argv) if argv is not None else None)
    progress.enable(quiet=args.quiet)
    try:
        if args.command == "run":
            from amigo_train.recipe import load_recipe
            from amigo_train.training import run_recipe

            recipe = load_recipe(args.recipe)
            result = run_recipe(recipe, args.recipe, only_stage=args.stage, resume=args.resume,
                                dry_run=args.dry_run, output_dir=args.output_dir, eval_data_dir=args.data_dir,
                                log=_log)
            if args.dry_run:
                print(json.dumps(result, indent=2))
            else:
                print(f"run complete: {args.output_dir or recipe.output_dir}")
            return 0
        if args.command == "export":
            from amigo_train.export import export_run

            results = json.loads(Path(args.eval_results).read_text()) if args.eval_results else None
            report = export_run(Path(args.run_dir), Path(args.out), gguf=not args.no_gguf,
                                verify=not args.no_verify,
                                template_gguf=Path(args.template_gguf) if args.template_gguf else None,
                                eval_results=results, name=args.name, log=_log, license=args.license,
                                quantizations=_kinds(args.quantize))
            print(json.dumps(report, indent=2))
            verify = report.get("verify")
            return 0 if verify is None or verify["match"] else 1
        if args.command == "release":
            return _release(args)
        if args.command == "nightly":
            return _nightly(args)
        if args.command == "push":
            from amigo_train.export import push

            files = push(Path(args.folder), args.repo_id, args.dry_run, private=not args.public)
            verb = "would upload" if args.dry_run else "uploaded"
            for path, size in files:
                print(f"{verb} {path} ({size:,} bytes)")
            print(f"{len(files)} files -> https://huggingface.co/{args.repo_id}")
            return 0
    except AmigoError as err:
        print(f"amigo train: {err}", file=sys.stderr)
        return exit_status(err)
    except ImportError as err:  # torch, transformers, trl...: the train extra is missing
        print(f"amigo train {args.command}: {err.name or err} is not installed: {install_hint('train')}",
              file=sys.stderr)
        return EXIT_FAIL
    return EXIT_FAIL


if __name__ == "__main__":
    raise SystemExit(main())

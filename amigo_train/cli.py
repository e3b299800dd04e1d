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

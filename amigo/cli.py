"""The ``amigo`` command. The one place that may import every package (lazily).

Exit codes: 0 done; 1 refused or failed (a message says why and what to do);
2 bad usage; 3 the person rejected the proposal.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from amigo import __version__, install_hint, progress
from amigo.config import SERVE_BACKENDS, SWITCHES, Config, switch_on
from amigo.edits.contract import EDIT_FORMATS, SEARCH_MARK
from amigo.errors import EXIT_FAIL, EXIT_OK, EXIT_REJECTED, EXIT_USAGE, AmigoError, InputError, exit_status

# Subcommands implemented in other packages: name -> (module, help). Each module
# has ``main(argv: list[str]) -> int``; importing lazily keeps `amigo edit` fast
# and lets the core work without the optional extras.
DELEGATED: dict[str, tuple[str, str]] = {
    "context": ("amigo.context.cli", "print exactly what the model would see for a request"),
    "lsp": ("amigo_lsp.cli", "run the language server (stdio; --tcp HOST:PORT to debug)"),
    "tui": ("amigo_tui.cli", "the terminal front end"),
    "feedback": ("feedback.cli", "export, inspect or purge preference data"),
    "train": ("amigo_train.cli", "run training recipes"),
    "data": ("amigo_train.data_cli", "check and mine training data"),
    "eval": ("amigo_train.eval.cli", "run benchmarks, reports and the promotion gate"),
    "models": ("amigo_train.models_cli", "list, show, promote or roll back trained models"),
}
# The pyproject extra each delegated subcommand needs beyond the core (none: the core).
DELEGATED_EXTRAS: dict[str, str] = {"train": "train", "data": "train", "eval": "eval"}


def _color_enabled(stream: TextIO, mode: str) -> bool:
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty()


_DIFF_COLORS = (("+++", "1"), ("---", "1"), ("+", "32"), ("-", "31"), ("@@", "36"))


def colorize_diff(diff: str, color: bool) -> str:
    """ANSI colours for a unified diff (headers bold, additions green, removals red)."""
    if not color:
        return diff
    out = []
    for line in diff.splitlines(keepends=True):
        body, newline = (line[:-1], "\n") if line.endswith("\n") else (line, "")
        code = next((c for prefix, c in _DIFF_COLORS if body.startswith(prefix)), None)
        out.append(f"\x1b[{code}m{body}\x1b[0m{newline}" if code else line)
    return "".join(out)


def require_folder(value: str | None, option: str = "--repo") -> None:
    """Refuse a folder option that names nothing, before a command reads a wrong default instead
    (a missing --repo would otherwise read as "nothing to undo" or an empty repository)."""
    if value is not None and not Path(value).expanduser().is_dir():
        raise InputError(f"{option} {value}: no such folder; give the path of the repository's folder")


def parse_lines(value: str) -> tuple[int, int]:
    """``A-B`` (or ``A``) as a 1-based inclusive line range, for every ``--lines`` option."""
    try:
        if "-" in value:
            a, b = value.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = end = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--lines wants A-B, like 10-20, not {value!r}") from None
    if start < 1 or end < start:
        raise argparse.ArgumentTypeError(f"--lines {value}: need 1 <= A <= B")
    return start, end


class Progress:
    """Streams the answer to stderr, with a tokens/s status when stderr is a terminal."""

    def __init__(self, stream: TextIO, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self.count = 0
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.tty and not self.quiet:
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()

    def _spin(self) -> None:
        frames = "|/-\\"
        i = 0
        while not self._stop.wait(0.2):
            if self.count == 0:
                elapsed = time.monotonic() - self.started
                self.stream.write(f"\r{frames[i % 4]} waiting for the model... {elapsed:4.1f}s")
                self.stream.flush()
                i += 1

    def token(self, text: str) -> None:
        if self.count == 0 and self.tty and not self.quiet:
            self.stream.write("\r\x1b[K")
        self.count += 1
        if not self.quiet:
            self.stream.write(text)
            self.stream.flush()

    def on_event(self, event: object) -> None:
        """Stream tokens; say so when the engine asks the model again (a repair attempt)."""
        from amigo.events import RepairEvent, TokenEvent

        if isinstance(event, TokenEvent):
            self.token(event.text)
        elif isinstance(event, RepairEvent) and not self.quiet:
            self.stream.write(f"\n-- the answer failed its checks; asking again (attempt {event.attempt}):\n"
                              f"{event.problem}\n-- attempt {event.attempt}:\n")
            self.stream.flush()

    def finish(self, answers_per_round: int = 1) -> None:
        """The closing line. Only one answer of a round streams: with several candidates the
        others decode beside it unseen, so the count and rate are the shown answer's."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        elapsed = time.monotonic() - self.started
        if not self.quiet:
            rate = self.count / elapsed if elapsed > 0 else 0.0
            line = f"\n-- {self.count} tokens in {elapsed:.1f} s ({rate:.0f} tokens/s)"
            if answers_per_round > 1:
                line += f" in the answer shown; {answers_per_round} answers a round decoded together"
            self.stream.write(line + "\n")
            self.stream.flush()


def _attach_feedback(session: object) -> None:
    """Keep accept/reject as preference data when the feedback package is installed."""
    try:
        import feedback
    except ImportError:
        return
    feedback.attach(session.events, session.repo_root, session.config.feedback)  # type: ignore[attr-defined]


def _confirm(prompt: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    sys.stderr.write(prompt)
    sys.stderr.flush()
    try:
        answer = input()
    except EOFError:
        sys.stderr.write("\n(no answer on standard input: treated as no; pass --yes to apply)\n")
        return False
    return answer.strip().lower() in ("y", "yes")


def _review_and_apply(session, proposal, args: argparse.Namespace) -> int:
    color = _color_enabled(sys.stdout, args.color)
    if proposal.errors:
        for error in proposal.errors:
            print(f"amigo: {error}", file=sys.stderr)
        if not proposal.changes:
            print("amigo: nothing was applied; the working tree is unchanged", file=sys.stderr)
            session.reject(proposal, reason="parse-error")
            return EXIT_FAIL
        print("amigo: --partial: the diff below holds only what applied; the failed parts above are left out",
              file=sys.stderr)
    for finding in proposal.findings:
        print(f"amigo: {finding}", file=sys.stderr)
    sys.stdout.write(colorize_diff(proposal.diff, color))
    sys.stdout.flush()
    if proposal.broken and args.yes and not args.allow_broken:
        session.reject(proposal, reason="checks-failed")
        print("amigo: refused: the change fails its checks (above), so --yes does not write it; the working "
              "tree is unchanged. Run without --yes to review it and decide, or pass --allow-broken to "
              "write it anyway.", file=sys.stderr)
        return EXIT_FAIL
    if not _confirm("Apply this change? [y/N] ", args.yes):
        session.reject(proposal)
        print("amigo: rejected; nothing was changed", file=sys.stderr)
        return EXIT_REJECTED
    if not session.workspace.is_git:
        print(f"amigo: note: {session.repo_root} is not a git work tree; git will not show or keep this "
              "change (amigo undo, run from this folder, still restores it)", file=sys.stderr)
    result = session.accept(proposal, commit=args.commit)
    what = ", ".join(result.paths)
    print(f"amigo: applied to {what}" + (f" and committed {result.commit[:12]}" if result.commit else ""),
          file=sys.stderr)
    return EXIT_OK


def cmd_edit(args: argparse.Namespace) -> int:
    from amigo.engine import EditSession

    from amigo.workspace import find_repo_root

    # The repository you stand in, else the one around the file: a file outside
    # the repository you stand in is refused rather than silently edited elsewhere.
    session = EditSession.open(args.repo or find_repo_root(Path.cwd()) or Path(args.path).resolve().parent)
    try:
        _attach_feedback(session)
        request = session.make_request(args.instruction, Path(args.path).resolve(), selection=args.lines,
                                       edit_format=args.format)
        progress = Progress(sys.stderr, quiet=args.quiet)
        unsubscribe = session.events.subscribe(progress.on_event)
        progress.start()
        answers_per_round = 1
        try:
            proposal = session.propose(request)
            answers_per_round = session.candidate_count()  # known by now: no second probe of a failed server
        finally:
            unsubscribe()
            progress.finish(answers_per_round)
        return _review_and_apply(session, proposal, args)
    finally:
        session.close()


def cmd_apply(args: argparse.Namespace) -> int:
    from amigo.engine import EditSession

    answer_path = Path(args.answer)
    try:
        answer = answer_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AmigoError(f"{answer_path}: cannot read the answer file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise AmigoError(f"{answer_path}: not UTF-8 text") from None
    session = EditSession.open(args.repo or Path.cwd())
    try:
        _attach_feedback(session)
        target = args.path
        if target is None:
            from amigo import edits

            paths = [b.path for b in edits.parse_blocks(answer).blocks if b.path]
            if not paths:
                raise AmigoError(edits.why_no_path(answer))
            target = paths[0]
        target_path = Path(target)
        if not target_path.is_absolute():
            target_path = session.repo_root / target_path
        fmt = args.format or ("blocks" if SEARCH_MARK in answer else "whole")
        try:
            request = session.make_request("(replayed answer)", target_path, selection=args.lines, edit_format=fmt)
        except AmigoError:
            if fmt != "blocks":
                raise
            rel = session.workspace.relpath(target_path)  # a bad path gets its own message here
            if (session.repo_root / rel).exists():
                raise
            # A block that creates a new file: an empty request for it.
            from amigo.prompt import EditRequest

            request = EditRequest("(replayed answer)", rel, "", edit_format="blocks")
        proposal = session.proposal_from_answer(request, answer, allow_partial=args.partial)
        return _review_and_apply(session, proposal, args)
    finally:
        session.close()


def cmd_undo(args: argparse.Namespace) -> int:
    from amigo.engine import EditSession

    session = EditSession.open(args.repo or Path.cwd())
    try:
        _attach_feedback(session)
        head = session.workspace.head()
        paths = session.undo()
        after = session.workspace.head()
    finally:
        session.close()
    committed = f" and committed the undo as {after[:12]}" if after and after != head else ""
    print(f"amigo: restored {', '.join(paths)} to their bytes before Amigo's last change{committed}",
          file=sys.stderr)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from amigo.config import load_config
    from amigo.serve import parse_lora_modules, serve_foreground

    config = load_config(Path.cwd())
    model = Path(args.model) if args.model else (Path(config.serve.model_path) if config.serve.model_path else None)
    backend = args.backend or config.serve.backend
    if args.parallel is not None and not 1 <= args.parallel <= 64:
        raise InputError(f"--parallel {args.parallel}: give a number of slots between 1 and 64")
    lora_modules = parse_lora_modules(args.lora or [])
    reload = pid_file = None
    if args.promoted:  # the registry lives with training, which the entry point alone may import
        from amigo_train.models import promoted_files, serve_pid_path

        def reload() -> Path:
            return promoted_files(args.promoted, backend)[0]

        model, adapter = promoted_files(args.promoted, backend)
        if adapter is not None:
            lora_modules[args.promoted] = adapter
        pid_file = serve_pid_path(args.promoted)
    return serve_foreground(model, args.host or config.serve.host,
                            config.serve.port if args.port is None else args.port,
                            args.n_ctx or config.serve.n_ctx, args.threads or config.serve.threads,
                            backend=backend, binary=config.serve.binary, lora_modules=lora_modules,
                            extra_args=config.serve.extra_args, reload=reload if backend != "vllm" else None,
                            pid_file=pid_file, parallel=args.parallel or config.serve.parallel)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Say which configuration, server and decoding mode are in use (``--json``: for editors' status bars)."""
    from amigo.config import load_config
    from amigo.workspace import find_repo_root

    if args.llama_cmake_args:  # for installs outside `make setup` (pipx, uv): see the README
        from amigo.cpu import cpu_flags, portable_build

        print(" ".join(portable_build(cpu_flags()).cmake_args))
        return EXIT_OK
    root = find_repo_root(Path(args.repo or Path.cwd()))
    report = doctor_report(load_config(root), root)
    if args.json:
        import json

        print(json.dumps(report, indent=2))
    else:
        _print_doctor(report)
    return EXIT_OK if report["server"] == "up" else EXIT_FAIL


def doctor_report(config: Config, root: Path | None) -> dict[str, Any]:
    """What ``amigo doctor`` reports: the configuration in use, whether the installed llama.cpp
    fits this CPU, whether the server really answers, and the decoding mode a request will get."""
    from amigo.client import ChatClient
    from amigo.cpu import installed_llama_cpp_problems

    report: dict[str, Any] = {
        "version": __version__, "repository": str(root) if root else None, "config_sources": list(config.sources),
        "endpoint": config.endpoint, "model": config.model, "adapter": config.adapter,
        "edit_format": config.edit_format, "decoding": config.decoding, "context_budget": config.context_budget,
        "switches": [s.name for s in SWITCHES.values() if s.flag and switch_on(s.name)],
        # None: llama-cpp-python is not installed; []: the installed build fits this CPU
        "llama_cpp_problems": installed_llama_cpp_problems(),
        "server": "up", "server_models": [], "server_error": None, "first_token_ms": None,
        # what a request will really get: "free" or "constrained"
        "decoding_in_use": "free", "decoding_backend": None,
    }
    with ChatClient.from_config(config) as client:
        client.retries = 0
        try:
            report["server_models"] = client.models()
            # Answering /v1/models is not being up: a llama.cpp built for another CPU answers
            # it and dies on its first completion. One token proves the model runs.
            started = time.monotonic()
            client.complete([{"role": "user", "content": "Hi"}], max_tokens=1, temperature=0.0)
            report["first_token_ms"] = round((time.monotonic() - started) * 1000)
        except AmigoError as exc:
            report["server"], report["server_error"] = "down", str(exc)
    if report["server"] == "up" and config.decoding != "free":
        try:
            from amigo import decoding

            backend = decoding.probe_backend(config.endpoint, config.model, api_key=config.api_key)
            report["decoding_backend"] = str(backend)
            report["decoding_in_use"] = "constrained" if backend.constrainable else "free"
        except ImportError:
            report["decoding_backend"] = "free (constrained decoding not available in this install)"
    return report


def _print_doctor(report: dict[str, Any]) -> None:
    """The person-readable form of ``amigo doctor``."""
    print(f"amigo {report['version']}")
    print(f"repository:  {report['repository'] or '(not a git repository)'}")
    print(f"config from: {', '.join(report['config_sources']) or 'defaults'}")
    print(f"endpoint:    {report['endpoint']}  model: {report['model']}"
          + (f"  adapter: {report['adapter']}" if report["adapter"] else ""))
    print(f"edit format: {report['edit_format']}  decoding: {report['decoding']}  "
          f"context budget: {report['context_budget']}")
    if report["switches"]:
        print(f"switches:    {', '.join(report['switches'])}")
    problems = report["llama_cpp_problems"]
    if problems is not None:
        print("llama.cpp:   " + ("PROBLEM: the installed llama-cpp-python will crash on this CPU: "
                                 + "; ".join(problems) + ". Rebuild it: `rm -f .venv/.setup-serve && make setup-serve`"
                                 if problems else "the installed build fits this CPU (no AMX)"))
    if report["server"] == "up":
        print(f"server:      up, serving {', '.join(report['server_models']) or '(no model list)'}; "
              f"a one-token completion took {report['first_token_ms']} ms")
    else:
        print(f"server:      DOWN: {report['server_error']}")
    if report["decoding_backend"]:
        print(f"decoding:    {report['decoding_backend']}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amigo", description="Amigo: instruction + repository -> reviewable diff.")
    parser.add_argument("--version", action="version", version=f"amigo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--repo", help="the repository (default: found from the file or the current folder)")
        p.add_argument("--yes", "-y", action="store_true", help="apply without asking")
        p.add_argument("--commit", action="store_true", help="commit exactly the edited files")
        p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
        p.add_argument("--lines", type=parse_lines, metavar="A-B", help="1-based inclusive line range")
        p.add_argument("--format", choices=EDIT_FORMATS, help="the answer format asked of the model")
        p.add_argument("--partial", action="store_true", help="apply the blocks that match even if others fail")
        p.add_argument("--allow-broken", action="store_true", dest="allow_broken",
                       help="with --yes, write a change even when its checks found errors (syntax, lost code)")

    p = sub.add_parser("edit", help="edit a file with a natural-language instruction")
    p.add_argument("instruction")
    p.add_argument("path")
    p.add_argument("--quiet", "-q", action="store_true", help="do not stream the answer or show progress")
    common(p)
    p.set_defaults(func=cmd_edit)

    p = sub.add_parser("apply", help="apply a saved model answer (replay)")
    p.add_argument("answer", help="a file holding the model's answer")
    progress.add_quiet_flag([p])
    p.add_argument("--path", help="the file the answer edits (default: the first path the blocks name)")
    common(p)
    p.set_defaults(func=cmd_apply)

    p = sub.add_parser("undo", help="restore the bytes from before Amigo's last change")
    p.add_argument("--repo")
    p.set_defaults(func=cmd_undo)

    p = sub.add_parser("serve", help="run the embedded model server in the foreground")
    p.add_argument("--host")
    p.add_argument("--port", type=int, help="default: serve.port in the config (8080); 0 picks a free port")
    p.add_argument("--model", help="a GGUF file (a Hugging Face directory for --backend vllm; "
                                   "default: the embedded SmolLM2-135M-Instruct)")
    p.add_argument("--n-ctx", type=int, dest="n_ctx")
    p.add_argument("--threads", type=int)
    p.add_argument("--parallel", type=int, metavar="N",
                   help="llama-server slots decoding at once (default: serve.parallel in the config, 4)")
    p.add_argument("--backend", choices=SERVE_BACKENDS,
                   help="default: serve.backend in the config (auto: llama-server when built, else llama-cpp-python)")
    p.add_argument("--lora", action="append", metavar="NAME=DIR",
                   help="a PEFT adapter served under NAME (vllm backend; repeatable)")
    p.add_argument("--promoted", metavar="NAME",
                   help="serve what the model registry promotes under NAME and follow `amigo train nightly`: "
                        "llama.cpp restarts on the new GGUF (SIGHUP), vLLM loads the new adapter by NAME")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("doctor", help="show configuration, server state and decoding mode")
    p.add_argument("--repo")
    p.add_argument("--json", action="store_true", help="one JSON object (what editor status bars read)")
    p.add_argument("--llama-cmake-args", action="store_true",
                   help="print the CMAKE_ARGS of a llama.cpp build that runs on this CPU (never AMX) and exit")
    p.set_defaults(func=cmd_doctor)

    for name, (_, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _delegate(name: str, argv: list[str]) -> int:
    module_name, _ = DELEGATED[name]
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = DELEGATED_EXTRAS.get(name, "")
        print(f"amigo {name}: not available in this install ({exc.name or exc}); "
              f"install what it needs: {install_hint(extra)}", file=sys.stderr)
        return EXIT_FAIL
    main: Callable[[list[str]], int] = getattr(module, "main")
    return int(main(argv) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in DELEGATED:
        try:
            return _delegate(args_list[0], args_list[1:])
        except AmigoError as exc:
            print(f"amigo: {exc}", file=sys.stderr)
            return exit_status(exc)
        except KeyboardInterrupt:
            return 130
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        require_folder(getattr(args, "repo", None))
        progress.enable(quiet=getattr(args, "quiet", False))
        return args.func(args)
    except AmigoError as exc:
        print(f"amigo: {exc}", file=sys.stderr)
        return exit_status(exc)
    except KeyboardInterrupt:
        print("\namigo: interrupted; nothing was applied", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

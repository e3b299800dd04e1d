"""The SQLite tag cache: reuse, invalidation, corruption, and two processes at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from amigo.context import build_context
from amigo.context import pool as pool_module
from amigo.context.cache import DB_NAME, TagCache, default_cache_dir
from amigo.context.index import RepoIndex, forget_indexes
from amigo.context.pool import can_fork, process_chunk, process_file, run_forked, run_in_workers

from context_helpers import SHOP, run_git, write_files


def test_default_cache_dir_follows_xdg(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" / "amigo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "amigo"


def test_second_process_reparses_only_what_changed(make_repo, tmp_path: Path) -> None:
    root = make_repo(SHOP)
    cache = tmp_path / "cache"
    first = RepoIndex(root, cache).refresh(parallel=False)
    assert first.parsed_lines > 0 and len(first.changed) == 4
    assert (cache / DB_NAME).exists()

    second_index = RepoIndex(root, cache)  # a new process: memory empty, cache warm
    second = second_index.refresh(parallel=False)
    assert second.parsed_lines == 0
    assert set(second_index.entries) == {"shop/models.py", "shop/pricing.py", "shop/checkout.py",
                                         "shop/unrelated.py"}
    assert second_index.entries["shop/pricing.py"].tags is not None

    os.utime(root / "shop/models.py", ns=(1, 1))  # touched, same bytes: hash says unchanged
    (root / "shop/pricing.py").write_text(SHOP["shop/pricing.py"] + "\ndef more():\n    pass\n")
    third_index = RepoIndex(root, cache)
    third = third_index.refresh(parallel=False)
    assert third.parsed_lines == SHOP["shop/pricing.py"].count("\n") + 3
    assert "more" in {d[0] for d in third_index.entries["shop/pricing.py"].tags.definitions}
    fourth = RepoIndex(root, cache).refresh(parallel=False)
    assert fourth.parsed_lines == 0


def test_in_process_refresh_sees_edits_and_nothing_else(make_repo, tmp_path: Path) -> None:
    root = make_repo(SHOP)
    index = RepoIndex(root, tmp_path / "cache")
    index.refresh(parallel=False)
    assert index.refresh(parallel=False).changed == []
    generation = index.generation
    (root / "shop/unrelated.py").write_text("def banner2():\n    return 1\n")
    report = index.refresh(parallel=False)
    assert report.changed == ["shop/unrelated.py"] and index.generation == generation + 1


def test_parallel_parse_matches_serial(make_repo, tmp_path: Path) -> None:
    files = {f"pkg/m{i}.py": f"def f{i}(x):\n    return g{i}(x)\n" for i in range(60)}
    root = make_repo(files)
    parallel = RepoIndex(root, tmp_path / "a")
    parallel.refresh(parallel=True)
    serial = RepoIndex(root, tmp_path / "b")
    serial.refresh(parallel=False)
    assert {p: e.tags for p, e in parallel.entries.items()} == {p: e.tags for p, e in serial.entries.items()}


def test_forked_and_spawned_workers_match_serial(make_repo, tmp_path: Path) -> None:
    """Both ways of parsing in parallel give what one process gives; a background
    thread (how the LSP server and the TUI index) never forks."""
    files = {f"pkg/m{i}.py": f"class C{i}:\n    def f{i}(self, x):\n        return g{i}(x)\n" for i in range(60)}
    files["pkg/broken.py"] = "def oops(:\n"
    files["pkg/blob.py"] = b"\0\1binary"
    root = make_repo(files)
    jobs = [(f"pkg/m{i}.py", None) for i in range(60)] + [("pkg/broken.py", None), ("pkg/blob.py", None)]
    serial = sorted(process_chunk(str(root), jobs))
    assert sorted(run_forked(str(root), jobs, 3)) == serial
    assert sorted(run_in_workers(str(root), jobs, 2)) == serial
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.append(can_fork()))
    thread.start()
    thread.join()
    assert seen == [False]


def test_what_a_dead_worker_took_is_parsed_here(make_repo, monkeypatch) -> None:
    files = {f"pkg/m{i}.py": f"def f{i}():\n    return {i}\n" for i in range(40)}
    root = make_repo(files)
    jobs = [(path, None) for path in files]
    serial = sorted(process_chunk(str(root), jobs))
    parent = os.getpid()
    real_chunk = pool_module.process_chunk

    def dies_in_a_child(root_: str, chunk: list) -> list:
        if os.getpid() != parent:
            os._exit(3)
        return real_chunk(root_, chunk)

    monkeypatch.setattr(pool_module, "process_chunk", dies_in_a_child)
    assert sorted(run_forked(str(root), jobs, 2)) == serial  # the child died after taking a chunk
    monkeypatch.setattr(pool_module, "INHERITABLE_PIPES", False)  # as on Windows: fixed shares
    assert sorted(run_in_workers(str(root), jobs, 2)) == serial
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    assert sorted(run_in_workers(str(root), jobs, 2)) == serial  # no worker could start


def test_files_are_in_path_order_from_workers_and_from_the_cache(make_repo, tmp_path: Path) -> None:
    """The graph numbers files in index order and ranking ties follow it: a cold index
    and one loaded from the cache must agree (git lists untracked files last)."""
    files = {f"pkg/m{i:02d}.py": f"def f{i}():\n    return {i}\n" for i in range(60)}
    root = make_repo(files)
    write_files(root, {"pkg/z_untracked.py": "def untracked():\n    pass\n"})  # git lists it first
    cold = RepoIndex(root, tmp_path / "cache")
    cold.refresh(parallel=True)
    assert list(cold.entries) == sorted(cold.entries)
    warm = RepoIndex(root, tmp_path / "cache")
    assert warm.refresh(parallel=False).parsed_lines == 0
    assert list(warm.entries) == list(cold.entries)


def test_forked_workers_survive_an_ignored_sigchld(make_repo) -> None:
    """With SIGCHLD ignored (some launchers do) children are reaped by the kernel and
    waitpid fails: the tags they wrote still count, and no descriptor leaks."""
    import signal

    files = {f"pkg/m{i}.py": f"def f{i}():\n    return {i}\n" for i in range(40)}
    root = make_repo(files)
    jobs = [(path, None) for path in files]
    serial = sorted(process_chunk(str(root), jobs))
    fds = len(os.listdir("/proc/self/fd"))
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        assert sorted(run_forked(str(root), jobs, 3)) == serial
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert len(os.listdir("/proc/self/fd")) == fds


def test_corrupt_cache_is_deleted_and_rebuilt(make_repo, tmp_path: Path) -> None:
    root = make_repo(SHOP)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / DB_NAME).write_bytes(b"this is not a database" * 100)
    text = (root / "shop/checkout.py").read_text()
    result = build_context(root, "shop/checkout.py", text, (5, 7), "", 1000, cache_dir=cache)
    assert any("rebuilt" in note for note in result.notes)
    assert "def apply_tax" in "\n".join(s.text for s in result.sections)
    forget_indexes()
    again = RepoIndex(root, cache)
    assert again.refresh(parallel=False).parsed_lines == 0  # the rebuilt cache works


def test_unwritable_cache_folder_degrades_to_no_cache(make_repo, tmp_path: Path) -> None:
    root = make_repo(SHOP)
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    text = (root / "shop/checkout.py").read_text()
    result = build_context(root, "shop/checkout.py", text, (5, 7), "", 1000, cache_dir=blocker / "sub")
    assert any("cache disabled" in note for note in result.notes)
    assert "def apply_tax" in "\n".join(s.text for s in result.sections)


def test_cache_store_and_load_round_trip(tmp_path: Path) -> None:
    cache = TagCache(tmp_path)
    path, item, _ = process_file(__file__, "tests/context/test_cache.py", None)
    cache.store("/r", [(path, item)])
    loaded = TagCache(tmp_path).load("/r")
    assert loaded[path] == item
    assert TagCache(tmp_path).load("/other") == {}


def test_unreadable_path_becomes_a_skip_reason(tmp_path: Path) -> None:
    (tmp_path / "dir.py").mkdir()
    _, item, lines = process_file(str(tmp_path / "dir.py"), "dir.py", None)
    assert item.record is None and item.skip.startswith("unreadable") and lines == 0


WORKER = textwrap.dedent('''
    import sys
    from pathlib import Path
    from amigo.context import build_context
    root, cache, rounds = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    text = (root / "shop/checkout.py").read_text()
    for i in range(rounds):
        (root / f"gen/w{sys.argv[4]}_{i}.py").write_text(f"def made_{sys.argv[4]}_{i}():\\n    return {i}\\n")
        result = build_context(root, "shop/checkout.py", text, (5, 7), "", 800, cache_dir=cache)
        assert "def apply_tax" in "\\n".join(s.text for s in result.sections), result
        bad = [n for n in result.notes if "cache" in n]
        assert not bad, bad
    print("ok")
''')


def test_two_processes_share_the_cache_safely(make_repo, tmp_path: Path) -> None:
    files = dict(SHOP)
    files.update({f"gen/seed{i}.py": f"def seed{i}():\n    return {i}\n" for i in range(80)})
    root = make_repo(files)
    cache = tmp_path / "shared-cache"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, str(script), str(root), str(cache), "6", str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for n in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert out.strip() == "ok"
    index = RepoIndex(root, cache)
    report = index.refresh(parallel=False)
    assert report.parsed_lines == 0  # every file, from both writers, is in the cache
    assert len([p for p in index.entries if p.startswith("gen/w")]) == 12


def test_listing_is_reused_until_a_folder_changes(make_repo, tmp_path: Path) -> None:
    root = make_repo(SHOP)
    index = RepoIndex(root, tmp_path / "cache")
    index.refresh(parallel=False)
    listing = index._listing
    index.refresh(parallel=False)
    assert index._listing is listing  # nothing changed: git was not asked again
    write_files(root, {"shop/deep/new/mod.py": "def fresh_function():\n    pass\n"})
    report = index.refresh(parallel=False)
    assert "shop/deep/new/mod.py" in report.changed and index._listing is not listing
    write_files(root, {"shop/sibling.py": "def another():\n    pass\n"})
    assert "shop/sibling.py" in index.refresh(parallel=False).changed
    (root / ".gitignore").write_text("ignored/\n*.log\nshop/sibling.py\n")
    report = index.refresh(parallel=False)
    assert "shop/sibling.py" in report.removed
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "more")
    assert index.refresh(parallel=False).changed == []


def test_warm_index_makes_the_first_request_parse_nothing(make_repo, tmp_path: Path) -> None:
    from amigo.context import warm_index

    root = make_repo(SHOP)
    warm_index(root, tmp_path / "cache")
    text = (root / "shop/checkout.py").read_text()
    result = build_context(root, "shop/checkout.py", text, (5, 7), "", 800, cache_dir=tmp_path / "cache")
    assert "parse" not in result.timings  # everything was indexed already
    assert "def apply_tax" in "\n".join(s.text for s in result.sections)

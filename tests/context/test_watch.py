"""The inotify watch: a warm refresh stats nothing when nothing changed, and misses nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from context_helpers import SHOP, run_git, write_files

from amigo.context import watch
from amigo.context.index import RepoIndex


@pytest.fixture
def watched(make_repo, tmp_path: Path):
    root = make_repo(SHOP)
    if watch.watch_tree(str(root)) is None:
        pytest.skip(f"no inotify watch for {root} here (filesystem "
                    f"{watch.filesystem_type(str(root))}): the stat check is used instead")
    index = RepoIndex(root, tmp_path / "cache")
    index.refresh(parallel=False)
    assert index._watch is not None
    yield root, index
    index.close()


class StatCounter:
    def __init__(self, monkeypatch) -> None:
        self.paths: list[str] = []
        real = os.stat

        def counting(path, *args, **kwargs):
            self.paths.append(str(path))
            return real(path, *args, **kwargs)

        monkeypatch.setattr(os, "stat", counting)


def test_nothing_changed_means_no_stat_at_all(watched, monkeypatch) -> None:
    _, index = watched
    stats = StatCounter(monkeypatch)
    report = index.refresh(parallel=False)
    assert report.changed == [] and report.removed == []
    assert stats.paths == []


def test_one_changed_file_is_the_only_one_looked_at(watched, monkeypatch) -> None:
    root, index = watched
    generation = index.generation
    (root / "shop/models.py").write_text("def brand_new():\n    return 1\n")
    stats = StatCounter(monkeypatch)
    report = index.refresh(parallel=False)
    assert report.changed == ["shop/models.py"] and index.generation == generation + 1
    assert [d[0] for d in index.entries["shop/models.py"].tags.definitions] == ["brand_new"]
    assert {Path(p).name for p in stats.paths} == {"models.py"}


def test_a_rewrite_keeping_size_and_mtime_is_still_seen(watched) -> None:
    root, index = watched
    target = root / "shop/models.py"
    before = target.stat()
    text = target.read_text()
    target.write_text(text.replace("discounted", "reductions"))  # same length
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_size == before.st_size and target.stat().st_mtime_ns == before.st_mtime_ns
    index.refresh(parallel=False)
    names = [d[0] for d in index.entries["shop/models.py"].tags.definitions]
    assert "reductions" in names and "discounted" not in names


def test_new_folders_deletions_and_ignores_are_seen(watched) -> None:
    root, index = watched
    write_files(root, {"shop/deep/new/mod.py": "def fresh_function():\n    pass\n"})
    assert "shop/deep/new/mod.py" in index.refresh(parallel=False).changed
    write_files(root, {"shop/deep/new/later.py": "def later():\n    pass\n"})  # in a folder watched since
    assert index.refresh(parallel=False).changed == ["shop/deep/new/later.py"]
    (root / "shop/deep/new/mod.py").unlink()
    assert index.refresh(parallel=False).removed == ["shop/deep/new/mod.py"]
    (root / "shop/deep/.gitignore").write_text("new/\n")  # a nested ignore file
    assert index.refresh(parallel=False).removed == ["shop/deep/new/later.py"]
    (root / "shop/deep/.gitignore").write_text("# nothing ignored\n")
    assert index.refresh(parallel=False).changed == ["shop/deep/new/later.py"]
    (root / "shop/tmp.py").write_text("def moved_in():\n    pass\n")
    os.replace(root / "shop/tmp.py", root / "shop/models.py")  # how editors save
    report = index.refresh(parallel=False)
    assert "shop/models.py" in report.changed
    assert [d[0] for d in index.entries["shop/models.py"].tags.definitions] == ["moved_in"]
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "more")
    assert index.refresh(parallel=False).changed == []
    (root / ".gitignore").write_text("secret/\n")
    write_files(root, {"secret/keys.py": "def keys():\n    pass\n"})
    assert "secret/keys.py" not in index.refresh(parallel=False).changed
    run_git(root, "add", "-f", "secret/keys.py")  # only git's index says it is wanted now
    assert index.refresh(parallel=False).changed == ["secret/keys.py"]


def test_only_local_filesystems_are_watched(tmp_path: Path, monkeypatch) -> None:
    mountinfo = ("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
                 "40 22 0:50 / /mnt/share rw - nfs4 server:/export rw\n"
                 "41 22 0:51 / /mnt/my\\040disk rw - fuse.sshfs me@host: rw\n")
    assert watch.filesystem_type("/home/me/project", mountinfo) == "ext4"
    assert watch.filesystem_type("/mnt/share/project", mountinfo) == "nfs4"
    assert watch.filesystem_type("/mnt/my disk/x", mountinfo) == "fuse.sshfs"
    assert watch.filesystem_types_under("/", mountinfo) == {"ext4", "nfs4", "fuse.sshfs"}
    assert watch.filesystem_types_under("/home/me", mountinfo) == {"ext4"}
    monkeypatch.setattr(watch, "filesystem_types_under", lambda path: {"ext4", "nfs4"})
    assert watch.watch_tree(str(tmp_path)) is None  # a share mounted inside the tree
    monkeypatch.setattr(watch, "filesystem_types_under", lambda path: {"ext4"})
    monkeypatch.setenv("AMIGO_NO_WATCH", "1")
    assert watch.watch_tree(str(tmp_path)) is None


def test_building_context_never_rewrites_the_git_index(make_repo, tmp_path: Path) -> None:
    """An edit undone leaves a file whose stat data git's index no longer matches;
    reading the uncommitted changes must not make git rewrite its index (that write
    is someone else's business, and it would make the watch relist every time)."""
    from amigo.context import build_context

    root = make_repo(SHOP)
    index_file = root / ".git/index"
    target = root / "shop/models.py"
    original = target.read_text()
    target.write_text(original + "\n# scratch\n")
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    target.write_text(original)  # same content as committed, new stat data
    stamp = index_file.stat().st_mtime_ns
    text = (root / "shop/checkout.py").read_text()
    build_context(root, "shop/checkout.py", text, None, "", 1000, cache_dir=tmp_path / "cache")
    assert index_file.stat().st_mtime_ns == stamp


def _names(index: RepoIndex, path: str) -> list[str]:
    entry = index.entries[path]
    return [d[0] for d in entry.tags.definitions] if entry.tags else []


def test_a_symlinked_file_follows_its_target(watched, tmp_path: Path) -> None:
    """The target's folder is not watched (here an ignored folder; a link out of the
    tree is never read): links are checked by size and time on every refresh."""
    root, index = watched
    (root / ".git" / "info" / "exclude").write_text("generated/\n")
    outside = root / "generated" / "target.py"
    outside.parent.mkdir()
    outside.write_text("def first():\n    pass\n")
    os.symlink(outside, root / "shop/linked.py")
    index.refresh(parallel=False)
    assert _names(index, "shop/linked.py") == ["first"]
    outside.write_text("def second_version():\n    pass\n")
    index.refresh(parallel=False)
    assert _names(index, "shop/linked.py") == ["second_version"]


def test_a_refresh_that_fails_loses_no_change(watched, monkeypatch) -> None:
    root, index = watched
    (root / "shop/models.py").write_text("def changed():\n    pass\n")

    def broken(self, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(RepoIndex, "_parse_step", broken)
    with pytest.raises(KeyboardInterrupt):
        index.refresh(parallel=False)  # the events are drained, the work is not done
    monkeypatch.undo()
    index.refresh(parallel=False)
    assert _names(index, "shop/models.py") == ["changed"]


def test_a_folder_made_while_the_watch_starts_is_watched(make_repo, tmp_path: Path, monkeypatch) -> None:
    from amigo.context import files as filelist

    root = make_repo(SHOP)
    real = filelist.list_files
    calls: list[int] = []

    def racing(folder):
        listing = real(folder)
        if not calls:  # a folder appears after the first listing, before its parent is watched
            write_files(root, {"late/mod.py": "def early():\n    pass\n"})
        calls.append(1)
        return listing

    monkeypatch.setattr(filelist, "list_files", racing)
    index = RepoIndex(root, tmp_path / "cache")
    index.refresh(parallel=False)
    if index._watch is None:
        pytest.skip("no inotify watch here")
    assert _names(index, "late/mod.py") == ["early"]
    (root / "late/mod.py").write_text("def later_version():\n    pass\n")
    index.refresh(parallel=False)
    assert _names(index, "late/mod.py") == ["later_version"]
    index.close()

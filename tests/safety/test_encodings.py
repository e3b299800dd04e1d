"""A UTF-8 byte order mark and CRLF line endings survive every edit, to the byte."""

from __future__ import annotations

from pathlib import Path

from helpers import amigo, git, snapshot

BOM = b"\xef\xbb\xbf"


def _answer(tmp: Path, text: str) -> Path:
    answer = tmp / f"answer-{len(list(tmp.glob('answer-*')))}.txt"
    answer.write_bytes(text.encode("utf-8"))
    return answer


def _applies(repo: Path, *args: str) -> None:
    result = amigo(repo, "apply", *args, "--yes")
    assert result.returncode == 0, result.stderr


def test_bom_is_kept_when_line_one_is_edited(repo: Path, tmp_path: Path) -> None:
    path = repo / "bom.txt"
    original = BOM + b"line1\r\nline2\r\n"
    for answer, args in [
        ("bom.txt\n<<<<<<< SEARCH\nline1\n=======\nLINE1\n>>>>>>> REPLACE\n", ()),  # SEARCH without the BOM
        ("bom.txt\n<<<<<<< SEARCH\n\ufeffline1\n=======\nLINE1\n>>>>>>> REPLACE\n", ()),  # copied with it
        ("bom.txt\n<<<<<<< SEARCH\n\ufeffline1\n=======\n\ufeffLINE1\n>>>>>>> REPLACE\n", ()),
        ("```\nLINE1\n```\n", ("--path", "bom.txt", "--lines", "1-1", "--format", "whole")),
        ("```\n\ufeffLINE1\nline2\n```\n", ("--path", "bom.txt", "--format", "whole")),
    ]:
        path.write_bytes(original)
        before = snapshot(repo)
        _applies(repo, str(_answer(tmp_path, answer)), *args)
        assert path.read_bytes() == BOM + b"LINE1\r\nline2\r\n", answer
        assert amigo(repo, "undo").returncode == 0
        assert snapshot(repo) == before


def test_crlf_file_without_final_newline_keeps_its_endings(repo: Path, tmp_path: Path) -> None:
    path = repo / "crlf.txt"
    path.write_bytes(b"a\r\nb")
    _applies(repo, str(_answer(tmp_path, "crlf.txt\n<<<<<<< SEARCH\nb\n=======\nB\nC\n>>>>>>> REPLACE\n")))
    assert path.read_bytes() == b"a\r\nB\r\nC"
    path.write_bytes(b"a\r\nb")
    _applies(repo, str(_answer(tmp_path, "crlf.txt\n<<<<<<< SEARCH\nb\r\n=======\nB\r\nC\r\n>>>>>>> REPLACE\n")))
    assert path.read_bytes() == b"a\r\nB\r\nC"
    path.write_bytes(b"a\r\nb\r\n")
    _applies(repo, str(_answer(tmp_path, "crlf.txt\n<<<<<<< SEARCH\na\n=======\nA\nA2\n>>>>>>> REPLACE\n")))
    assert path.read_bytes() == b"A\r\nA2\r\nb\r\n"


def test_lf_file_without_final_newline_is_unchanged_by_the_rule(repo: Path, tmp_path: Path) -> None:
    path = repo / "lf.txt"
    path.write_bytes(b"a\nb")
    _applies(repo, str(_answer(tmp_path, "lf.txt\n<<<<<<< SEARCH\nb\n=======\nB\nC\n>>>>>>> REPLACE\n")))
    assert path.read_bytes() == b"a\nB\nC"
    assert git(repo, "status", "--porcelain") == "?? lf.txt\n"

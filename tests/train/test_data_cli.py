"""`amigo data check`: the registry table, and the schema check on local copies."""

from __future__ import annotations

from pathlib import Path

from amigo_train import data_cli
from amigo_train.registry import REGISTRY

from train_records import COMMITS, PAIRS, write_jsonl


def test_list_prints_every_entry_with_its_status(capsys) -> None:  # type: ignore[no-untyped-def]
    assert data_cli.main(["check", "--list"]) == 0
    out = capsys.readouterr().out
    for name, entry in REGISTRY.items():
        assert name in out
    assert "not-on-hub" in out and "unverified" in out and "eval-only" in out


def test_local_schema_check(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    commits = write_jsonl(tmp_path / "c.jsonl", COMMITS)
    pairs = write_jsonl(tmp_path / "p.jsonl", PAIRS)
    assert data_cli.main(["check", "--local", f"commitpackft-python={commits}", "--local", f"orca-dpo-pairs={pairs}"]) == 0
    out = capsys.readouterr().out
    assert "ok; adapter used 2/2" in out
    wrong = write_jsonl(tmp_path / "w.jsonl", [{"text": "hello"}])
    assert data_cli.main(["check", "--local", f"commitpackft-python={wrong}"]) == 1
    assert "missing columns: commit" in capsys.readouterr().out


def test_unknown_name_is_a_clear_error(capsys) -> None:  # type: ignore[no-untyped-def]
    assert data_cli.main(["check", "no-such-set", "--list"]) == 1
    assert "known: commitpackft-python" in capsys.readouterr().err


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released), so a connection is refused at once."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_hub_check_offline_is_a_clear_message_not_a_traceback(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    assert data_cli.main(["check", "commitpackft-python"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # no table of misleading "NO" rows
    assert "cannot reach the hub at http://127.0.0.1:" in captured.err
    assert "--list" in captured.err and "--local NAME=FILE" in captured.err
    assert "Traceback" not in captured.err


def test_hub_offline_setting_is_honoured(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert data_cli.main(["check"]) == 1
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().err


def test_local_check_needs_no_network(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    commits = write_jsonl(tmp_path / "c.jsonl", COMMITS)
    assert data_cli.main(["check", "--local", f"commitpackft-python={commits}"]) == 0
    assert "ok; adapter used 2/2" in capsys.readouterr().out

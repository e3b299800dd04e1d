"""A real editor: Debian's Neovim, headless, loading editors/nvim and driving the real server.

Edit (instruction through vim.ui.input), the diff shown in a split before
anything changes, accept (the server's versioned applyEdit lands in the
buffer), undo (the reverse edit). The model is a recorded answer served over
real HTTP, so the buffer text can be asserted exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lsp_answers import options_for
from helpers import RecordedModelServer
from nvim_runner import needs_nvim, run_nvim


@needs_nvim
def test_neovim_edit_accept_undo(repo: Path, model: RecordedModelServer, tmp_path: Path) -> None:
    model.delay_s = 0.01
    result_file = tmp_path / "result.json"
    original = (repo / "users.py").read_text()
    proc = run_nvim("nvim_flow.lua", result_file, cwd=repo, NVIMTEST_FILE=str(repo / "users.py"),
                    NVIMTEST_SETTINGS=json.dumps(options_for(model.base_url)), NVIMTEST_INSTRUCTION="add a docstring",
                    NVIMTEST_RANGE="17,18")
    assert result_file.exists(), f"nvim wrote no result (rc={proc.returncode}): {proc.stderr[-2000:]}"
    out = json.loads(result_file.read_text())
    assert out["ok"], out.get("error")
    assert out["before"] == original
    assert out["unchanged_before_accept"] is True, "nothing is applied before the person accepts"
    assert out["windows_with_diff"] == 2 and out["diff_filetype"] == "diff"
    assert '+    """The oldest user (the first one on a tie)."""' in out["diff"]
    assert out["progress_seen"] > 0
    assert out["after_accept"] == original.replace(
        "def oldest(users):\n", 'def oldest(users):\n    """The oldest user (the first one on a tie)."""\n')
    assert out["after_undo"] == original
    assert proc.returncode == 0


def _completion_result(result_file: Path, proc: Any) -> dict:
    assert result_file.exists(), f"nvim wrote no result (rc={proc.returncode}): {proc.stderr[-2000:]}"
    out = json.loads(result_file.read_text())
    assert out["ok"], out.get("error")
    assert out["advertised"] is True
    assert out["marks"] == 1 and out["virt_text"] == "users, key=lambda u: u.age)"
    return out


@needs_nvim
def test_neovim_shows_a_slow_models_first_words_then_the_whole_suggestion(repo: Path, tmp_path: Path) -> None:
    """The server answers the words ready at ``latencyMs`` (with ``more``); the plugin shows them and
    asks again at once, and the whole suggestion replaces them, from the generation already under way."""
    result_file = tmp_path / "result.json"
    whole = "users, key=lambda u: u.age)"
    settings = options_for("", completion={"fim": "starcoder", "debounceMs": 0, "contextBudget": 0, "latencyMs": 150})
    with RecordedModelServer(whole + "\n", delay_s=0.1, chunk_chars=4) as model:  # ~0.7 s for the line
        settings["endpoint"] = model.base_url
        proc = run_nvim("nvim_completion.lua", result_file, cwd=repo, NVIMTEST_FILE=str(repo / "users.py"),
                        NVIMTEST_SETTINGS=json.dumps(settings), NVIMTEST_ROW="17", NVIMTEST_TYPED="    return max(",
                        NVIMTEST_EXPECT=whole)
        first_line_requests = [r for r in model.requests if "return max(<fim_suffix>" in r["prompt"]]
    out = _completion_result(result_file, proc)
    assert out["early"] >= 1 and out["first_shown"] != whole and whole.startswith(out["first_shown"])
    assert len(first_line_requests) == 1, "the rest came from the generation under way, not a new one"
    assert out["line_after_accept"] == "    return max(users, key=lambda u: u.age)"
    assert proc.returncode == 0


@needs_nvim
def test_neovim_inline_suggestion_virtual_text_accept_and_dismiss(repo: Path, tmp_path: Path) -> None:
    """Virtual text at the cursor, the accept key's function inserts it, the server records accept and dismiss."""
    result_file = tmp_path / "result.json"
    settings = options_for("", completion={"fim": "starcoder", "debounceMs": 0, "contextBudget": 0, "latencyMs": 0})
    with RecordedModelServer("users, key=lambda u: u.age)\n") as model:
        settings["endpoint"] = model.base_url
        proc = run_nvim("nvim_completion.lua", result_file, cwd=repo, NVIMTEST_FILE=str(repo / "users.py"),
                        NVIMTEST_SETTINGS=json.dumps(settings), NVIMTEST_ROW="17", NVIMTEST_TYPED="    return max(")
    out = _completion_result(result_file, proc)
    assert out["first_shown"] == "users, key=lambda u: u.age)" and out["early"] == 0
    assert out["line_before_accept"] == "    return max(", "virtual text changes nothing in the buffer"
    assert out["line_after_accept"] == "    return max(users, key=lambda u: u.age)"
    assert out["cursor_after_accept"] == [18, len("    return max(users, key=lambda u: u.age)")]
    assert out["marks_after_accept"] == 0 and out["marks_after_dismiss"] == 0
    assert out["accept_result"]["ok"] is True

    from feedback.settings import db_path
    from feedback.store import Store

    with Store(db_path(None)) as store:
        kinds = [(r[0], json.loads(r[1]).get("reason")) for r in store.query(
            "SELECT kind, data FROM completion_events ORDER BY id")]
    assert kinds == [("shown", None), ("accepted", None), ("shown", None), ("rejected", "dismissed")]
    assert proc.returncode == 0

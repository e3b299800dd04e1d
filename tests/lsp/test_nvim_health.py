"""Debian's Neovim, headless: the plugin installed by the README's lazy.nvim spec as written,
then `:checkhealth amigo` against a real model server that is up and then down, and `:help amigo`."""

from __future__ import annotations

import json
import re
import shutil
import socket
from pathlib import Path

from helpers import RecordedModelServer
from nvim_runner import ROOT, needs_nvim, run_nvim


def lazy_spec() -> str:
    """The first Lua block of editors/nvim/README.md: the lazy.nvim spec people copy."""
    readme = (ROOT / "editors" / "nvim" / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```lua\n(.*?)```", readme, re.S)
    assert block and "lazy" in readme[:block.start()], "the README's first Lua block should be the lazy.nvim spec"
    return block.group(1)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@needs_nvim
def test_checkhealth_and_help_after_the_lazy_spec(tmp_path: Path) -> None:
    # lazy.nvim clones the repository into its own folder: a copy of editors/nvim there,
    # so the spec's helptags write into the copy, not this checkout.
    plugin = tmp_path / "lazy" / "amigo"
    shutil.copytree(ROOT / "editors" / "nvim", plugin / "editors" / "nvim")
    spec = tmp_path / "spec.lua"
    spec.write_text("return " + lazy_spec())
    result = tmp_path / "result.json"
    with RecordedModelServer() as server:
        proc = run_nvim("nvim_health.lua", result, cwd=tmp_path, plugin=False, timeout=120,
                        NVIMTEST_SPEC=str(spec), NVIMTEST_PLUGIN_DIR=str(plugin), NVIMTEST_ENDPOINT_UP=server.base_url,
                        NVIMTEST_ENDPOINT_DOWN=f"http://127.0.0.1:{closed_port()}/v1", AMIGO_MODEL="recorded")
    assert result.exists(), f"nvim wrote no result (rc={proc.returncode}): {proc.stderr[-2000:]}"
    out = json.loads(result.read_text())
    assert out["ok"], out.get("error")
    assert out["setup_after_spec"] is True

    up = out["health_up"]
    assert "setup() has run" in up
    assert re.search(r"OK:? amigo \d+\.\d+\.\d+", up), up
    assert f"model server up at {server.base_url}, serving recorded" in up
    assert "model: recorded" in up and "decoding: free (in use: free)" in up
    assert "ERROR" not in up

    down = out["health_down"]
    assert "ERROR" in down and "model server down" in down and "amigo serve" in down

    assert out["help_file"] == "amigo.txt" and "*amigo.txt*" in out["help_line"]

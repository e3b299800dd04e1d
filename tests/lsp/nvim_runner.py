"""Start Debian's Neovim headless on one of the Lua test scripts beside this file (they share nvim_harness.lua)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NVIM = shutil.which("nvim")
needs_nvim = pytest.mark.skipif(NVIM is None, reason="needs Debian's neovim package (apt-get install neovim)")


def run_nvim(script: str, result: Path, cwd: Path, plugin: bool = True, timeout: float = 150,
             **env: str) -> subprocess.CompletedProcess:
    """Run ``script`` in a headless Neovim with no user config; it writes what it saw to ``result``.

    ``plugin`` puts editors/nvim on the runtime path (the health test installs it through the
    README's lazy.nvim spec instead). ``env`` adds the script's NVIMTEST_* inputs; the harness
    always gets NVIMTEST_RESULT, NVIMTEST_PYTHON and a PYTHONPATH that imports this checkout.
    """
    assert NVIM is not None, "guard the test with needs_nvim"
    environ = dict(os.environ, NVIMTEST_RESULT=str(result), NVIMTEST_PYTHON=sys.executable, PYTHONPATH=str(ROOT),
                   **env)
    argv = [NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n",
            "--cmd", f"lua package.path = {str(HERE / '?.lua')!r} .. ';' .. package.path"]
    if plugin:
        argv += ["--cmd", f"set rtp^={ROOT / 'editors' / 'nvim'}"]
    argv += ["-c", f"luafile {HERE / script}"]
    return subprocess.run(argv, env=environ, cwd=cwd, capture_output=True, text=True, timeout=timeout)

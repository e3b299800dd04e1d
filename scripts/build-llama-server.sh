#!/usr/bin/env bash
# Build llama.cpp's own `llama-server` from the llama.cpp source vendored in the
# llama-cpp-python sdist (the same llama.cpp the embedded server uses), and cache
# the binary under ~/.cache/amigo/bin. Why: llama-server samples first and checks
# only the chosen token against the grammar, which makes constrained decoding
# nearly free; llama-cpp-python applies the grammar to the whole vocabulary.
# Needs cmake, a C++17 compiler and PyPI; takes ~10 min on 2 cores. Idempotent.
# Portable like the wheel (amigo/cpu.py: never AMX or -march=native), and kept
# per CPU flag set: ~/.cache/amigo/bin/<tag>/llama-server.
set -euo pipefail
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/amigo"
JOBS="${JOBS:-2}"
PYTHON="${PYTHON:-python3}"
PIP="${PIP:-$PYTHON -m pip}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
{ read -r LLAMA_CPU_TAG; read -r LLAMA_CMAKE_ARGS; } < <("$PYTHON" -m amigo.cpu)
BIN="$CACHE/bin/$LLAMA_CPU_TAG/llama-server"
if [[ -x "$BIN" ]] && "$BIN" --version >/dev/null 2>&1; then
  echo "llama-server already built: $BIN"; exit 0
fi
command -v cmake >/dev/null || { echo "cmake is missing: apt-get install cmake g++" >&2; exit 1; }
SRC="$CACHE/src"; mkdir -p "$SRC" "$(dirname "$BIN")"
if [[ ! -d "$SRC/llama_cpp_python-$VERSION" ]]; then
  $PIP download --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$SRC"
  tar xzf "$SRC/llama_cpp_python-$VERSION.tar.gz" -C "$SRC"
fi
LLAMA="$SRC/llama_cpp_python-$VERSION/vendor/llama.cpp"
BUILD="$SRC/llama-server-build-$VERSION-$LLAMA_CPU_TAG"
GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)
# No web UI (its prebuilt assets would be downloaded from a model hub), no TLS,
# no tests: only what `llama-server` needs to serve the OpenAI API.
cmake -S "$LLAMA" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF $LLAMA_CMAKE_ARGS
cmake --build "$BUILD" --target llama-server -j "$JOBS"
cp "$BUILD/bin/llama-server" "$BIN.tmp$$" && mv "$BIN.tmp$$" "$BIN"
"$BIN" --version
echo "built $BIN"

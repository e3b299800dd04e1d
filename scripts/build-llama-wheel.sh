#!/usr/bin/env bash
# Build the llama-cpp-python wheel once per CPU flag set, portably (no AMX, no
# -march=native; amigo/cpu.py says why and picks the flags), and print the
# folder that holds it: $WHEELS/<tag>/. Idempotent: a wheel already in that folder is kept.
# --no-cache-dir because pip's wheel cache ignores CMAKE_ARGS and would hand back
# whatever was built before (possibly a native build that crashes on this CPU).
set -euo pipefail
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
WHEELS="${WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/amigo/wheels}"
PYTHON="${PYTHON:-python3}"
PIP="${PIP:-$PYTHON -m pip}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."  # so that `-m amigo.cpu` finds the package before it is installed
{ read -r LLAMA_CPU_TAG; read -r LLAMA_CMAKE_ARGS; } < <("$PYTHON" -m amigo.cpu)
dest="$WHEELS/$LLAMA_CPU_TAG"
if ls "$dest"/llama_cpp_python-"$VERSION"-*.whl >/dev/null 2>&1; then
  echo "$dest"; exit 0
fi
mkdir -p "$dest"
{
  echo "Building llama-cpp-python $VERSION once for this CPU ($LLAMA_CPU_TAG): about 5 minutes on 2 cores"
  echo "cmake flags: $LLAMA_CMAKE_ARGS"
} >&2
tmp="$(mktemp -d "$dest.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
  $PIP wheel --no-cache-dir --no-deps "llama-cpp-python==$VERSION" -w "$tmp" >&2
printf '%s\n' "$LLAMA_CMAKE_ARGS" > "$tmp/cmake-flags.txt"
mv "$tmp"/* "$dest"/
echo "$dest"

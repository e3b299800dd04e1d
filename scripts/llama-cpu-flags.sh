#!/usr/bin/env bash
# Print the llama.cpp (ggml) CMake flags for a portable CPU build on this machine,
# and a tag naming that flag set. Sourced by build-llama-wheel.sh and
# build-llama-server.sh; `bash scripts/llama-cpu-flags.sh` prints both.
#
# Why not GGML_NATIVE: -march=native turns on AMX where the CPU reports it, and
# llama.cpp's AMX matrix path dies with a general protection fault (ldtilecfg) on
# the first completion on such CPUs (Sapphire Rapids and later: most cloud VMs).
# The GGML_AMX_* options cannot switch it off while GGML_NATIVE is on. So the
# build names each instruction set itself: AVX2 as the baseline, AVX-512 and
# VNNI only where this CPU has them, AMX never. The tag goes into the wheel's
# cache folder, so a home directory shared between machines never hands a wheel
# to a CPU that cannot run it.
#
# LLAMA_CPU_FLAGS_FILE (default /proc/cpuinfo) lets a test feed another CPU's flags.
set -euo pipefail

llama_cpu_flags() {
  local info="${LLAMA_CPU_FLAGS_FILE:-/proc/cpuinfo}" arch flags
  arch="$(uname -m)"
  LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
  if [[ "$arch" != "x86_64" ]]; then
    # Other architectures have no AMX; their portable default is fine.
    LLAMA_CPU_TAG="$arch-generic"
    return 0
  fi
  flags=" $(grep -m1 -E '^flags' "$info" | cut -d: -f2) "
  has() { [[ "$flags" == *" $1 "* ]]; }
  local tag=() on=() name
  for name in sse4_2 avx avx2 fma f16c bmi2; do
    if has "$name"; then tag+=("$name"); fi
  done
  has sse4_2 && on+=(GGML_SSE42)
  has avx && on+=(GGML_AVX)
  has avx2 && on+=(GGML_AVX2)
  has fma && on+=(GGML_FMA)
  has f16c && on+=(GGML_F16C)
  has bmi2 && on+=(GGML_BMI2)
  if has avx2 && has avx_vnni; then on+=(GGML_AVX_VNNI); tag+=(avxvnni); fi
  # ggml's AVX512 switch compiles with -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw.
  if has avx512f && has avx512cd && has avx512vl && has avx512dq && has avx512bw; then
    on+=(GGML_AVX512); tag+=(avx512)
    if has avx512vbmi; then on+=(GGML_AVX512_VBMI); tag+=(avx512vbmi); fi
    if has avx512_vnni; then on+=(GGML_AVX512_VNNI); tag+=(avx512vnni); fi
    if has avx512_bf16; then on+=(GGML_AVX512_BF16); tag+=(avx512bf16); fi
  fi
  local all=(GGML_SSE42 GGML_AVX GGML_AVX2 GGML_FMA GGML_F16C GGML_BMI2 GGML_AVX_VNNI
             GGML_AVX512 GGML_AVX512_VBMI GGML_AVX512_VNNI GGML_AVX512_BF16)
  local opt
  for opt in "${all[@]}"; do
    if [[ " ${on[*]-} " == *" $opt "* ]]; then
      LLAMA_CMAKE_ARGS+=" -D$opt=ON"
    else
      LLAMA_CMAKE_ARGS+=" -D$opt=OFF"
    fi
  done
  local IFS=-
  LLAMA_CPU_TAG="x86_64-${tag[*]:-baseline}"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  llama_cpu_flags
  echo "tag: $LLAMA_CPU_TAG"
  echo "cmake: $LLAMA_CMAKE_ARGS"
fi

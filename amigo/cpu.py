"""Which instruction sets a llama.cpp build may use on this CPU, and whether the installed one fits.

Why this exists: ``-march=native`` (llama.cpp's ``GGML_NATIVE=ON``, the default
when llama-cpp-python builds from source) turns on AMX where the CPU reports
it, and llama.cpp's AMX matrix path dies with a general protection fault at
``ldtilecfg`` on the first completion on such CPUs (Sapphire Rapids and later,
most cloud VMs). ``GGML_AMX_*=OFF`` changes nothing while ``GGML_NATIVE`` is
on. So Amigo's builds name every instruction set themselves: AVX2 as the
baseline, AVX-512 and VNNI only where this CPU has them, AMX never. The flag
set's tag names the folder its wheel and binary are cached in, so a home
directory shared between machines never hands a build to a CPU that cannot
run it.

``python -m amigo.cpu`` prints the tag on the first line and the CMake
arguments on the second (the build scripts read them).
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from pathlib import Path

# (ggml CMake option, the /proc/cpuinfo flags it needs, the tag's word for it)
# ggml's GGML_AVX512 compiles with -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw.
X86_OPTIONS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("GGML_SSE42", ("sse4_2",), "sse4_2"),
    ("GGML_AVX", ("avx",), "avx"),
    ("GGML_AVX2", ("avx2",), "avx2"),
    ("GGML_FMA", ("fma",), "fma"),
    ("GGML_F16C", ("f16c",), "f16c"),
    ("GGML_BMI2", ("bmi2",), "bmi2"),
    ("GGML_AVX_VNNI", ("avx2", "avx_vnni"), "avxvnni"),
    ("GGML_AVX512", ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"), "avx512"),
    ("GGML_AVX512_VBMI", ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw", "avx512vbmi"), "avx512vbmi"),
    ("GGML_AVX512_VNNI", ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw", "avx512_vnni"), "avx512vnni"),
    ("GGML_AVX512_BF16", ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw", "avx512_bf16"), "avx512bf16"),
)
ALWAYS_OFF = ("GGML_NATIVE", "GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")
# llama.cpp's system-info names for what a build uses, and the cpuinfo flags each needs.
SYSTEM_INFO_NEEDS: dict[str, tuple[str, ...]] = {
    "AVX": ("avx",), "AVX2": ("avx2",), "AVX_VNNI": ("avx_vnni",), "F16C": ("f16c",), "FMA": ("fma",),
    "BMI2": ("bmi2",), "AVX512": ("avx512f",), "AVX512_VBMI": ("avx512vbmi",), "AVX512_VNNI": ("avx512_vnni",),
    "AVX512_BF16": ("avx512_bf16",), "AMX_INT8": ("amx_int8",),
}


@dataclass(frozen=True)
class PortableBuild:
    tag: str
    cmake_args: tuple[str, ...]


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags as the kernel reports them (empty when unreadable)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def portable_build(flags: frozenset[str], machine: str | None = None) -> PortableBuild:
    """The CMake arguments and tag for a llama.cpp build that uses only what ``flags`` has, never AMX."""
    machine = machine or platform.machine()
    args = [f"-D{name}=OFF" for name in ALWAYS_OFF]
    if machine not in ("x86_64", "AMD64"):
        return PortableBuild(f"{machine}-generic", tuple(args))
    words = []
    for option, needs, word in X86_OPTIONS:
        on = all(flag in flags for flag in needs)
        args.append(f"-D{option}={'ON' if on else 'OFF'}")
        if on:
            words.append(word)
    return PortableBuild("x86_64-" + ("-".join(words) or "baseline"), tuple(args))


def build_features(system_info: str) -> frozenset[str]:
    """What a llama.cpp build uses, from its ``llama_print_system_info()`` (``AVX2 = 1 | AMX_INT8 = 1 | ...``)."""
    features = set()
    for part in system_info.replace("\n", "|").split("|"):
        name, _, value = part.rpartition("=")
        name = name.split(":")[-1].strip()
        if name and value.strip() == "1":
            features.add(name)
    return frozenset(features)


def build_problems(features: frozenset[str], flags: frozenset[str]) -> list[str]:
    """Why a build with ``features`` would crash on a CPU with ``flags`` (empty: it fits)."""
    problems = []
    if any(name.startswith("AMX") for name in features):
        problems.append("it uses AMX, whose llama.cpp code path crashes on the first completion (ldtilecfg)")
    missing = sorted(name for name, needs in SYSTEM_INFO_NEEDS.items()
                     if name in features and not name.startswith("AMX") and not all(f in flags for f in needs))
    if missing and flags:
        problems.append(f"it uses {', '.join(missing)}, which this CPU does not have")
    return problems


def installed_llama_cpp_problems(cpuinfo: str | Path = "/proc/cpuinfo") -> list[str] | None:
    """Problems of the installed llama-cpp-python build on this CPU; None when it is not installed."""
    try:
        import llama_cpp
    except ImportError:
        return None
    info = llama_cpp.llama_print_system_info()
    text = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    return build_problems(build_features(text), cpu_flags(cpuinfo))


def main() -> int:
    build = portable_build(cpu_flags())
    print(build.tag)
    print(" ".join(build.cmake_args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

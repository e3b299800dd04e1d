"""Portable llama.cpp builds: flags from the CPU, AMX never, a tag per flag set (amigo/cpu.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from amigo.cpu import build_features, build_problems, cpu_flags, installed_llama_cpp_problems, portable_build

SAPPHIRE_RAPIDS = ("fpu sse4_2 avx avx2 fma f16c bmi2 avx_vnni avx512f avx512cd avx512vl avx512dq avx512bw "
                   "avx512vbmi avx512_vnni avx512_bf16 amx_tile amx_int8 amx_bf16")
HASWELL = "fpu sse4_2 avx avx2 fma f16c bmi2"
OLD_ATOM = "fpu sse4_2"


def cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    return path


def options(build) -> dict[str, str]:
    return dict(arg[2:].split("=") for arg in build.cmake_args)


def test_amx_is_never_built_and_native_is_off(tmp_path):
    build = portable_build(cpu_flags(cpuinfo(tmp_path, SAPPHIRE_RAPIDS)), "x86_64")
    on = options(build)
    assert on["GGML_NATIVE"] == "OFF"
    assert on["GGML_AMX_TILE"] == on["GGML_AMX_INT8"] == on["GGML_AMX_BF16"] == "OFF"
    assert on["GGML_AVX512"] == on["GGML_AVX512_VNNI"] == on["GGML_AVX512_BF16"] == on["GGML_AVX2"] == "ON"
    assert "amx" not in build.tag


def test_avx512_only_where_the_cpu_has_it_and_the_tag_tells_apart(tmp_path):
    big = portable_build(cpu_flags(cpuinfo(tmp_path, SAPPHIRE_RAPIDS)), "x86_64")
    small = portable_build(cpu_flags(cpuinfo(tmp_path, HASWELL)), "x86_64")
    tiny = portable_build(cpu_flags(cpuinfo(tmp_path, OLD_ATOM)), "x86_64")
    assert options(small)["GGML_AVX2"] == "ON" and options(small)["GGML_AVX512"] == "OFF"
    assert options(tiny)["GGML_AVX"] == "OFF" and options(tiny)["GGML_SSE42"] == "ON"
    assert len({big.tag, small.tag, tiny.tag}) == 3  # one cache folder per flag set
    assert small.tag == "x86_64-sse4_2-avx-avx2-fma-f16c-bmi2"
    assert portable_build(frozenset(), "aarch64").tag == "aarch64-generic"


def test_a_build_that_uses_amx_or_missing_instructions_is_named(tmp_path):
    native_on_spr = build_features("CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | OPENMP = 1 |")
    assert any("AMX" in p for p in build_problems(native_on_spr, cpu_flags(cpuinfo(tmp_path, SAPPHIRE_RAPIDS))))
    from_big_machine = build_features("CPU : AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 |")
    problems = build_problems(from_big_machine, cpu_flags(cpuinfo(tmp_path, HASWELL)))
    assert problems == ["it uses AVX512, AVX512_VNNI, which this CPU does not have"]
    assert build_problems(build_features("CPU : AVX2 = 1 | FMA = 1 |"), cpu_flags(cpuinfo(tmp_path, HASWELL))) == []


def test_the_installed_build_fits_this_cpu():
    problems = installed_llama_cpp_problems()
    if problems is None:
        pytest.skip("llama-cpp-python is not installed (the serve extra)")
    assert problems == [], f"the installed llama-cpp-python would crash here: {problems}"


def test_the_build_scripts_read_the_same_flags():
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "amigo.cpu"], cwd=root, capture_output=True, text=True, check=True)
    tag, args = done.stdout.splitlines()
    build = portable_build(cpu_flags())
    assert tag == build.tag and args.split() == list(build.cmake_args)
    for script in ("build-llama-wheel.sh", "build-llama-server.sh"):
        assert "-m amigo.cpu" in (root / "scripts" / script).read_text()


def test_doctor_prints_the_same_flags_for_installs_outside_make():
    done = subprocess.run([sys.executable, "-m", "amigo", "doctor", "--llama-cmake-args"], capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == list(portable_build(cpu_flags()).cmake_args)

"""The gmp kernel: exact at huge n, GIL released, clear errors, optional at build time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fastfib
from fastfib import pure, registry
from helpers import Heartbeat, missing_build_tools

ROOT = Path(__file__).resolve().parents[1]
gmp_built = pytest.mark.skipif("gmp" not in registry.KERNELS, reason=registry.UNAVAILABLE.get("gmp", ""))


@gmp_built
@pytest.mark.parametrize("n", [94, 1000, 12345, 10**5, 10**6])
def test_matches_python_fast_doubling(n):
    assert fastfib.fib(n, kernel="gmp") == pure.fib(n)


@gmp_built
def test_a_million_gives_208988_digits():
    value = fastfib.fib(10**6, kernel="gmp")
    assert value.bit_length() == 694241 and value % 10**10 == pure.fib(10**6) % 10**10


@gmp_built
def test_auto_uses_gmp_above_64_bits(monkeypatch):
    calls = []
    real = registry.KERNELS["gmp"]
    spy = real._replace(fib=lambda n: calls.append(n) or real.fib(n))
    monkeypatch.setitem(registry.KERNELS, "gmp", spy)
    assert fastfib.fib(93) == pure.fib(93) and calls == []
    assert fastfib.fib(94) == pure.fib(94) and calls == [94]


@gmp_built
def test_too_big_for_memory_is_a_clear_memory_error(monkeypatch):
    from fastfib import _gmp

    monkeypatch.setattr(_gmp, "available_bytes", lambda: 1 << 20)  # pretend 1 MiB is free
    with pytest.raises(MemoryError, match=r"F\(1000000000\) needs about \d+ MiB.*only 1 MiB"):
        fastfib.fib(10**9, kernel="gmp")
    assert fastfib.fib(1000, kernel="gmp") == pure.fib(1000)


@gmp_built
def test_past_unsigned_long_is_an_overflow_error():
    with pytest.raises(OverflowError, match="gmp.*4294967295"):
        fastfib.fib(2**32, kernel="gmp")


def fib_mod(n: int, m: int) -> int:
    """F(n) mod m by fast doubling on residues: cheap at any n."""
    a, b = 0, 1
    for bit in bin(n)[2:]:
        a, b = a * (2 * b - a) % m, (a * a + b * b) % m
        if bit == "1":
            a, b = b, (a + b) % m
    return a


@gmp_built
@pytest.mark.timeout(120)
def test_gmp_call_lets_other_python_threads_run():
    n = 10**7
    while True:  # size one call to >= 0.2 s on this machine (sizing, not a test)
        with Heartbeat() as heart:
            start = time.perf_counter()
            value = fastfib.fib(n, kernel="gmp")
            end = time.perf_counter()
        if end - start >= 0.2 or n >= 2 * 10**8:
            break
        n *= 2
    assert value % 2**64 == fib_mod(n, 2**64)
    assert heart.ticks_between(start, end) > 2


@pytest.mark.timeout(300)
@pytest.mark.skipif(not (ROOT / "setup.py").exists(), reason="needs a source checkout (setup.py) to build")
@pytest.mark.skipif(missing_build_tools() is not None, reason=str(missing_build_tools()))
def test_builds_and_falls_back_without_gmp(tmp_path):
    """FASTFIB_GMP=0 builds without the gmp kernel; fastfib says why and auto still works."""
    for name in ("setup.py", "pyproject.toml", "README.md", "csrc", "bindings", "src"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__",
                                                                                   "target"))
        else:
            shutil.copy(source, tmp_path / name)
    # csrc/*.c and bindings/*.c are sources, not artefacts: copy them back.
    for folder in ("csrc", "bindings"):
        for c_file in (ROOT / folder).glob("*.c"):
            shutil.copy(c_file, tmp_path / folder / c_file.name)
    env = {**os.environ, "FASTFIB_GMP": "0", "FASTFIB_OPENMP": "0",  # OpenMP off: tests/test_prange.py's
           "FASTFIB_PYBIND11": "0", "FASTFIB_NANOBIND": "0", "FASTFIB_PYO3": "0"}  # C++ and Rust: not needed here
    build = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    assert "building without the gmp kernel" in build.stdout
    built = sorted(path.name for path in (tmp_path / "src" / "fastfib").iterdir() if path.suffix in (".so", ".pyd"))
    assert any(name.startswith("_kernels.") for name in built), built
    assert not any(name.startswith("_gmp.") for name in built), built
    # At run time, a build without GMP is one where `fastfib._gmp` cannot be
    # imported; block that import (the editable install in this venv would
    # otherwise find the full build) and check what a user then sees.
    blocker = "import sys; sys.modules['fastfib._gmp'] = None; "
    script = blocker + (
        "import fastfib, fastfib.registry as r; "
        "print(sorted(k.name for k in fastfib.kernels())); print(r.UNAVAILABLE['gmp']); "
        "print(fastfib.fib(1000) == fastfib.fib(1000, kernel='python'))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    names, why, auto_ok = done.stdout.splitlines()
    assert "gmp" not in names and "cython-nogil" in names
    assert "built without GMP" in why and "libgmp-dev" in why
    assert auto_ok == "True"
    listing = subprocess.run(
        [sys.executable, "-c", blocker + "from fastfib.cli import main; main(['kernels'])"],
        capture_output=True, text=True, timeout=60,
    )
    assert "gmp: unavailable: fastfib was built without GMP" in listing.stdout


@gmp_built
def test_scale_measures_gmp_on_its_exact_big_n_workload():
    from fastfib import tasks

    task = tasks.calibrate("gmp", 0.002)
    assert task.n >= 10_000 and task.task_s > 0
    assert tasks.burn_task("gmp", task.n) == tasks.oracle(task.n)

"""The same kernels through every binding technology: the C API, pybind11, nanobind and PyO3.

The contract itself (exact results, the errors for bad input) runs on every registered
kernel in test_kernels.py, and the GIL behaviour in test_gil.py; free-threading and
subinterpreters in their own files. Here: that each family whose toolchain is present was
built, that a missing one is listed with the reason, that each module's facts match the
Cython module's, and that the side-by-side lines a reader is shown exist.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastfib
from fastfib import registry, technologies
from fastfib.cli import main
from fastfib.cli.source_cli import side_by_side

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = [tech.family for tech in technologies.BINDINGS]
CXX = any(shutil.which(name) for name in ("c++", "g++", "clang++"))


def _toolchain(family: str) -> bool:
    """Whether this machine has what ``family``'s build needs (then it must have been built)."""
    if family in ("pybind11", "nanobind"):
        return CXX and importlib.util.find_spec(family) is not None
    if family == "pyo3":
        return shutil.which("cargo") is not None and importlib.util.find_spec("setuptools_rust") is not None
    return True  # capi: the C compiler that built the Cython modules


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_whose_toolchain_is_here_is_built(family):
    if not _toolchain(family):
        assert registry.UNAVAILABLE[f"{family}-gil"] == registry.UNAVAILABLE[f"{family}-nogil"]
        pytest.skip(f"no toolchain for {family} here: {registry.UNAVAILABLE[f'{family}-gil']}")
    assert {f"{family}-gil", f"{family}-nogil"} <= set(registry.KERNELS), registry.UNAVAILABLE.get(f"{family}-gil")


@pytest.mark.parametrize("family", FAMILIES)
def test_each_pair_holds_then_releases_within_the_c_headers_range(family):
    if f"{family}-gil" not in registry.KERNELS:
        pytest.skip(registry.UNAVAILABLE[f"{family}-gil"])
    from fastfib import _kernels

    held, released = registry.get(f"{family}-gil"), registry.get(f"{family}-nogil")
    assert (held.with_gil, released.with_gil) == ("held", "released")
    assert held.max_n == released.max_n == _kernels.MAX_N == 93  # Rust restates FIB_U64_MAX_N: it must match
    assert held.burn is not None and released.burn is not None


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("bad", [True, 3.9, -1, 94, "10", None, 2**70, -(2**70)], ids=repr)
def test_errors_are_the_cython_kernels_to_the_letter(family, bad):
    # The same exception type and message as cython-gil / cython-nogil, the kernel's name aside.
    if f"{family}-gil" not in registry.KERNELS:
        pytest.skip(registry.UNAVAILABLE[f"{family}-gil"])
    for suffix in ("gil", "nogil"):
        for function in ("fib", "burn"):
            with pytest.raises(Exception) as cython:
                getattr(fastfib, function)(bad, kernel=f"cython-{suffix}")
            with pytest.raises(Exception) as ours:
                getattr(fastfib, function)(bad, kernel=f"{family}-{suffix}")
            assert type(ours.value) is type(cython.value)
            assert str(ours.value) == str(cython.value).replace(f"cython-{suffix}", f"{family}-{suffix}")


def _fresh(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_a_family_that_cannot_load_is_listed_with_what_its_build_needs():
    # fastfib._pyo3 blocked, and no cargo on PATH: the registry says so, and the rest works.
    out = _fresh("import sys; sys.modules['fastfib._pyo3'] = None\n"
                 "from fastfib import registry\n"
                 "print('pyo3-gil' in registry.KERNELS, 'capi-nogil' in registry.KERNELS)\n"
                 "print(registry.UNAVAILABLE['pyo3-nogil'])", PATH=os.path.dirname(sys.executable))
    assert out.returncode == 0, out.stderr
    listed, why = out.stdout.splitlines()
    assert listed == "False True"
    assert "fastfib._pyo3" in why and "cargo" in why and "no cargo (Rust) on PATH" in why


def test_kernels_lists_every_family(capsys):
    assert main(["kernels"]) == 0
    out, _ = capsys.readouterr()
    for family in FAMILIES:
        assert re.search(rf"^{family}-gil\b", out, re.M) and re.search(rf"^{family}-nogil\b", out, re.M), family


def test_side_by_side_finds_every_line_a_reader_is_shown():
    if not (ROOT / "setup.py").is_file():
        pytest.skip("needs a checkout or sdist (setup.py holds the Cython and nanobind declarations)")
    lines = side_by_side()
    assert not [line for line in lines if "not in this install" in line], lines
    for tech in technologies.TECHNOLOGIES:
        assert any(line.startswith(tech.title) for line in lines)


def test_side_by_side_block_in_the_docs_is_current():
    page = ROOT / "docs" / "source-tour.md"
    if not page.is_file() or not (ROOT / "tools" / "update_readme.py").is_file():
        pytest.skip("needs a checkout or sdist")
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        update_readme = importlib.import_module("update_readme")
    finally:
        sys.path.remove(str(ROOT / "tools"))
    block = re.search(r"<!-- bindings:begin -->\n(.*?)\n<!-- bindings:end -->", page.read_text(), re.S)
    assert block is not None
    assert block.group(1) == update_readme.bindings_block(), (
        "docs/source-tour.md's bindings block is stale: python tools/update_readme.py bindings")


def test_overhead_table_is_built_from_the_benchmarks_json():
    if not (ROOT / "tools" / "update_readme.py").is_file():
        pytest.skip("needs a checkout")
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        update_readme = importlib.import_module("update_readme")
    finally:
        sys.path.remove(str(ROOT / "tools"))
    stats = {"median": 100e-9, "q1": 90e-9, "q3": 110e-9}
    slower = {"median": 150e-9, "q1": 140e-9, "q3": 160e-9}
    benchmarks = [{"extra_info": {"question": "call overhead", "kernel": kernel}, "stats": stat}
                  for kernel, stat in (("cython-gil", stats), ("cython-nogil", slower),
                                       ("capi-gil", stats), ("capi-nogil", slower))]
    table = update_readme.overhead_table(benchmarks)
    assert table[2] == "| Cython (`cython-gil` / `-nogil`) | 100 (90–110) | 150 (140–160) | +50 ns | 1.00x |"
    assert table[3].startswith("| the C API (`capi-gil` / `-nogil`) |") and len(table) == 4

"""Smoke test of an installed fastfib, run by the interpreter it is installed in.

``make wheels`` runs it from a fresh venv outside the source tree, after
installing a wheel with no compiler available. It checks what a user of the
wheel relies on: fastfib and its compiled module come from the venv (not a
checkout), every kernel is exact, the cython-prange kernel runs on OpenMP teams with the
OpenMP runtime the wheel carries (Linux), the ``fastfib`` command works,
``fastfib source`` finds the shipped sources, ``fastfib report`` its template, the
timeline sampler runs (Linux), and -- on a
free-threaded build, unless PYTHON_GIL=1 asked for the GIL -- that the GIL is still disabled
after importing fastfib, in this process and in the ``fastfib`` command's.

    VENV/bin/python tools/smoke_test.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path


def _oracle(count: int) -> list[int]:
    values = [0, 1]
    while len(values) < count:
        values.append(values[-1] + values[-2])
    return values


def _fastfib(*args: str) -> str:
    command = Path(sysconfig.get_path("scripts")) / "fastfib"
    result = subprocess.run([str(command), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"fastfib {' '.join(args)}: exit {result.returncode}\n{result.stderr}")
    return result.stdout


def _loaded(fragment: str) -> list[Path]:
    """The shared libraries whose file name contains ``fragment`` that this process has mapped (Linux)."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8")
    except OSError:
        return []
    return sorted({Path(line.split(None, 5)[5]) for line in maps.splitlines()
                   if len(line.split(None, 5)) == 6 and fragment in Path(line.split(None, 5)[5]).name})


def _check_prange(package: Path, oracle: list[int]) -> None:
    """On Linux the wheel must carry the cython-prange kernel and the OpenMP runtime it needs:
    a repaired wheel loads libgomp from its own fastfib.libs/ (auditwheel grafted it), so it
    runs where no compiler, and no libgomp, is installed."""
    from fastfib import registry

    if not sys.platform.startswith("linux"):
        return  # macOS and Windows wheels are built without OpenMP (pyproject: FASTFIB_OPENMP=0)
    assert "cython-prange" in registry.KERNELS, f"no cython-prange kernel: {registry.UNAVAILABLE.get('cython-prange')}"
    from fastfib import _prange

    ns = [20, 0, 25, 10, 23] * 4
    for threads in (1, 2, 3):
        assert _prange.burn_many(ns, threads) == [oracle[n] for n in ns], f"prange on {threads} threads: wrong"
        assert _prange._team_size(threads) == threads, f"OpenMP gave no team of {threads}"
    grafted = package.parent / "fastfib.libs"
    if grafted.is_dir():  # a repaired wheel (not the sdist built here): its own OpenMP runtime
        gomp = _loaded("libgomp")
        assert gomp and all(grafted.resolve() in path.resolve().parents for path in gomp), (
            f"libgomp loaded from {gomp}, not from the wheel's {grafted}")


def main() -> int:
    import fastfib
    from fastfib import _kernels

    prefix = Path(sys.prefix).resolve()
    package = Path(fastfib.__file__).resolve().parent
    module = Path(_kernels.__file__).resolve()
    assert prefix in package.parents, f"fastfib imported from {package}, not from the venv {prefix}"
    assert module.parent == package and module.suffix in (".so", ".pyd"), f"compiled module is {module}"

    oracle = _oracle(200)
    names = [kernel.name for kernel in fastfib.kernels()]
    assert {"python", "cython-gil", "cython-nogil"} <= set(names), f"kernels: {names}"
    for kernel in fastfib.kernels():
        top = min(150, 150 if kernel.max_n is None else kernel.max_n)
        got = [kernel.fib(n) for n in range(top + 1)]
        assert got == oracle[: top + 1], f"{kernel.name}: wrong F(n) for some n <= {top}"
        if kernel.burn is not None:  # some kernels (gmp) compute F(n) only
            assert kernel.burn(15) == 610, f"{kernel.name}: burn(15) != 610"
    assert fastfib.fib(1000) == _oracle(1001)[1000]
    _check_prange(package, oracle)

    version = _fastfib("--version").strip()
    assert version == f"fastfib {fastfib.__version__}", f"fastfib --version printed {version!r}"
    assert _fastfib("fib", "93", "--kernel", "cython-nogil").strip() == str(oracle[93])
    _fastfib("info")
    sources = json.loads(_fastfib("source", "--json"))
    for source in sources["sources"]:
        path = source["path"]
        assert path is not None, f"fastfib source: {source['name']} missing from the wheel"
        assert package in Path(path).resolve().parents, f"{source['name']} found outside the package: {path}"
    assert "with nogil:" in _fastfib("source", "_kernels.pyx")

    # fastfib report: its template and jinja2 come with the wheel.
    with tempfile.TemporaryDirectory() as folder:
        run, page = str(Path(folder) / "scale.json"), Path(folder) / "report.html"
        timeline = str(Path(folder) / "trace.json")  # the compiled sampler, where it runs (Linux)
        traced = ["--timeline", timeline] if sys.platform.startswith("linux") else []
        _fastfib("scale", "-k", "cython-nogil", "-r", "sequential,threads", "-w", "1,2", "--target-ms", "1",
                 "--repeats", "1", "--no-progress", "--json", run, *traced)
        _fastfib("report", run, *([timeline] if traced else []), "-o", str(page))
        html = page.read_text(encoding="utf-8")
        runs = 2 if traced else 1
        assert html.count('<section class="run"') == runs and '<svg' in html, "fastfib report: no run or no plot"

    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    if sysconfig.get_config_var("Py_GIL_DISABLED") and os.environ.get("PYTHON_GIL") != "1":
        # A module without the free-threading declaration re-enables the GIL when it loads.
        assert not gil, "importing fastfib re-enabled the GIL on this free-threaded build"
        info = json.loads(_fastfib("info", "--json"))
        assert info["gil_enabled"] is False, "the fastfib command ran with the GIL re-enabled"
    gmp = getattr(sys.modules.get("fastfib._gmp"), "GMP_VERSION", None)  # the GMP release the wheel links
    print(
        f"smoke test passed: fastfib {fastfib.__version__} on Python {sys.version.split()[0]}"
        f" (GIL {'enabled' if gil else 'disabled'}), kernels {', '.join(names)}"
        + (f" (gmp on GMP {gmp})" if gmp else "") + f"; module {module.name}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Free-threaded readiness: importing fastfib must leave the GIL disabled on 3.13t / 3.14t.

CPython re-enables the GIL, with a RuntimeWarning, when it loads an extension
module that does not declare free-threading support; fastfib's Cython modules
declare it (``freethreading_compatible=True`` in setup.py). The import tests
run in a fresh interpreter with ``-W error::RuntimeWarning`` and PYTHON_GIL
unset, so that warning is an error and nothing forces the GIL either way.

On a GIL build these tests skip, with the reason, and only the guard's logic
is checked; ``make test`` runs the whole suite again on a free-threaded build
when it finds one (PYTHON_FT, python3.14t / python3.13t on PATH or in pyenv).
tests/conftest.py's session guard fails the whole run if the GIL became
enabled during it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fastfib import environment, registry, technologies

FREE_THREADED = environment.free_threaded_build()
needs_free_threading = pytest.mark.skipif(not FREE_THREADED, reason=(
    f"needs a free-threaded build (python3.13t / 3.14t); this is {sys.implementation.name} "
    f"{sys.version.split()[0]} with the GIL (make test runs the suite on one when it finds one)"))

# Every module of fastfib (numba's, which fastfib never imports on such a build, aside),
# then what its commands import on demand: matplotlib's plots and threadpoolctl.
IMPORTS = ("import importlib, pkgutil, fastfib\n"
           "for module in pkgutil.walk_packages(fastfib.__path__, 'fastfib.'):\n"
           "    if module.name not in ('fastfib.__main__', 'fastfib.numba_kernels'):\n"
           "        importlib.import_module(module.name)\n"
           "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot, threadpoolctl, numpy")


def _fresh(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter where a RuntimeWarning ("enabling the GIL") is an error
    and PYTHON_GIL is unset, so nothing forces the GIL either way."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHON_GIL"}
    return subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code],
                          capture_output=True, text=True, env=env, timeout=120)


@needs_free_threading
def test_importing_fastfib_leaves_the_gil_disabled():
    out = _fresh(f"{IMPORTS}\n"
                 "import sys\n"
                 "from fastfib import registry\n"
                 "print(sys._is_gil_enabled(), sorted(registry.KERNELS))\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("False "), f"the GIL is enabled after importing every module: {out.stdout}"
    assert "cython-nogil" in out.stdout  # the extension itself was loaded, not skipped


@needs_free_threading
def test_the_compiled_modules_alone_leave_the_gil_disabled():
    # `import fastfib` loads fastfib's compiled modules (through the registry) and no other
    # compiled code, so a GIL turned on here is theirs: a missing freethreading_compatible=True.
    # (Their own-GIL declaration is proven where it acts: tests/test_subinterpreters.py loads
    # them in own-GIL subinterpreters.)
    compiled = ["fastfib._gmp", "fastfib._kernels"] if "gmp" in registry.KERNELS else ["fastfib._kernels"]
    out = _fresh(f"import sys, fastfib; print(sys._is_gil_enabled(), sorted(set(sys.modules) & set({compiled})))")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"False {compiled}\n", f"GIL enabled, compiled modules loaded: {out.stdout}"


@needs_free_threading
@pytest.mark.parametrize("technology", technologies.BINDINGS, ids=lambda t: t.family)
def test_each_binding_module_alone_leaves_the_gil_disabled(technology):
    # Each technology declares free-threading its own way (Py_mod_gil, py::mod_gil_not_used(),
    # NB_FREE_THREADED, #[pymodule(gil_used = false)]): imported alone, in a fresh interpreter,
    # its module must leave the GIL off -- a wrong declaration warns, and the warning is an error.
    if f"{technology.family}-nogil" not in registry.KERNELS:
        pytest.skip(registry.UNAVAILABLE[f"{technology.family}-nogil"])
    out = _fresh(f"import sys, {technology.module} as m\n"
                 "print(sys._is_gil_enabled(), m.fib_nogil(93), m.burn_gil(20))")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "False 12200160415121876738 6765\n", f"{technology.module}: {out.stdout}"


@needs_free_threading
def test_the_gil_is_disabled_in_this_test_run():
    if os.environ.get("PYTHON_GIL") == "1":
        pytest.skip("PYTHON_GIL=1 asked for the GIL")
    assert not environment.gil_enabled()


@pytest.mark.parametrize("free_threaded, enabled, python_gil, expected", [
    (False, True, None, False),  # a GIL build: the GIL is simply on
    (True, False, None, False),  # free-threaded and disabled: as it should be
    (True, True, None, True),  # free-threaded, enabled, nobody asked: something re-enabled it
    (True, True, "0", True),
    (True, True, "1", False),  # PYTHON_GIL=1 asked for it
])
def test_the_session_guard_flags_only_an_unasked_gil(monkeypatch, free_threaded, enabled, python_gil, expected):
    monkeypatch.setattr(environment, "free_threaded_build", lambda: free_threaded)
    monkeypatch.setattr(environment, "gil_enabled", lambda: enabled)
    if python_gil is None:
        monkeypatch.delenv("PYTHON_GIL", raising=False)
    else:
        monkeypatch.setenv("PYTHON_GIL", python_gil)
    monkeypatch.setattr(sys, "_xoptions", {})
    assert environment.gil_reenabled() is expected


def test_kernel_facts_are_worded_for_this_interpreter():
    import fastfib
    from fastfib import gil

    for kernel in fastfib.kernels():
        assert kernel.description.endswith(gil.gil_phrase(kernel.with_gil, kernel.released_where))
        assert kernel.gil == (kernel.with_gil if gil.gil_enabled() else f"none (would be {kernel.with_gil})")
        assert kernel.parallel == (kernel.releases_gil or not gil.gil_enabled())
    assert gil.gil_phrase("held", enabled=True) == "holds the GIL while it computes"
    assert gil.gil_phrase("held", enabled=False) == "would hold the GIL; there is none here, so it runs in parallel"


@pytest.mark.parametrize("python_gil", [None, "1"])
def test_the_same_binary_answers_by_its_gil_at_run_time(python_gil):
    # `fastfib kernels --json` in a fresh process, with and without PYTHON_GIL=1: on a
    # free-threaded build the same files give two answers; on a GIL build, one.
    env = {key: value for key, value in os.environ.items() if key != "PYTHON_GIL"}
    if python_gil:
        env["PYTHON_GIL"] = python_gil
    out = subprocess.run([sys.executable, "-m", "fastfib", "kernels", "--json"], capture_output=True, text=True,
                         env=env, timeout=120, check=True)
    by_name = {k["name"]: k for k in json.loads(out.stdout)["kernels"]}
    no_gil = FREE_THREADED and python_gil != "1"
    assert by_name["python"]["gil"] == ("none (would be held)" if no_gil else "held")
    assert by_name["python"]["with_gil"] == "held" and by_name["python"]["parallel_on_threads"] is no_gil
    assert ("there is none here" in by_name["python"]["description"]) is no_gil

"""The ways people write extensions, each binding the same C kernels (csrc/fib.c).

One record per technology: which module it builds, which file holds its binding,
the lines of that file that release the GIL and that declare free-threading and
subinterpreter support (found in the source, never typed here: ``fastfib source
--side-by-side`` and docs/source-tour.md print them), and why a family may be
missing from an install. The registry registers each family's pair of kernels
from here; this module imports nothing compiled.
"""

from __future__ import annotations

import importlib.util
import shutil
from typing import NamedTuple

__all__ = ["BINDINGS", "CYTHON", "TECHNOLOGIES", "Marker", "Technology", "why_missing"]


class Marker(NamedTuple):
    """A line a reader should see: the first line of ``file`` holding ``text``."""

    what: str  # "releases the GIL", "declares free-threading", ...
    file: str  # a SOURCES name of fastfib.cli.source_cli (or setup.py, found in a checkout only)
    text: str  # how the line starts (leading blanks aside): the first such line is shown


class Technology(NamedTuple):
    family: str  # the kernels are "<family>-gil" and "<family>-nogil"
    title: str  # how people call it
    module: str  # the compiled module
    source: str  # the file a reader studies (a SOURCES name)
    release: str  # where the nogil kernel's C call runs, in a few words
    own_gil: bool  # declares Py_MOD_PER_INTERPRETER_GIL_SUPPORTED
    subinterpreters: str  # how it declares own-GIL subinterpreter support, or why it cannot (own_gil False)
    needs: str  # what its build needs beyond a C compiler
    markers: tuple[Marker, ...]


CYTHON = Technology(
    "cython", "Cython", "fastfib._kernels", "_kernels.pyx", "inside `with nogil:`", True,
    "`subinterpreters_compatible=own_gil` (setup.py), effective with CYTHON_USE_MODULE_STATE=1",
    "Cython",
    (Marker("releases the GIL", "_kernels.pyx", "with nogil:  # Step 2"),
     Marker("declares free-threading", "setup.py", '"freethreading_compatible": True'),
     Marker("declares own-GIL subinterpreters", "setup.py", '"subinterpreters_compatible": "own_gil"')),
)

BINDINGS: tuple[Technology, ...] = (
    Technology(
        "capi", "the C API", "fastfib._capi", "bindings/capi.c",
        "inside Py_BEGIN/END_ALLOW_THREADS", True,
        "the Py_mod_multiple_interpreters slot = Py_MOD_PER_INTERPRETER_GIL_SUPPORTED (3.12+)",
        "nothing: the C compiler",
        (Marker("releases the GIL", "bindings/capi.c", "Py_BEGIN_ALLOW_THREADS /*"),
         Marker("takes it back", "bindings/capi.c", "Py_END_ALLOW_THREADS /*"),
         Marker("declares free-threading", "bindings/capi.c", "{Py_mod_gil, Py_MOD_GIL_NOT_USED}"),
         Marker("declares own-GIL subinterpreters", "bindings/capi.c",
                "{Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED}")),
    ),
    Technology(
        "pybind11", "pybind11", "fastfib._pybind11", "bindings/pybind11.cpp",
        "inside a py::gil_scoped_release block", True,
        "py::multiple_interpreters::per_interpreter_gil() (pybind11 3.0+)",
        "a C++17 compiler and pybind11 (PyPI)",
        (Marker("releases the GIL", "bindings/pybind11.cpp", "py::gil_scoped_release release;  // other"),
         Marker("declares free-threading and own-GIL subinterpreters", "bindings/pybind11.cpp",
                "PYBIND11_MODULE(_pybind11")),
    ),
    Technology(
        "nanobind", "nanobind", "fastfib._nanobind", "bindings/nanobind.cpp",
        "inside an nb::gil_scoped_release block", False,
        "nanobind declares Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED for every module "
        "(its type registry and internals are process-wide)",
        "a C++17 compiler and nanobind (PyPI)",
        (Marker("releases the GIL", "bindings/nanobind.cpp", "nb::gil_scoped_release release;  // other"),
         Marker("declares free-threading (a build option)", "setup.py", "+ ([(\"NB_FREE_THREADED\", None)]"),
         Marker("declares the module", "bindings/nanobind.cpp", "NB_MODULE(_nanobind")),
    ),
    Technology(
        "pyo3", "PyO3 (Rust FFI)", "fastfib._pyo3", "bindings/pyo3/src/lib.rs",
        "inside py.detach(|| ...)",
        False,
        "PyO3 keeps its modules and types in process-wide statics and refuses a second "
        "interpreter with ImportError (PyO3 issue 576)",
        "cargo (Rust) and setuptools-rust (PyPI); the crates from crates.io, or ../shared/rust offline",
        (Marker("releases the GIL", "bindings/pyo3/src/lib.rs", "let (status, value) = py.detach(|| burn(cn))"),
         Marker("declares free-threading", "bindings/pyo3/src/lib.rs", "#[pymodule(gil_used = false)]")),
    ),
)

TECHNOLOGIES: tuple[Technology, ...] = (CYTHON, *BINDINGS)


def why_missing(technology: Technology, error: BaseException) -> str:
    """Why ``technology``'s module did not import here, and what to do: the registry's UNAVAILABLE text."""
    if importlib.util.find_spec(technology.module) is not None:  # built, but refused here (a subinterpreter)
        return f"{technology.module} cannot be loaded here ({type(error).__name__}: {error})"
    missing = []
    if technology.family in ("pybind11", "nanobind"):
        if not any(shutil.which(cxx) for cxx in ("c++", "g++", "clang++")):
            missing.append("no C++ compiler (g++ or clang++) on PATH")
        if importlib.util.find_spec(technology.family) is None:
            missing.append(f"{technology.family} is not installed (pip install {technology.family})")
    elif technology.family == "pyo3":
        if shutil.which("cargo") is None:
            missing.append("no cargo (Rust) on PATH")
        if importlib.util.find_spec("setuptools_rust") is None:
            missing.append("setuptools-rust is not installed")
    found = f": {'; '.join(missing)}" if missing else ""
    return (f"fastfib was built without {technology.module} ({type(error).__name__}: {error}); its build needs "
            f"{technology.needs}{found}; then rebuild with `make` or `pip install -e .`")

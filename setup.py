"""Build of fastfib's compiled modules; all other metadata is in pyproject.toml.

The Cython modules, then the same kernels bound by every other way people write extensions
(bindings/): the C API, pybind11, nanobind and PyO3 (Rust, through setuptools-rust).
"""

import importlib.util
import os
import shlex
import shutil
import sys
import sysconfig
import tempfile

import Cython
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

EXTRA_COMPILE_ARGS = ["-O2"] if os.name != "nt" else ["/O2"]
# Module state instead of C globals: Cython honours subinterpreters_compatible
# (below) only with it, and a subinterpreter with its own GIL then gets its own
# copy of every module-level object. Type specs too: without them a cdef class
# (CancelToken) is one static type shared by every interpreter, and loading the
# module in a second one corrupts it (free(): invalid pointer on 3.13).
MODULE_STATE = [("CYTHON_USE_MODULE_STATE", "1"), ("CYTHON_USE_TYPE_SPECS", "1")]


def _c_string(text: str) -> str:
    """A C string literal for a -D macro (quotes and backslashes dropped)."""
    return '"' + text.replace("\\", "").replace('"', "") + '"'


cflags = " ".join(
    part
    for part in (
        sysconfig.get_config_var("CFLAGS") or "",
        os.environ.get("CFLAGS", ""),
        shlex.join(EXTRA_COMPILE_ARGS),
    )
    if part
)

kernels = Extension(
    "fastfib._kernels",
    sources=["src/fastfib/_kernels.pyx", "csrc/fib.c"],
    include_dirs=["csrc"],
    extra_compile_args=EXTRA_COMPILE_ARGS,
    define_macros=[
        ("FASTFIB_CYTHON_VERSION", _c_string(Cython.__version__)),
        ("FASTFIB_CFLAGS", _c_string(cflags)),
        *MODULE_STATE,
    ],
)

# Optional: the gmp kernel, built only where GMP's header and library are found
# (Debian: libgmp-dev). FASTFIB_GMP=1 makes a missing GMP an error, =0 skips it.
# FASTFIB_GMP_PREFIX=DIR links the GMP installed in DIR (DIR/include/gmp.h,
# DIR/lib: static, or shared and found again at run time through an rpath)
# instead of the system's: `make` sets it to the GMP 6.3 it builds, which is
# faster than Debian's (docs/gmp.md).
GMP_PREFIX = os.environ.get("FASTFIB_GMP_PREFIX", "")
GMP_DIRS: dict[str, list[str]] = {}
if GMP_PREFIX:
    if not os.path.isfile(os.path.join(GMP_PREFIX, "include", "gmp.h")):
        raise SystemExit(
            f"FASTFIB_GMP_PREFIX={GMP_PREFIX} has no include/gmp.h: give the --prefix GMP was installed to, "
            "or unset it to use the system's GMP"
        )
    _gmp_lib = os.path.join(os.path.abspath(GMP_PREFIX), "lib")
    GMP_DIRS = {
        "include_dirs": [os.path.join(os.path.abspath(GMP_PREFIX), "include")],
        "library_dirs": [_gmp_lib],
        "runtime_library_dirs": [_gmp_lib],
    }
    if sys.platform.startswith("linux"):
        # A static libgmp.a stays private to the module: its symbols are not
        # exported, so no other GMP in the process (gmpy2's) can stand in.
        GMP_DIRS["extra_link_args"] = ["-Wl,--exclude-libs,libgmp.a"]
gmp = Extension(
    "fastfib._gmp",
    sources=["src/fastfib/_gmp.pyx"],
    libraries=["gmp"],
    extra_compile_args=EXTRA_COMPILE_ARGS,
    define_macros=MODULE_STATE,
    **GMP_DIRS,
)

# fastfib's instruments: the per-thread CPU-time sampler of `fastfib trace` (a C thread that
# never takes the GIL) and the machine control's spin (fastfib.measure.machine).
sampler = Extension(
    "fastfib._sampler",
    sources=["src/fastfib/_sampler.pyx", "csrc/sampler.c", "csrc/spin.c"],
    include_dirs=["csrc"],
    extra_compile_args=EXTRA_COMPILE_ARGS,
    define_macros=MODULE_STATE,
)

# Optional: the cython-prange kernel, built only where the compiler has OpenMP
# (gcc: -fopenmp, which links libgomp). FASTFIB_OPENMP=1 makes a missing OpenMP
# an error, =0 skips it (the registry then lists the kernel as unavailable).
# Only this module is compiled with -fopenmp: the other kernels stay free of an
# OpenMP runtime, as they are on a compiler without one.
OPENMP_FLAGS = ["-fopenmp"] if os.name != "nt" else ["/openmp"]
prange = Extension(
    "fastfib._prange",
    sources=["src/fastfib/_prange.pyx", "csrc/fib.c"],
    include_dirs=["csrc"],
    extra_compile_args=EXTRA_COMPILE_ARGS + OPENMP_FLAGS,
    extra_link_args=OPENMP_FLAGS if os.name != "nt" else [],
    define_macros=MODULE_STATE,
)

# --- the same kernels in every binding technology (bindings/) -------------------------------------
# Each module compiles csrc/fib.c in beside its binding code: the C stays the one arithmetic.
# The C API module needs only the C compiler. pybind11 and nanobind need a C++17 compiler
# (gcc 11+ and clang 16+ default to C++17; no -std flag, which the C file would warn about)
# and their PyPI packages, build requirements in pyproject.toml. Each family is optional like
# gmp: FASTFIB_PYBIND11 / FASTFIB_NANOBIND / FASTFIB_PYO3 = 0 skip it, = 1 make a missing
# toolchain a build error; by default a family that cannot build is left out, with the reason
# on the build's output, and the registry lists its kernels as unavailable.
capi = Extension(
    "fastfib._capi",
    sources=["bindings/capi.c", "csrc/fib.c"],
    include_dirs=["csrc"],
    extra_compile_args=EXTRA_COMPILE_ARGS,
)

CXX_ARGS = EXTRA_COMPILE_ARGS + (["-fvisibility=hidden"] if os.name != "nt" else ["/std:c++17", "/EHsc"])
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def _pybind11_extension() -> Extension | None:
    if importlib.util.find_spec("pybind11") is None:
        return None
    import pybind11

    return Extension(
        "fastfib._pybind11",
        sources=["bindings/pybind11.cpp", "csrc/fib.c"],
        include_dirs=["csrc", pybind11.get_include()],
        extra_compile_args=CXX_ARGS,
        language="c++",
    )


def _nanobind_extension() -> Extension | None:
    # nanobind's own build is CMake; without it, its library (one file, nb_combined.cpp) is
    # compiled into the module (bindings/nanobind_lib.cpp), with the flags its CMake config uses
    # (nb_combined.cpp's notes).
    if importlib.util.find_spec("nanobind") is None:
        return None
    import nanobind

    unix = os.name != "nt"
    return Extension(
        "fastfib._nanobind",
        sources=["bindings/nanobind.cpp", "bindings/nanobind_lib.cpp", "csrc/fib.c"],
        include_dirs=["csrc", nanobind.include_dir(), nanobind.source_dir(),
                      os.path.join(os.path.dirname(nanobind.include_dir()), "ext", "robin_map", "include")],
        # NB_FREE_THREADED: nanobind's FREE_THREADED option -- the Py_mod_gil slot and its own locks.
        # It is an error on a GIL build, so only where CPython itself is free-threaded.
        define_macros=[("NB_COMPACT_ASSERTIONS", None), ("NDEBUG", None)]
        + ([("NB_FREE_THREADED", None)] if FREE_THREADED else []),
        extra_compile_args=CXX_ARGS + (["-fno-strict-aliasing", "-ffunction-sections", "-fdata-sections"]
                                       if unix else []),
        extra_link_args=["-Wl,--gc-sections"] if sys.platform.startswith("linux") else [],
        language="c++",
    )


def _pyo3_extensions() -> list:
    """setuptools-rust's RustExtension for fastfib._pyo3, or [] (and why) where it cannot build.
    cargo gets its crates from crates.io, or offline where `make` points CARGO_HOME at
    ../shared/rust's vendored ones (Makefile)."""
    wanted = os.environ.get("FASTFIB_PYO3", "auto")
    try:
        from setuptools_rust import Binding, RustExtension
    except ImportError:
        missing = "setuptools-rust is not installed (a build requirement: pip install setuptools-rust)"
    else:
        if wanted != "0" and shutil.which(os.environ.get("CARGO", "cargo")):
            # --release; Binding.PyO3: the module is a PyO3 #[pymodule] (the Py_mod_gil slot
            # comes from its `gil_used = false`).
            # optional: a failed cargo build (no crates reachable, say) leaves the kernels out
            # with cargo's error on the build's output, as a missing toolchain does.
            return [RustExtension("fastfib._pyo3", path="bindings/pyo3/Cargo.toml", binding=Binding.PyO3,
                                  debug=False, optional=wanted != "1")]
        missing = "no cargo (Rust) was found: install Rust (rustup.rs)"
    if wanted == "1":
        raise SystemExit(f"FASTFIB_PYO3=1 but {missing}")
    print(f"fastfib: building without the pyo3 kernels ({'FASTFIB_PYO3=0' if wanted == '0' else missing})")
    return []


BINDINGS = [capi] + [ext for ext in (_pybind11_extension(), _nanobind_extension()) if ext is not None]
for _family in ("pybind11", "nanobind"):
    if not any(ext.name == f"fastfib._{_family}" for ext in BINDINGS):
        _variable = f"FASTFIB_{_family.upper()}"
        if os.environ.get(_variable) == "1":
            raise SystemExit(f"{_variable}=1 but {_family} is not installed (a build requirement: pip install {_family})")
        print(f"fastfib: building without the {_family} kernels ({_family} is not installed: pip install {_family})")

CXX_PROBE = """
#include <memory>
int main() { auto p = std::make_unique<int>(17); return *p == 17 ? 0 : 1; }
"""

OPENMP_PROBE = """
#include <omp.h>
int main(void) { int n = 0;
#pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 && omp_get_max_threads() > 0 ? 0 : 1; }
"""

GMP_PROBE = """
#include <gmp.h>
int main(void) { mpz_t x; mpz_init(x); mpz_fib_ui(x, 10); mpz_clear(x); return 0; }
"""


def _links(compiler, program: str, *, libraries=(), flags=(), include_dirs=(), library_dirs=(),
           suffix=".c") -> bool:
    """Whether ``program`` compiles and links with this compiler (and these libraries, flags);
    ``suffix`` ".cpp" compiles it as C++ (with the C++ compiler setuptools would use)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "probe" + suffix)
        with open(source, "w") as handle:
            handle.write(program)
        try:
            objects = compiler.compile([source], output_dir=tmp, extra_postargs=list(flags),
                                       include_dirs=list(include_dirs))
            compiler.link_executable(objects, "probe", output_dir=tmp, libraries=list(libraries),
                                     library_dirs=list(library_dirs), extra_postargs=list(flags),
                                     target_lang="c++" if suffix == ".cpp" else None)
        except Exception:  # CompileError, LinkError: not usable
            return False
    return True


def _optional(extensions, name: str, kernel: str, variable: str, found, missing: str):
    """``extensions`` without the module ``name`` (the ``kernel``) when ``variable`` is 0 or it
    cannot be built (``found()`` false): then say so on the build's output, or stop when
    ``variable`` is 1."""
    wanted = os.environ.get(variable, "auto")
    if wanted != "0" and found():
        return extensions
    if wanted == "1":
        raise SystemExit(f"{variable}=1 but {missing}")
    why = f"{variable}=0" if wanted == "0" else missing
    print(f"fastfib: building without the {kernel} kernel ({why})")
    return [ext for ext in extensions if ext.name != name]


class BuildExt(build_ext):
    """build_ext that drops an optional kernel whose library is missing: gmp without GMP,
    cython-prange without OpenMP."""

    def build_extensions(self):
        self.extensions = _optional(
            self.extensions, "fastfib._gmp", "gmp", "FASTFIB_GMP",
            lambda: _links(self.compiler, GMP_PROBE, libraries=["gmp"], include_dirs=GMP_DIRS.get("include_dirs", ()),
                           library_dirs=GMP_DIRS.get("library_dirs", ())),
            "GMP was not found" + (f" in FASTFIB_GMP_PREFIX={GMP_PREFIX}" if GMP_PREFIX else "")
            + ": install libgmp-dev (Debian) or gmp")
        if GMP_PREFIX and any(ext.name == "fastfib._gmp" for ext in self.extensions):
            print(f"fastfib: the gmp kernel links the GMP in {GMP_PREFIX}")
        self.extensions = _optional(
            self.extensions, "fastfib._prange", "cython-prange", "FASTFIB_OPENMP",
            lambda: _links(self.compiler, OPENMP_PROBE, flags=OPENMP_FLAGS),
            f"this compiler has no OpenMP: {' '.join(OPENMP_FLAGS)} failed; gcc has it, Apple clang needs libomp")
        for family in ("pybind11", "nanobind"):
            if not any(ext.name == f"fastfib._{family}" for ext in self.extensions):
                continue  # not installed: said above
            self.extensions = _optional(
                self.extensions, f"fastfib._{family}", f"{family}-gil/-nogil", f"FASTFIB_{family.upper()}",
                lambda: _links(self.compiler, CXX_PROBE, suffix=".cpp"),
                "no C++17 compiler was found (g++ or clang++; on Debian: apt-get install g++)")
        super().build_extensions()


setup(
    # csrc/ stays at the top of the checkout but ships inside the package as
    # fastfib/csrc, so `fastfib source` shows a wheel user the C sources too.
    # fastfib/report/templates holds data only (fastfib report's page): a package for setuptools all the same.
    # bindings/ likewise ships as fastfib/bindings: the C API, pybind11, nanobind and PyO3 sources.
    packages=find_packages("src") + ["fastfib.csrc", "fastfib.bindings", "fastfib.report.templates"],
    package_dir={"": "src", "fastfib.csrc": "csrc", "fastfib.bindings": "bindings"},
    cmdclass={"build_ext": BuildExt},
    # Only where setuptools-rust is installed (it registers the keyword): else a warning.
    **({"rust_extensions": RUST} if (RUST := _pyo3_extensions()) else {}),
    ext_modules=BINDINGS + cythonize(
        [kernels, sampler, gmp, prange],
        compiler_directives={
            "language_level": 3,
            "embedsignature": True,
            # A promise, not a mechanism: this module keeps no shared mutable C
            # state, so free-threaded CPython may keep the GIL disabled.
            "freethreading_compatible": True,
            # Py_MOD_PER_INTERPRETER_GIL_SUPPORTED: the modules load in a
            # subinterpreter with its own GIL (3.12+; needs MODULE_STATE above).
            # No module-level mutable C state, and nogil code never takes a GIL.
            "subinterpreters_compatible": "own_gil",
        },
    ),
)

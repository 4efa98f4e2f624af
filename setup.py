"""Build of fastfib's one compiled module; all other metadata is in pyproject.toml."""

import os
import shlex
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


def _links(compiler, program: str, *, libraries=(), flags=(), include_dirs=(), library_dirs=()) -> bool:
    """Whether ``program`` compiles and links with this compiler (and these libraries, flags)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "probe.c")
        with open(source, "w") as handle:
            handle.write(program)
        try:
            objects = compiler.compile([source], output_dir=tmp, extra_postargs=list(flags),
                                       include_dirs=list(include_dirs))
            compiler.link_executable(objects, "probe", output_dir=tmp, libraries=list(libraries),
                                     library_dirs=list(library_dirs), extra_postargs=list(flags))
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
        super().build_extensions()


setup(
    # csrc/ stays at the top of the checkout but ships inside the package as
    # fastfib/csrc, so `fastfib source` shows a wheel user the C sources too.
    # fastfib/report/templates holds data only (fastfib report's page): a package for setuptools all the same.
    packages=find_packages("src") + ["fastfib.csrc", "fastfib.report.templates"],
    package_dir={"": "src", "fastfib.csrc": "csrc"},
    cmdclass={"build_ext": BuildExt},
    ext_modules=cythonize(
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

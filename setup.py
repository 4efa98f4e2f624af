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

GMP_PROBE = """
#include <gmp.h>
int main(void) { mpz_t x; mpz_init(x); mpz_fib_ui(x, 10); mpz_clear(x); return 0; }
"""


def _gmp_found(compiler) -> bool:
    """Whether a program using GMP (FASTFIB_GMP_PREFIX's, else the system's) compiles and links."""
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "probe.c")
        with open(source, "w") as handle:
            handle.write(GMP_PROBE)
        try:
            objects = compiler.compile([source], output_dir=tmp, include_dirs=GMP_DIRS.get("include_dirs"))
            compiler.link_executable(
                objects, "probe", output_dir=tmp, libraries=["gmp"], library_dirs=GMP_DIRS.get("library_dirs")
            )
        except Exception:  # CompileError, LinkError: GMP is not usable
            return False
    return True


class BuildExt(build_ext):
    """build_ext that drops the optional gmp kernel when GMP is missing."""

    def build_extensions(self):
        wanted = os.environ.get("FASTFIB_GMP", "auto")
        if wanted == "0" or not _gmp_found(self.compiler):
            if wanted == "1":
                where = f" in FASTFIB_GMP_PREFIX={GMP_PREFIX}" if GMP_PREFIX else ""
                raise SystemExit(f"FASTFIB_GMP=1 but GMP was not found{where}: install libgmp-dev (Debian) or gmp")
            print("fastfib: building without the gmp kernel (GMP not found or FASTFIB_GMP=0)")
            self.extensions = [ext for ext in self.extensions if ext.name != "fastfib._gmp"]
        elif GMP_PREFIX:
            print(f"fastfib: the gmp kernel links the GMP in {GMP_PREFIX}")
        super().build_extensions()


setup(
    # csrc/ stays at the top of the checkout but ships inside the package as
    # fastfib/csrc, so `fastfib source` shows a wheel user the C sources too.
    # fastfib/report/templates holds data only (fastfib report's page): a package for setuptools all the same.
    packages=find_packages("src") + ["fastfib.csrc", "fastfib.report.templates"],
    package_dir={"": "src", "fastfib.csrc": "csrc"},
    cmdclass={"build_ext": BuildExt},
    ext_modules=cythonize(
        [kernels, gmp],
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

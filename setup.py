"""Build of fastfib's one compiled module; all other metadata is in pyproject.toml."""

import os
import shlex
import sysconfig

import Cython
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

EXTRA_COMPILE_ARGS = ["-O2"] if os.name != "nt" else ["/O2"]


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

extension = Extension(
    "fastfib._kernels",
    sources=["src/fastfib/_kernels.pyx", "csrc/fib.c"],
    include_dirs=["csrc"],
    extra_compile_args=EXTRA_COMPILE_ARGS,
    define_macros=[
        ("FASTFIB_CYTHON_VERSION", _c_string(Cython.__version__)),
        ("FASTFIB_CFLAGS", _c_string(cflags)),
    ],
)

setup(
    # csrc/ stays at the top of the checkout but ships inside the package as
    # fastfib/csrc, so `fastfib source` shows a wheel user the C sources too.
    packages=find_packages("src") + ["fastfib.csrc"],
    package_dir={"": "src", "fastfib.csrc": "csrc"},
    ext_modules=cythonize(
        [extension],
        compiler_directives={
            "language_level": 3,
            "embedsignature": True,
            # A promise, not a mechanism: this module keeps no shared mutable C
            # state, so free-threaded CPython may keep the GIL disabled.
            "freethreading_compatible": True,
        },
    ),
)

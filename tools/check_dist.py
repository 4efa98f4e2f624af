"""What a fastfib wheel and sdist must and must not contain.

A wheel holds the compiled module(s), the Python files, ``py.typed``, a ``.pyi``
stub beside each compiled module, and the sources a reader studies: the
``.pyx``/``.pxd`` files and the C kernels as ``fastfib/csrc``. It holds no
build artefact (no ``.o``, no ``.c`` that Cython generated) and no cache.
An sdist holds everything needed to build and test, and nothing built.

    python tools/check_dist.py dist/fastfib-*.whl dist/fastfib-*.tar.gz

Used by ``make wheels`` (tools/build_wheels.py) and tests/test_dist_contents.py.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

__all__ = ["check", "check_sdist", "check_wheel", "wheel_names"]

# Files a reader studies, which every wheel must carry (C under fastfib/csrc).
WHEEL_REQUIRED = (
    "fastfib/py.typed",
    "fastfib/__init__.py",
    "fastfib/cli/__init__.py",
    "fastfib/_version.py",
    "fastfib/_kernels.pyx",
    "fastfib/_kernels.pyi",
    "fastfib/_cfib.pxd",
    "fastfib/csrc/fib.c",
    "fastfib/csrc/fib.h",
    "fastfib/csrc/build_info.h",
    "fastfib/bindings/capi.c",  # the same kernels through the C API, pybind11, nanobind and PyO3
    "fastfib/bindings/pybind11.cpp",
    "fastfib/bindings/nanobind.cpp",
    "fastfib/bindings/pyo3/src/lib.rs",
    "fastfib/benchmarks/__init__.py",  # the benchmark suite and its pytest plugin ship too
    "fastfib/benchmarks/conftest.py",
    "fastfib/benchmarks/plugin.py",
    "fastfib/benchmarks/test_scaling.py",
    "fastfib/report/templates/report.html.j2",  # fastfib report's page and its styles
    "fastfib/report/templates/report.css",
)
SDIST_REQUIRED = (
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "PKG-INFO",
    "csrc/fib.c",
    "csrc/fib.h",
    "bindings/capi.c",
    "bindings/pyo3/Cargo.toml",
    "bindings/pyo3/Cargo.lock",
    "src/fastfib/_kernels.pyx",
    "src/fastfib/_kernels.pyi",
    "src/fastfib/_cfib.pxd",
    "src/fastfib/py.typed",
    "src/fastfib/report/templates/report.html.j2",
    "src/fastfib/report/templates/report.css",
    "tests/conftest.py",
)
# The compiled modules of bindings/ (no .pyx): each ships its binding source instead, under fastfib/bindings.
BINDING_SOURCES = {
    "_capi": "fastfib/bindings/capi.c",
    "_pybind11": "fastfib/bindings/pybind11.cpp",
    "_nanobind": "fastfib/bindings/nanobind.cpp",
    "_pyo3": "fastfib/bindings/pyo3/src/lib.rs",
}
# Never in either: compiler output, caches, editor and VCS debris.
FORBIDDEN = ("*.o", "*.obj", "*.pyc", "*.pyo", "*.html", "*/__pycache__/*", "*/.pytest_cache/*",
             "*/.hypothesis/*", "*/.benchmarks/*", "*/.git/*", "*.orig", "*.rej", "*~")
COMPILED = ("*.so", "*.pyd")


def wheel_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return [name for name in archive.namelist() if not name.endswith("/")]


def _sdist_names(path: Path) -> list[str]:
    with tarfile.open(path) as archive:
        # Drop the leading "fastfib-VERSION/" every member shares.
        return [str(PurePosixPath(*PurePosixPath(m.name).parts[1:])) for m in archive.getmembers() if m.isfile()]


def _forbidden(names: list[str]) -> list[str]:
    return [f"forbidden: {name}" for name in names
            if any(fnmatch(name, pattern) or fnmatch("/" + name, pattern) for pattern in FORBIDDEN)]


def check_wheel(path: Path, source_root: Path | None = None) -> list[str]:
    """Problems with the wheel at ``path``; empty when it is right.

    With ``source_root`` (a checkout or unpacked sdist), every ``.py``, ``.pyx``,
    ``.pxd`` and ``.pyi`` under its src/fastfib, every template (``.j2``, ``.css``)
    and every csrc/*.c and *.h, must be in the wheel too.
    """
    names = wheel_names(path)
    present = set(names)
    problems = [f"missing: {name}" for name in WHEEL_REQUIRED if name not in present]
    problems += _forbidden(names)
    # The only top-level entries: the package, its metadata, and the shared
    # libraries auditwheel copies in (fastfib.libs/).
    for name in names:
        top = name.split("/", 1)[0]
        if top not in ("fastfib", "fastfib.libs") and not top.endswith(".dist-info") or ".egg-info" in name:
            problems.append(f"outside the package: {name}")
    # C files: only the hand-written kernels under fastfib/csrc and the bindings under
    # fastfib/bindings; any other .c (or .cpp) is what Cython generated from a .pyx.
    problems += [f"generated C source: {name}" for name in names
                 if name.endswith((".c", ".cpp")) and not name.startswith(("fastfib/csrc/", "fastfib/bindings/"))]
    modules = [name for name in names if name.startswith("fastfib/") and any(fnmatch(name, p) for p in COMPILED)]
    if not any(PurePosixPath(m).name.startswith("_kernels.") for m in modules):
        problems.append("missing: the compiled module fastfib/_kernels.*.so (or .pyd)")
    for module in modules:
        stem = PurePosixPath(module).name.split(".", 1)[0]  # _kernels.cpython-311-x86_64-linux-gnu.so
        folder = str(PurePosixPath(module).parent)
        wanted = [f"{folder}/{stem}.pyi"]
        wanted.append(BINDING_SOURCES[stem] if stem in BINDING_SOURCES else f"{folder}/{stem}.pyx")
        problems += [f"missing: {name} for the compiled {module}" for name in wanted if name not in present]
    if source_root is not None:
        package = source_root / "src" / "fastfib"
        shipped = ("*.py", "*.pyx", "*.pxd", "*.pyi", "*.j2", "*.css")
        expected = [f"fastfib/{p.relative_to(package).as_posix()}" for pattern in shipped
                    for p in package.rglob(pattern) if "__pycache__" not in p.parts]
        expected += [f"fastfib/csrc/{p.name}" for pattern in ("*.c", "*.h")
                     for p in (source_root / "csrc").glob(pattern)]
        bindings = source_root / "bindings"
        expected += [f"fastfib/bindings/{p.relative_to(bindings).as_posix()}"
                     for pattern in ("*.c", "*.cpp", "*.rs", "Cargo.toml", "Cargo.lock")
                     for p in bindings.rglob(pattern) if "target" not in p.relative_to(bindings).parts]
        problems += [f"missing (in the source tree): {name}" for name in sorted(expected) if name not in present]
    return problems


def check_sdist(path: Path) -> list[str]:
    """Problems with the sdist at ``path``; empty when it is right."""
    names = _sdist_names(path)
    present = set(names)
    problems = [f"missing: {name}" for name in SDIST_REQUIRED if name not in present]
    problems += _forbidden(names)
    problems += [f"built file: {name}" for name in names if any(fnmatch(name, p) for p in COMPILED)]
    problems += [f"generated C source: {name}" for name in names
                 if name.startswith("src/") and name.endswith((".c", ".cpp"))]
    return problems


def check(path: Path, source_root: Path | None = None) -> list[str]:
    """``check_wheel`` or ``check_sdist``, by the file's name."""
    return check_wheel(path, source_root) if path.suffix == ".whl" else check_sdist(path)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    failed = 0
    for arg in argv:
        problems = check(Path(arg))
        print(f"{Path(arg).name}: " + ("ok" if not problems else f"{len(problems)} problem(s)"))
        for problem in problems:
            print(f"  {problem}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

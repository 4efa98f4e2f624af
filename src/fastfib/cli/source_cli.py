"""``fastfib source``: where the compiled extension's sources lie on disk.

A wheel user never sees a checkout, yet the lesson of this lab is in the
sources: the C kernels, the ``.pxd`` that mirrors their header for Cython, and
the ``.pyx`` that calls them holding the GIL or inside ``with nogil:`` -- and
the same kernels bound through the C API, pybind11, nanobind and PyO3. Every
wheel ships them inside the package (the C files as ``fastfib/csrc``, the
bindings as ``fastfib/bindings``); in a source checkout (an editable install)
they are found in its ``csrc/``, ``bindings/`` and ``src/fastfib/``.
``--side-by-side`` prints, for every technology, the lines that release the GIL
and that declare free-threading and subinterpreter support, read from the files.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import fastfib
from fastfib import tables, technologies
from fastfib.command import Command, UsageError, print_json

__all__ = ["SOURCES", "SourceCommand", "SourceFile", "c_source_dir", "compiled_module", "locate", "side_by_side"]

PACKAGE_DIR = Path(fastfib.__file__).resolve().parent


@dataclass(frozen=True)
class SourceFile:
    """One file a reader studies, in the order the data flows (C first)."""

    name: str  # its path relative to where it lives: csrc/ for C, the package otherwise
    role: str  # what a reader finds in it, in a few words

    @property
    def is_c(self) -> bool:
        return self.name.startswith("csrc/")

    @property
    def is_binding(self) -> bool:
        return self.name.startswith("bindings/")


SOURCES: tuple[SourceFile, ...] = (
    SourceFile("csrc/fib.h", "the C contract: status codes and kernel signatures"),
    SourceFile("csrc/fib.c", "the C kernels: plain C99, no Python.h"),
    SourceFile("csrc/build_info.h", "defaults for the build facts `fastfib info` shows"),
    SourceFile("_cfib.pxd", "fib.h mirrored for Cython (`cdef extern ... nogil`)"),
    SourceFile("_kernels.pyx", "the wrappers: validate, call C with or without the GIL, raise"),
    SourceFile("_kernels.pyi", "type stubs for the compiled module"),
    SourceFile("_prange.pyx", "one call on many cores: a batch split across OpenMP threads by prange"),
    SourceFile("bindings/capi.c", "the same kernels through the plain C API: Py_BEGIN_ALLOW_THREADS, module slots"),
    SourceFile("bindings/pybind11.cpp", "the same kernels through pybind11: py::gil_scoped_release"),
    SourceFile("bindings/nanobind.cpp", "the same kernels through nanobind: nb::gil_scoped_release"),
    SourceFile("bindings/nanobind_lib.cpp", "nanobind's own library, compiled into its module"),
    SourceFile("bindings/pyo3/src/lib.rs", "the same kernels from Rust through PyO3: py.detach"),
    SourceFile("bindings/pyo3/build.rs", "compiles csrc/fib.c into the Rust module"),
    SourceFile("bindings/pyo3/Cargo.toml", "the Rust crate: PyO3 0.28, a cdylib"),
)


def c_source_dir() -> Path | None:
    """The directory holding fib.c and fib.h, or None if neither place has it.

    A wheel or sdist install ships it as ``fastfib/csrc``; an editable install
    maps ``fastfib.csrc`` to the checkout's ``csrc/``, two levels above
    ``src/fastfib``.
    """
    for candidate in (PACKAGE_DIR / "csrc", PACKAGE_DIR.parents[1] / "csrc"):
        if (candidate / "fib.c").is_file():
            return candidate
    return None


def _binding_dir() -> Path | None:
    """bindings/: ``fastfib/bindings`` in a wheel, the checkout's ``bindings/`` in an editable install."""
    for candidate in (PACKAGE_DIR / "bindings", PACKAGE_DIR.parents[1] / "bindings"):
        if (candidate / "capi.c").is_file():
            return candidate
    return None


def locate(source: SourceFile) -> Path | None:
    """Where ``source`` is on this machine, or None when it is missing."""
    if source.is_c:
        directory = c_source_dir()
        path = None if directory is None else directory / source.name.removeprefix("csrc/")
    elif source.is_binding:
        directory = _binding_dir()
        path = None if directory is None else directory / source.name.removeprefix("bindings/")
    else:
        path = PACKAGE_DIR / source.name
    return path if path is not None and path.is_file() else None


def compiled_module() -> Path | None:
    """The compiled ``fastfib._kernels`` (.so / .pyd) that would be imported, if any."""
    spec = importlib.util.find_spec("fastfib._kernels")
    if spec is None or spec.origin is None or spec.origin.endswith((".pyx", ".py")):
        return None
    return Path(spec.origin)


def _marker_file(name: str) -> Path | None:
    if name == "setup.py":  # build configuration: in a checkout or sdist, not in a wheel
        path = PACKAGE_DIR.parents[1] / "setup.py"
        return path if path.is_file() else None
    return locate(_find(name))


def side_by_side() -> list[str]:
    """For every technology, the lines of its sources that release the GIL and that declare
    free-threading (and own-GIL subinterpreters), as ``file:line: text``, read from the files."""
    out = []
    for tech in technologies.TECHNOLOGIES:
        out.append(f"{tech.title} ({tech.family}-gil / {tech.family}-nogil, {tech.module})")
        for marker in tech.markers:
            path = _marker_file(marker.file)
            lines = [] if path is None else path.read_text(encoding="utf-8").splitlines()
            number = next((i for i, line in enumerate(lines, 1) if line.strip().startswith(marker.text)), None)
            shown = (f"{marker.file}:{number}: {lines[number - 1].strip()}" if number is not None
                     else f"{marker.file}: {marker.text}  (not in this install)")
            out.append(f"  {marker.what:<52} {shown}")
        out.append(f"  {'own-GIL subinterpreters':<52} {'yes: ' if tech.own_gil else 'no: '}{tech.subinterpreters}")
    return out


def _find(name: str) -> SourceFile:
    for source in SOURCES:
        if name in (source.name, Path(source.name).name):
            return source
    known = ", ".join(Path(source.name).name for source in SOURCES)
    raise UsageError(f"no source file named {name!r}; choose one of: {known}")


class SourceCommand(Command):
    name = "source"
    help = "show where the extension's C and Cython sources lie on disk, or print one"
    description = (
        "List the files the compiled extension is built from -- the C kernels, the "
        ".pxd that mirrors their header and the .pyx that calls them holding or "
        "releasing the GIL -- with the path of each on this machine. Wheels ship "
        "them inside the package, so this works without a checkout. Give a FILE "
        "to print it. Exit status 1 if a file is missing."
    )
    epilog = (
        "examples:\n  fastfib source\n  fastfib source _kernels.pyx | less\n"
        "  fastfib source fib.c\n  fastfib source lib.rs\n  fastfib source --side-by-side\n  fastfib source --json"
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "file", metavar="FILE", nargs="?",
            help="print this file, e.g. fib.c or _kernels.pyx (default: list them all)",
        )
        parser.add_argument("--json", action="store_true", help="print the list as JSON")
        parser.add_argument("--side-by-side", action="store_true",
                            help="for every technology (Cython, C API, pybind11, nanobind, PyO3): the lines that "
                                 "release the GIL and that declare free-threading and subinterpreter support")

    def run(self, args: argparse.Namespace) -> int:
        if args.side_by_side:
            print("\n".join(side_by_side()))
            return 0
        if args.file is not None:
            return self._print_file(_find(args.file))
        found = [(source, locate(source)) for source in SOURCES]
        module = compiled_module()
        if args.json:
            print_json({
                "fastfib_version": fastfib.__version__,
                "package_dir": str(PACKAGE_DIR),
                "compiled_module": None if module is None else str(module),
                "sources": [
                    {"name": source.name, "role": source.role, "path": None if path is None else str(path)}
                    for source, path in found
                ],
            })
        else:
            self._print_table(found, module)
        return 0 if all(path is not None for _, path in found) else 1

    @staticmethod
    def _print_table(found: list[tuple[SourceFile, Path | None]], module: Path | None) -> None:
        print(f"fastfib {fastfib.__version__}: the extension's sources, in the order the data flows")
        lines = []
        for source, path in found:
            where = path if path is not None else "MISSING from this install"
            lines += [(source.name, source.role), ("", f"-> {where}")]
        print(tables.columns(lines, left=2, indent="  "))
        print(f"compiled module: {module if module is not None else 'not built'}")
        print("Print one with 'fastfib source FILE', e.g. 'fastfib source _kernels.pyx'.")

    @staticmethod
    def _print_file(source: SourceFile) -> int:
        path = locate(source)
        if path is None:
            print(f"fastfib: error: {source.name} is missing from this install", file=sys.stderr)
            return 1
        sys.stdout.write(path.read_text(encoding="utf-8"))
        return 0

"""Who turned the GIL back on: every module whose import re-enabled it, and the import chain
that brought it in.

A free-threaded CPython (3.13t, 3.14t) re-enables the GIL for the whole process when it loads
an extension module that does not declare free-threading support (no ``Py_mod_gil`` slot, no
``PyUnstable_Module_SetGIL``), with one RuntimeWarning naming that module only: the *first*
one, and not who imported it. Once the GIL is on, later such modules change nothing and say
nothing. So the imports run in a fresh interpreter with two instruments:

* the **import chain**: the function of importlib that loads every module
  (``_bootstrap._load_unlocked``) is wrapped, so a stack of the modules being loaded
  says, for each module, which module's import brought it in
  (``<setup> -> mypkg -> mypkg._speedups``);
* the **declaration** each extension module made, read from the module object itself
  (``md_gil``, the last field of ``PyModuleObject`` on a free-threaded build, which
  ``_PyImport_CheckGILForModule`` reads to decide). It is checked against modules whose
  answer is known (``_io`` declares support, a module made in Python does not) before
  it is trusted; where it cannot be read, the GIL's state after each load and the
  RuntimeWarning still name the first module (``how`` = "first only").

Nothing here imports the modules in this process: :func:`find` starts ``python`` (this
one by default) with ``PYTHON_GIL`` unset, so nothing forces the GIL either way.

>>> Reenabler("tiny", ("<setup>", "pkg", "tiny"), "/x/tiny.so").describe()
'tiny (import chain: <setup> -> pkg -> tiny; /x/tiny.so)'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ImportCheck", "Reenabler", "find", "reenabling_modules"]

# The script the fresh interpreter runs: argv[1] the JSON of what to do, argv[2] where to write
# what it found. Only the standard library is imported before the hook is installed.
_CHILD = r'''
import ctypes, importlib, importlib.machinery, json, sys, traceback, types, warnings
plan = json.load(open(sys.argv[1]))
sys.path[:0] = [p for p in plan["path"] if p not in sys.path]
OFFSET = types.ModuleType.__basicsize__ - ctypes.sizeof(ctypes.c_void_p)
def md_gil(module):
    return ctypes.c_void_p.from_address(id(module) + OFFSET).value or 0
import _io, sysconfig
free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
readable = free_threaded and md_gil(_io) == 1 and md_gil(types.ModuleType("probe")) == 0
bootstrap = importlib._bootstrap
original = bootstrap._load_unlocked
stack = []
found = []
SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)
def gil_on():
    return bool(getattr(sys, "_is_gil_enabled", lambda: True)())
def load(spec):
    before = gil_on()
    stack.append(spec.name)
    try:
        module = original(spec)
    finally:
        stack.pop()
    origin = getattr(spec, "origin", None) or ""
    if isinstance(spec.loader, importlib.machinery.ExtensionFileLoader) or origin.endswith(SUFFIXES):
        declared = (md_gil(module) == 1) if readable and isinstance(module, types.ModuleType) else None
        if not isinstance(module, types.ModuleType):
            declared = False
        found.append({"name": spec.name, "chain": stack + [spec.name], "origin": origin, "declared": declared,
                      "flipped": gil_on() and not before})
    return module
bootstrap._load_unlocked = load
error = None
start = gil_on()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", RuntimeWarning)
    try:
        for name in plan["modules"]:
            stack[:] = []
            importlib.import_module(name)
        namespace = {"__name__": "__fastfib_import_check__"}
        for text in plan["setup"]:
            stack[:] = ["<setup>"]
            exec(compile(text, "<setup>", "exec"), namespace)
        if plan["stmt"]:
            stack[:] = ["<stmt>"]
            exec(compile(plan["stmt"], "<stmt>", "exec"), namespace)
    except BaseException:
        error = traceback.format_exc()
bootstrap._load_unlocked = original
json.dump({"found": found, "readable": readable, "gil_at_start": start, "gil_at_end": gil_on(),
           "free_threaded": free_threaded,
           "version": sys.version.split()[0], "error": error,
           "warnings": [str(w.message) for w in caught if "global interpreter lock" in str(w.message).lower()]},
          open(sys.argv[2], "w"))
'''


@dataclass(frozen=True)
class Reenabler:
    """One module whose import re-enabled the GIL (or would have, had an earlier one not)."""

    name: str  # "mypkg._speedups"
    chain: tuple[str, ...]  # who brought it in, outermost first, ending with the module itself
    origin: str  # its file

    def describe(self) -> str:
        return f"{self.name} (import chain: {' -> '.join(self.chain)}" + (f"; {self.origin})" if self.origin else ")")


@dataclass
class ImportCheck:
    """What importing some modules (or running SETUP and STMT) in a fresh interpreter showed."""

    free_threaded: bool  # the interpreter is a free-threaded build
    reenablers: list[Reenabler] = field(default_factory=list)
    gil_at_end: bool = False  # the GIL was on once everything was imported
    how: str = "declarations"  # "declarations": every module found; "first only": the one that flipped it
    extension_modules: list[str] = field(default_factory=list)  # every extension module loaded, in order
    warnings: list[str] = field(default_factory=list)  # CPython's RuntimeWarning(s), as it wrote them
    error: str | None = None  # the traceback, when an import (or SETUP, or STMT) raised
    python: str = ""
    version: str = ""

    @property
    def reenabled(self) -> bool:
        return bool(self.reenablers) or (self.free_threaded and self.gil_at_end)

    def lines(self) -> list[str]:
        """The finding in plain words, one line per module."""
        if not self.free_threaded:
            return [f"{self.python} is not a free-threaded build: it always has a GIL"]
        if not self.reenabled:
            return [f"the GIL stayed disabled: {len(self.extension_modules)} extension module(s) loaded, "
                    "every one declares free-threading support"]
        found = [f"the GIL was re-enabled by importing {r.describe()}" for r in self.reenablers]
        if not found:
            found = ["the GIL was re-enabled, but by no module this check could name"]
        if self.how == "first only" and len(self.reenablers) == 1:
            found.append("(only the first such module can be named on this interpreter: later ones change nothing)")
        return found

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reenablers"] = [asdict(r) | {"chain": list(r.chain)} for r in self.reenablers]
        return data


def find(modules: Sequence[str] = (), *, setup: Sequence[str] = (), stmt: str = "", python: str | None = None,
         path: Sequence[str] | None = None, timeout_s: float = 120.0) -> ImportCheck:
    """Import ``modules``, then run ``setup`` and ``stmt`` (source), in a fresh ``python``
    (default: this one) with ``PYTHON_GIL`` unset and this process's ``sys.path`` (or
    ``path``) in front of its own; which modules re-enabled the GIL, and through whom."""
    python = python or sys.executable
    plan = {"modules": list(modules), "setup": list(setup), "stmt": stmt,
            "path": [p for p in (sys.path if path is None else path) if p]}
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHON_GIL", "PYTHONWARNINGS")}
    with tempfile.TemporaryDirectory(prefix="fastfib-gil-") as folder:
        plan_path, out_path = os.path.join(folder, "plan.json"), os.path.join(folder, "found.json")
        with open(plan_path, "w", encoding="utf-8") as handle:
            json.dump(plan, handle)
        done = subprocess.run([python, "-c", _CHILD, plan_path, out_path], env=env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
        if not os.path.exists(out_path):
            raise RuntimeError(f"{python} could not run the import check (exit {done.returncode}): "
                               f"{done.stderr.strip()[-2000:]}")
        with open(out_path, encoding="utf-8") as handle:
            raw = json.load(handle)
    return _read(raw, python)


def _read(raw: dict[str, Any], python: str) -> ImportCheck:
    check = ImportCheck(free_threaded=raw["free_threaded"], gil_at_end=raw["gil_at_end"],
                        extension_modules=[one["name"] for one in raw["found"]], warnings=raw["warnings"],
                        error=raw["error"], python=python, version=raw["version"])
    if not check.free_threaded:
        return check
    if raw["readable"]:
        chosen = [one for one in raw["found"] if one["declared"] is False]
    else:
        check.how = "first only"
        chosen = [one for one in raw["found"] if one["flipped"]][:1]
    check.reenablers = [Reenabler(one["name"], tuple(one["chain"]), one["origin"]) for one in chosen]
    return check


def reenabling_modules(*modules: str, python: str | None = None, path: Sequence[str] | None = None) -> list[Reenabler]:
    """Every module whose import re-enables the GIL when ``modules`` are imported, in that order,
    in a fresh free-threaded interpreter (empty on a GIL build, where there is nothing to re-enable)."""
    return find(modules, python=python, path=path).reenablers

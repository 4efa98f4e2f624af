"""Two tiny extension modules built in a test's tmp_path with the running interpreter's own
sysconfig (one C file each, no network): ``tiny_gil`` declares nothing (single-phase init, no
``Py_mod_gil`` slot), so importing it on a free-threaded build re-enables the GIL; ``tiny_nogil``
declares support (a ``Py_mod_gil`` slot of ``Py_MOD_GIL_NOT_USED``). And ``thirdparty``, a
pure-Python package that imports ``tiny_gil``: a module that re-enables the GIL through another.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sysconfig
from pathlib import Path

GIL_SOURCE = r"""
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, "42"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "tiny_gil", NULL, -1, methods};
PyMODINIT_FUNC PyInit_tiny_gil(void) { return PyModule_Create(&def); }
"""

NOGIL_SOURCE = r"""
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(43); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, "43"}, {NULL, NULL, 0, NULL}};
static PyModuleDef_Slot slots[] = {
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "tiny_nogil", NULL, 0, methods, slots};
PyMODINIT_FUNC PyInit_tiny_nogil(void) { return PyModuleDef_Init(&def); }
"""


def compiler() -> list[str]:
    return shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")


def missing_compiler() -> str | None:
    """Why the tiny extensions cannot be built here, or None."""
    if shutil.which(compiler()[0]) is None and shutil.which("gcc") is None:
        return f"needs a C compiler to build the tiny test extensions ({compiler()[0]} not found; set CC=...)"
    if not Path(sysconfig.get_paths()["include"], "Python.h").exists():
        return "needs the interpreter's C headers (Python.h) to build the tiny test extensions"
    return None


def build(folder: Path) -> Path:
    """tiny_gil, tiny_nogil and the package thirdparty (``import tiny_gil``) in ``folder``."""
    cc = compiler() if shutil.which(compiler()[0]) else ["gcc"]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    for name, source in (("tiny_gil", GIL_SOURCE), ("tiny_nogil", NOGIL_SOURCE)):
        c_file = folder / f"{name}.c"
        c_file.write_text(source, encoding="utf-8")
        subprocess.run([*cc, "-shared", "-fPIC", "-I", sysconfig.get_paths()["include"], str(c_file),
                        "-o", str(folder / f"{name}{suffix}")], check=True, capture_output=True)
    package = folder / "thirdparty"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("from thirdparty import core\n", encoding="utf-8")
    (package / "core.py").write_text("import tiny_gil\n\nANSWER = tiny_gil.answer()\n", encoding="utf-8")
    return folder

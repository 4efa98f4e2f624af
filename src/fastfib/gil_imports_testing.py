"""``assert_gil_stays_disabled``: a free-threaded CI job's check that importing a project leaves
the GIL off, and names whoever turned it back on (re-exported by :mod:`fastfib.testing`).

    from fastfib.testing import assert_gil_stays_disabled

    def test_import_keeps_the_gil_off():
        assert_gil_stays_disabled("mypkg", "mypkg.fast")

The modules are imported in a fresh interpreter (this one's executable and ``sys.path``, with
``PYTHON_GIL`` unset), never in the test's own process, whose GIL would stay on for the rest of
the run. The failure lists every module whose import re-enabled the GIL and the import chain
that brought it in (:mod:`fastfib.measure.gil_reenabled`). On a build with a GIL there is
nothing to re-enable: the check skips (``unittest.SkipTest``) and says so.
"""

from __future__ import annotations

import unittest
from collections.abc import Sequence

from fastfib import gil
from fastfib.measure.gil_reenabled import Reenabler, find

__all__ = ["assert_gil_stays_disabled", "gil_reenabling_modules"]


def _skip_unless_free_threaded(python: str | None) -> None:
    if python is None and not gil.free_threaded_build():
        raise unittest.SkipTest(f"{gil.interpreter_label()} is not a free-threaded build: it always has a GIL, "
                                "so no import can re-enable it (run this check with python3.13t / 3.14t)")


def gil_reenabling_modules(*modules: str, python: str | None = None,
                           path: Sequence[str] | None = None) -> list[Reenabler]:
    """Every module whose import re-enables the GIL when ``modules`` are imported in that order in
    a fresh interpreter, each with its import chain (``Reenabler.chain``, outermost first). Empty
    when the GIL stays off; ``unittest.SkipTest`` on a build with a GIL."""
    _skip_unless_free_threaded(python)
    check = find(modules, python=python, path=path)
    if check.error:
        raise ImportError(f"importing {', '.join(modules)} in a fresh interpreter failed:\n{check.error}")
    return check.reenablers


def assert_gil_stays_disabled(*modules: str, python: str | None = None, path: Sequence[str] | None = None) -> None:
    """Fail unless importing ``modules`` (in this order, in a fresh interpreter) leaves the GIL
    disabled; the failure names each module that re-enabled it and its import chain."""
    _skip_unless_free_threaded(python)
    check = find(modules, python=python, path=path)
    if check.error:
        raise ImportError(f"importing {', '.join(modules)} in a fresh interpreter failed:\n{check.error}")
    if not check.free_threaded:
        raise unittest.SkipTest(f"{check.python} is not a free-threaded build: it always has a GIL")
    if check.reenabled:
        raise AssertionError(
            f"importing {', '.join(modules)} re-enabled the GIL:\n" + "\n".join(f"  {line}" for line in check.lines())
            + "\nEach such extension module must declare free-threading support (a Py_mod_gil slot of "
              "Py_MOD_GIL_NOT_USED, PyUnstable_Module_SetGIL, Cython's freethreading_compatible=True, "
              "PyO3's gil_used = false) -- once it is safe without the GIL.")

"""Whether this interpreter has a GIL right now, and how to say so.

The lowest layer every other one may import (it imports nothing of fastfib).
A fact that depends on the build -- "this kernel holds the GIL" -- is true on a
default CPython and false on a free-threaded one with the GIL disabled, where
the same code runs in parallel. So such facts are worded here, at run time,
from what the running interpreter says:

* ``sysconfig.get_config_var("Py_GIL_DISABLED")``: the build (free-threaded, "3.13t");
* ``sys._is_gil_enabled()`` (3.13+): the state now -- a free-threaded build turns
  the GIL back on under ``PYTHON_GIL=1``, or when it imports an extension module
  that does not declare free-threading support.

>>> gil_phrase("held") in ("holds the GIL while it computes",
...                        "would hold the GIL; there is none here, so it runs in parallel")
True
"""

from __future__ import annotations

import platform
import sys
import sysconfig

__all__ = ["build_label", "free_threaded_build", "gil_enabled", "gil_phrase", "interpreter_label"]


def free_threaded_build() -> bool:
    """True for a free-threaded (PEP 703, "3.13t") interpreter build."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def gil_enabled() -> bool:
    """Whether the GIL is enabled right now (always True before 3.13)."""
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())


def build_label(free_threaded: bool, enabled: bool) -> str:
    """'default (GIL) build', 'free-threaded build, GIL disabled', 'free-threaded build, GIL enabled'."""
    if not free_threaded:
        return "default (GIL) build"
    return f"free-threaded build, GIL {'enabled' if enabled else 'disabled'}"


def interpreter_label() -> str:
    """This interpreter in a few words: 'CPython 3.13.5 (free-threaded build, GIL disabled)'."""
    return (f"{platform.python_implementation()} {platform.python_version()} "
            f"({build_label(free_threaded_build(), gil_enabled())})")


# What code that holds or releases the GIL does, worded for each state of the interpreter.
_WITH_GIL = {
    "held": "holds the GIL while it computes",
    "released": "releases the GIL while it computes",
    "partly released": "releases the GIL {where} only",
}
_WITHOUT_GIL = {
    "held": "would hold the GIL; there is none here, so it runs in parallel",
    "released": "would release the GIL; there is none here, so it runs in parallel either way",
    "partly released": "would release the GIL {where} only; there is none here, so all of it runs in parallel",
}


def gil_phrase(with_gil: str, where: str = "in part", *, enabled: bool | None = None) -> str:
    """What code that ``with_gil`` ("held", "released", "partly released") the GIL does
    here, on this interpreter (or, given ``enabled``, on one whose GIL is so)."""
    enabled = gil_enabled() if enabled is None else enabled
    return (_WITH_GIL if enabled else _WITHOUT_GIL)[with_gil].format(where=where)

"""Facts about the machine, interpreter and build that every figure depends on.

``fastfib info`` prints them; every measurement records them beside its numbers.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from fastfib import registry
from fastfib._cores import usable_cores  # re-exported: the kernels use it too
from fastfib._version import __version__
from fastfib.gil import free_threaded_build, gil_enabled  # re-exported: the GIL facts live in fastfib.gil

__all__ = ["collect", "cpu_model", "free_threaded_build", "gil_enabled", "gil_reenabled", "usable_cores"]


def gil_reenabled() -> bool:
    """True on a free-threaded build whose GIL is on although nobody asked for it.

    Nobody asked: neither ``PYTHON_GIL=1`` nor ``-X gil=1``. Then some imported
    extension module lacks the free-threading declaration (``Py_mod_gil``) and
    CPython re-enabled the GIL when it loaded, with a RuntimeWarning.
    """
    if not free_threaded_build() or not gil_enabled():
        return False
    return os.environ.get("PYTHON_GIL") != "1" and str(sys._xoptions.get("gil")) != "1"


def cpu_model() -> str:
    """The CPU's marketing name, as the OS reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def git_commit() -> str | None:
    """The commit of a source checkout fastfib runs from, or None (e.g. a wheel)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _numpy_version() -> str | None:
    try:
        import numpy
    except ImportError:
        return None
    return numpy.__version__


def _extension_info() -> dict[str, object]:
    try:
        from fastfib import _kernels
    except ImportError as exc:
        return {"built": False, "error": str(exc)}
    return {"built": True, "path": _kernels.__file__, **_kernels.BUILD_INFO}


def collect() -> dict[str, object]:
    """Everything above, as one JSON-ready dict."""
    return {
        "fastfib_version": __version__,
        "git_commit": git_commit(),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "free_threaded_build": free_threaded_build(),
        "gil_enabled": gil_enabled(),
        "usable_cores": usable_cores(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "numpy_version": _numpy_version(),
        "extension": _extension_info(),
        "kernels": registry.names(),
        "unavailable_kernels": dict(registry.UNAVAILABLE),
    }

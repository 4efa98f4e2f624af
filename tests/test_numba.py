"""The numba kernels: registered when numba imports, explained when it does not.

Their exactness, errors and GIL behaviour are checked by the same parametrised
tests as every other kernel (tests/conftest.py runs each test per registered
kernel); this file checks only what is particular to an optional dependency.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from fastfib import gil, registry

HAVE_NUMBA = importlib.util.find_spec("numba") is not None and "numba-gil" in registry.KERNELS


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed (pip install 'fastfib[numba]')")
def test_numba_kernels_are_registered_with_the_uint64_contract():
    gil, nogil = registry.get("numba-gil"), registry.get("numba-nogil")
    assert (gil.releases_gil, nogil.releases_gil) == (False, True)
    assert gil.max_n == nogil.max_n == 93
    assert nogil.fib(93) == 12200160415121876738 and nogil.burn(20) == 6765
    with pytest.raises(OverflowError, match="kernel 'numba-nogil' computes F\\(n\\) only for n <= 93"):
        nogil.fib(94)
    with pytest.raises(TypeError):
        gil.burn(3.9)  # numba alone would have truncated it to 3


def test_without_numba_the_kernels_are_listed_as_unavailable():
    # A fresh interpreter in which `import numba` fails, as where it is not installed.
    code = ("import sys; sys.modules['numba'] = None\n"
            "from fastfib import registry\n"
            "assert 'numba-nogil' not in registry.KERNELS\n"
            "try:\n"
            "    registry.get('numba-gil')\n"
            "except ValueError as exc:\n"
            "    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    if gil.free_threaded_build():  # the build's reason comes first: installing numba would not help
        assert out.stdout.startswith("unknown kernel 'numba-gil' (numba would re-enable the GIL on this "
                                     "free-threaded build")
    else:
        assert out.stdout.startswith("unknown kernel 'numba-gil' (numba is not installed or cannot be imported")
        assert "pip install 'fastfib[numba]'" in out.stdout

"""Which GMP, not which wrapper: mpz_fib_ui from two GMP shared libraries in one process.

Loads the system's libgmp and the copy gmpy2's wheel bundles (each RTLD_LOCAL, so
neither stands in for the other), calls ``mpz_fib_ui(n)`` from each alternately
(A B A B ... A, fastfib.measure.paired: the same pairing as the benchmark suite's)
through ctypes and prints the median of the per-pair time ratios with its 95 %
interval. No fastfib kernel runs: a ratio far from 1 is the libraries' (release,
build, CPU dispatch). docs/gmp.md shows its output (``make readme``).

Usage: python tools/gmp_libraries.py [N ...]   (default: 100000 1000000 10000000)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import time
from pathlib import Path

from fastfib.measure import paired

PAIRS = 30  # at least; more, within BUDGET_S, until the interval is narrow
BUDGET_S = 3.0


class _Mpz(ctypes.Structure):
    _fields_ = [("alloc", ctypes.c_int), ("size", ctypes.c_int), ("d", ctypes.c_void_p)]


def libraries() -> dict[str, tuple[ctypes.CDLL, str, str]]:
    """name -> (library, its path, its GMP release); raises SystemExit where one is missing."""
    system = ctypes.util.find_library("gmp")
    try:
        import gmpy2
    except ImportError:
        raise SystemExit("needs gmpy2 (pip install gmpy2)") from None
    bundled = sorted((Path(gmpy2.__file__).parent.parent / "gmpy2.libs").glob("libgmp-*.so*"))
    if system is None or not bundled:
        raise SystemExit(f"needs the system's libgmp ({system}) and gmpy2's bundled one ({bundled})")
    found = {}
    for name, path in (("system", system), ("gmpy2's wheel", str(bundled[0]))):
        library = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
        release = ctypes.c_char_p.in_dll(library, "__gmp_version").value or b"?"
        found[name] = (library, path, release.decode())
    return found


def _fib_seconds(library: ctypes.CDLL, n: int) -> float:
    z = _Mpz()
    library.__gmpz_init(ctypes.byref(z))
    start = time.perf_counter()
    library.__gmpz_fib_ui(ctypes.byref(z), ctypes.c_ulong(n))
    took = time.perf_counter() - start
    library.__gmpz_clear(ctypes.byref(z))
    return took


def main(argv: list[str]) -> int:
    sizes = [int(arg) for arg in argv] or [10**5, 10**6, 10**7]
    found = libraries()
    (a, a_path, a_release), (b, b_path, b_release) = found["system"], found["gmpy2's wheel"]
    print(f"system GMP {a_release} ({a_path}) against gmpy2's wheel's GMP {b_release} ({Path(b_path).name})")
    for n in sizes:
        ratio = paired.measure(lambda n=n: _fib_seconds(a, n), lambda n=n: _fib_seconds(b, n),
                               budget_s=BUDGET_S, min_pairs=PAIRS)  # system / bundled
        print(f"  F({n}): system / bundled time {ratio.speedup:.2f}x "
              f"({ratio.coverage:.0%} CI {ratio.low:.2f}-{ratio.high:.2f}x, {ratio.pairs} pairs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
